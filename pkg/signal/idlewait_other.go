//go:build !unix

package signal

// canPeek reports whether peekReady works here: not without MSG_PEEK, so
// readers park inside coder/websocket's read as before.
const canPeek = false

func peekReady(uintptr) bool { return true }
