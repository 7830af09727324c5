package signal

// inbound is one text frame from a client, parsed once: the rate limit
// picks its budget by the parsed top-level type, and the handler uses the
// same parse. Either wire is set (the cheap path of relayframe.go) or f and
// err are (DecodeFrame).
type inbound struct {
	wire    wireRelay
	scanned bool // wire holds the frame
	f       Frame
	err     error
}

// parseInbound parses b, which must be valid UTF-8.
func parseInbound(b []byte) inbound {
	if w, ok := scanRelay(b); ok {
		return inbound{wire: w, scanned: true}
	}
	f, err := DecodeFrame(b)
	return inbound{f: f, err: err}
}

// isRelay reports whether the frame's top-level type is "relay": the sealed
// fallback path, budgeted in bytes. Only the parsed type counts, never
// bytes that merely look like it inside data or another field; a frame that
// did not parse is not a relay frame.
func (in *inbound) isRelay() bool {
	if in.scanned {
		return string(in.wire.typ) == TypeRelay
	}
	return in.err == nil && in.f.Type == TypeRelay
}
