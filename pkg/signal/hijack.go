package signal

import (
	"bufio"
	"net"
	"net/http"
)

// Buffer sizes for upgraded connections. net/http hands a hijacked
// connection 4 KiB read and 4 KiB write buffers; signaling frames are small
// and larger ones bypass bufio, so smaller buffers cut the cost of an idle
// client nearly in half with no measurable cost in throughput.
const (
	connReadBuf  = 1024
	connWriteBuf = 1024
)

// smallHijacker wraps a ResponseWriter so that the hijacked connection gets
// small bufio buffers (coder/websocket keeps whatever Hijack returns).
// It records what it hands over in *got so that the server can cut the
// connection and park its idle reader on the socket (idlewait.go).
type smallHijacker struct {
	http.ResponseWriter
	hj  http.Hijacker
	got *hijacked
}

// hijacked is what a smallHijacker handed to coder/websocket.
type hijacked struct {
	raw net.Conn
	// br is the read buffer coder/websocket reads every frame through,
	// when it started empty; nil when the client had sent bytes after its
	// upgrade request (coder/websocket then keeps them outside br until
	// its first read, so br being empty would not mean nothing is waiting).
	br *bufio.Reader
}

// Hijack implements http.Hijacker.
func (s smallHijacker) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	c, brw, err := s.hj.Hijack()
	if err != nil {
		return c, brw, err
	}
	s.got.raw = c
	if err := brw.Writer.Flush(); err != nil {
		return c, brw, err
	}
	r := brw.Reader
	if r.Buffered() == 0 {
		r = bufio.NewReaderSize(c, connReadBuf)
		s.got.br = r
	}
	return c, bufio.NewReadWriter(r, bufio.NewWriterSize(c, connWriteBuf)), nil
}

// Flush implements http.Flusher when the underlying writer does.
func (s smallHijacker) Flush() {
	if f, ok := s.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// cutNow closes the client's TCP connection at once. Unlike ws.CloseNow it
// also ends a close handshake in progress (ws.Close waits up to 5 s for
// the client's answer, and CloseNow waits for that Close).
func (c *conn) cutNow() {
	raw := c.raw
	if tc, ok := raw.(interface{ NetConn() net.Conn }); ok {
		raw = tc.NetConn() // no TLS close_notify write that could block
	}
	if raw != nil {
		_ = raw.Close()
	}
	_ = c.ws.CloseNow()
}
