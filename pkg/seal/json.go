package seal

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// MaxMessageSize bounds every handshake and identity JSON message. Larger
// input is rejected before it is parsed.
const MaxMessageSize = 4096

var b64 = base64.RawURLEncoding.Strict()

// encodeB64 encodes b as unpadded base64url (RFC 4648 §5).
func encodeB64(b []byte) string { return b64.EncodeToString(b) }

// decodeB64 decodes canonical unpadded base64url: it rejects padding,
// line breaks, non-zero trailing bits, and anything that does not
// re-encode to the same text.
func decodeB64(s string) ([]byte, error) {
	b, err := b64.DecodeString(s)
	if err != nil || b64.EncodeToString(b) != s {
		return nil, ErrMalformed
	}
	return b, nil
}

// flatObject is a JSON object whose values are all strings or numbers.
type flatObject struct {
	strs map[string]string
	nums map[string]json.Number
}

// parseFlat parses b as one JSON object with unique keys whose values
// are strings or numbers only (no null, bool, array or object), followed
// by nothing but white space. Every key must be in allowed.
func parseFlat(b []byte, allowed ...string) (flatObject, error) {
	obj := flatObject{strs: map[string]string{}, nums: map[string]json.Number{}}
	if len(b) > MaxMessageSize {
		return obj, fmt.Errorf("%w: %d bytes exceeds %d", ErrMalformed, len(b), MaxMessageSize)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	tok, err := dec.Token()
	if err != nil || tok != json.Delim('{') {
		return obj, fmt.Errorf("%w: not a JSON object", ErrMalformed)
	}
	seen := map[string]bool{}
	for dec.More() {
		tok, err = dec.Token()
		if err != nil {
			return obj, fmt.Errorf("%w: bad JSON", ErrMalformed)
		}
		key, ok := tok.(string)
		if !ok {
			return obj, fmt.Errorf("%w: bad JSON", ErrMalformed)
		}
		if seen[key] {
			return obj, fmt.Errorf("%w: duplicate field %q", ErrMalformed, key)
		}
		seen[key] = true
		if !contains(allowed, key) {
			return obj, fmt.Errorf("%w: unknown field %q", ErrMalformed, key)
		}
		tok, err = dec.Token()
		if err != nil {
			return obj, fmt.Errorf("%w: bad JSON", ErrMalformed)
		}
		switch v := tok.(type) {
		case string:
			obj.strs[key] = v
		case json.Number:
			obj.nums[key] = v
		default:
			return obj, fmt.Errorf("%w: field %q has the wrong type", ErrMalformed, key)
		}
	}
	if tok, err = dec.Token(); err != nil || tok != json.Delim('}') {
		return obj, fmt.Errorf("%w: bad JSON", ErrMalformed)
	}
	if _, err = dec.Token(); !errors.Is(err, io.EOF) {
		return obj, fmt.Errorf("%w: trailing data", ErrMalformed)
	}
	return obj, nil
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// str returns the string field key; it fails if the field is absent (and
// required) or is a number.
func (o flatObject) str(key string, required bool) (string, bool, error) {
	if _, isNum := o.nums[key]; isNum {
		return "", false, fmt.Errorf("%w: field %q must be a string", ErrMalformed, key)
	}
	v, ok := o.strs[key]
	if !ok && required {
		return "", false, fmt.Errorf("%w: missing field %q", ErrMalformed, key)
	}
	return v, ok, nil
}

// bytesField decodes an optional base64url field; if present it must
// decode to exactly n bytes.
func (o flatObject) bytesField(key string, n int, required bool) ([]byte, error) {
	s, ok, err := o.str(key, required)
	if err != nil || !ok {
		return nil, err
	}
	b, err := decodeB64(s)
	if err != nil || len(b) != n {
		return nil, fmt.Errorf("%w: field %q must be %d bytes of base64url", ErrMalformed, key, n)
	}
	return b, nil
}

// marshalFlat writes fields (pairs of key, value) as a JSON object in the
// given order; values are strings or ints.
func marshalFlat(fields ...any) ([]byte, error) {
	var buf bytes.Buffer
	buf.WriteByte('{')
	for i := 0; i+1 < len(fields); i += 2 {
		if i > 0 {
			buf.WriteByte(',')
		}
		k, err := json.Marshal(fields[i])
		if err != nil {
			return nil, err
		}
		v, err := json.Marshal(fields[i+1])
		if err != nil {
			return nil, err
		}
		buf.Write(k)
		buf.WriteByte(':')
		buf.Write(v)
	}
	buf.WriteByte('}')
	return buf.Bytes(), nil
}
