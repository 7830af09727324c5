package seal

import "fmt"

// Abort is sent, in the clear and in place of the next handshake message, by a side that
// refuses a handshake, so that the other side learns why instead of waiting for a timeout:
//
//	{"type":"abort","code":"continuity_failed"}
//
// It is not authenticated (the handshake failed): it only ever ends a handshake, which anyone
// on the path can do anyway. Send it only to a peer whose hello was version 2 or later (a
// version 1 peer would take it for a malformed hello).
type Abort struct {
	// Code is 1..64 bytes of [a-z0-9_]: the refusing side's error code.
	Code string
}

// Marshal encodes a as the JSON abort message.
func (a Abort) Marshal() ([]byte, error) {
	if !validCode(a.Code) {
		return nil, fmt.Errorf("%w: abort code must be 1..64 of [a-z0-9_]", ErrMalformed)
	}
	return marshalFlat("type", "abort", "code", a.Code)
}

// ParseAbort decodes an abort message with the same strictness as ParseHello.
func ParseAbort(b []byte) (Abort, error) {
	var a Abort
	o, err := parseFlat(b, "type", "code")
	if err != nil {
		return a, err
	}
	if t, _, err := o.str("type", true); err != nil {
		return a, err
	} else if t != "abort" {
		return a, fmt.Errorf("%w: type %q is not abort", ErrMalformed, t)
	}
	if a.Code, _, err = o.str("code", true); err != nil {
		return a, err
	}
	if !validCode(a.Code) {
		return Abort{}, fmt.Errorf("%w: abort code must be 1..64 of [a-z0-9_]", ErrMalformed)
	}
	return a, nil
}

func validCode(s string) bool {
	if len(s) == 0 || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '_' {
			return false
		}
	}
	return true
}
