package tips

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"
)

// checkUniqueKeys walks the JSON text b token by token and fails on the
// first object that holds a key twice (encoding/json would keep the last,
// so two readers of the same message could see different tips). Syntax
// errors are left to the decoder, which reports them with an offset.
func checkUniqueKeys(b []byte) error {
	type frame struct {
		obj       bool
		expectKey bool
		name      string // the key whose value this container is ("" at the top)
		keys      map[string]bool
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var stack []*frame
	valueDone := func() {
		if n := len(stack); n > 0 && stack[n-1].obj {
			stack[n-1].expectKey = true
		}
	}
	pendingKey := ""
	for {
		tok, err := dec.Token()
		if err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return nil // a syntax error: the decoder reports it
		}
		top := (*frame)(nil)
		if n := len(stack); n > 0 {
			top = stack[n-1]
		}
		switch t := tok.(type) {
		case json.Delim:
			switch t {
			case '{', '[':
				if top != nil && top.obj {
					top.expectKey = false
				}
				stack = append(stack, &frame{obj: t == '{', expectKey: t == '{', name: pendingKey, keys: map[string]bool{}})
			default:
				stack = stack[:len(stack)-1]
				valueDone()
			}
			pendingKey = ""
		case string:
			if top != nil && top.obj && top.expectKey {
				if top.keys[t] {
					if top.name == "" {
						return fmt.Errorf("duplicate field %q", truncate(t))
					}
					return fmt.Errorf("duplicate field %q in %q", truncate(t), truncate(top.name))
				}
				top.keys[t] = true
				top.expectKey = false
				pendingKey = t
				continue
			}
			valueDone()
			pendingKey = ""
		default:
			valueDone()
			pendingKey = ""
		}
	}
}

// jsonKind names the kind of a JSON value: "string", "number", "object",
// "array", "bool" or "null".
func jsonKind(raw []byte) string {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return "nothing"
	}
	switch raw[0] {
	case '"':
		return "string"
	case '{':
		return "object"
	case '[':
		return "array"
	case 't', 'f':
		return "bool"
	case 'n':
		return "null"
	}
	return "number"
}

// typeErrText describes an UnmarshalTypeError by the field's name, the
// kind it must be and the kind it was.
func typeErrText(te *json.UnmarshalTypeError) string {
	want := "a string"
	t := te.Type
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t != nil {
		switch t.Kind() {
		case reflect.Struct, reflect.Map:
			want = "an object"
		case reflect.Bool:
			want = "a bool"
		case reflect.Int, reflect.Int64, reflect.Uint64, reflect.Float64:
			want = "a number"
		}
	}
	got := te.Value
	if got == "" {
		got = "something else"
	}
	field := te.Field
	if i := strings.LastIndexByte(field, '.'); i >= 0 {
		field = field[i+1:]
	}
	if field == "" {
		return fmt.Sprintf("the message must be %s, got %s", want, got)
	}
	return fmt.Sprintf("field %q must be %s, got %s", truncate(field), want, got)
}
