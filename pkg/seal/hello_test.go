package seal

import (
	"errors"
	"strings"
	"testing"
)

func TestParseHelloStrict(t *testing.T) {
	t.Parallel()
	const key = "3p7bfXt9wbTTW2HC7OQ1Nz-DQ8hbeGdNrfx-FG-IK08"
	const fpv = "oB4AlZyz8rF6pCzAWrJ0DiAQTxQpZeZ4OBR5obE6i3Q"
	ok := `{"type":"hello","v":1,"role":"answerer","key":"` + key + `","fp":"` + fpv + `"}`
	if _, err := ParseHello([]byte(ok)); err != nil {
		t.Fatal(err)
	}
	if _, err := ParseHello([]byte(" \n" + ok + "\n")); err != nil {
		t.Fatalf("white space: %v", err)
	}
	bad := map[string]string{
		"unknown field":     `{"type":"hello","v":1,"role":"answerer","key":"` + key + `","x":"y"}`,
		"duplicate field":   `{"type":"hello","v":1,"role":"answerer","key":"` + key + `","key":"` + key + `"}`,
		"wrong type":        `{"type":"reveal","v":1,"role":"answerer","key":"` + key + `"}`,
		"no type":           `{"v":1,"role":"answerer","key":"` + key + `"}`,
		"v as string":       `{"type":"hello","v":"1","role":"answerer","key":"` + key + `"}`,
		"v float":           `{"type":"hello","v":1.0,"role":"answerer","key":"` + key + `"}`,
		"v exponent":        `{"type":"hello","v":1e0,"role":"answerer","key":"` + key + `"}`,
		"v zero":            `{"type":"hello","v":0,"role":"answerer","key":"` + key + `"}`,
		"v negative":        `{"type":"hello","v":-1,"role":"answerer","key":"` + key + `"}`,
		"v huge":            `{"type":"hello","v":256,"role":"answerer","key":"` + key + `"}`,
		"bad role":          `{"type":"hello","v":1,"role":"Answerer","key":"` + key + `"}`,
		"padded base64":     `{"type":"hello","v":1,"role":"answerer","key":"` + key + `="}`,
		"std base64":        `{"type":"hello","v":1,"role":"answerer","key":"` + strings.ReplaceAll(key, "-", "+") + `"}`,
		"short key":         `{"type":"hello","v":1,"role":"answerer","key":"` + key[:40] + `"}`,
		"answerer commit":   `{"type":"hello","v":1,"role":"answerer","commit":"` + key + `"}`,
		"offerer key":       `{"type":"hello","v":1,"role":"offerer","key":"` + key + `"}`,
		"both":              `{"type":"hello","v":1,"role":"answerer","key":"` + key + `","commit":"` + key + `"}`,
		"null key":          `{"type":"hello","v":1,"role":"answerer","key":null}`,
		"nested":            `{"type":"hello","v":1,"role":"answerer","key":{"a":1}}`,
		"trailing":          ok + `{}`,
		"array":             `[` + ok + `]`,
		"line break in b64": `{"type":"hello","v":1,"role":"answerer","key":"` + key[:20] + `\n` + key[20:] + `"}`,
		"too large":         `{"type":"hello","v":1,"role":"answerer","key":"` + key + `"}` + strings.Repeat(" ", MaxMessageSize),
	}
	for name, s := range bad {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			if _, err := ParseHello([]byte(s)); !errors.Is(err, ErrMalformed) {
				t.Fatalf("accepted or wrong error: %v", err)
			}
		})
	}
}
