package app

import "errors"

// Sentinel errors. Compare with errors.Is.
var (
	// ErrBadOptions is returned by New for invalid options.
	ErrBadOptions = errors.New("app: invalid options")
	// ErrBadChat means a chat body is not ChatBody JSON with UTF-8 text.
	ErrBadChat = errors.New("app: undecodable chat message")
	// ErrBadReceipt means a receipt body is not tips.Receipt JSON.
	ErrBadReceipt = errors.New("app: undecodable receipt")
	// ErrAmbiguousTarget means several peers could take a tip and none is
	// named (ChooseTipTarget).
	ErrAmbiguousTarget = errors.New("ambiguous recipient")
	// ErrNoAccount means an operation needs an account (Options.Signer) or
	// the postbox that comes with one.
	ErrNoAccount = errors.New("app: needs an account")
	// ErrStarted means QueueChat was called after Start.
	ErrStarted = errors.New("app: room already started")
	// ErrPostboxInUse means another process holds the postbox file.
	ErrPostboxInUse = errors.New("app: postbox in use by another vtpeer process")
)

// File transfer errors.
var (
	// ErrBadTransfer means a transfer message is not of the documented shape.
	ErrBadTransfer = errors.New("app: malformed transfer message")
	// ErrBadChunk means a chunk record is malformed or did not authenticate.
	ErrBadChunk = errors.New("app: bad chunk")
	// ErrUnsafePath means a manifest path could escape the receive directory
	// or is not portable (CheckPath).
	ErrUnsafePath = errors.New("app: unsafe file path")
	// ErrTransfer is a transfer that ended without the files in place; a
	// *TransferError says why.
	ErrTransfer = errors.New("app: transfer failed")
	// ErrClosedRoom is returned by calls that wait on a Room after Close.
	ErrClosedRoom = errors.New("app: room closed")
)
