package main

import (
	"reflect"
	"strings"
	"testing"
)

// TestReadInputLines: lines come out without their newlines; a line over
// the limit is reported by its length and reading goes on after it.
func TestReadInputLines(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("z", 300)
	tests := []struct {
		name string
		in   string
		want []inputLine
	}{
		{"plain", "a\nb\n", []inputLine{{text: "a"}, {text: "b"}}},
		{"crlf and no final newline", "a\r\nb", []inputLine{{text: "a"}, {text: "b"}}},
		{"too long in the middle", "first\n" + long + "\nafter\n/quit\n", []inputLine{{text: "first"}, {tooLong: 301}, {text: "after"}, {text: "/quit"}}},
		{"too long at the end", "x\n" + long, []inputLine{{text: "x"}, {tooLong: 300}}},
		{"exactly at the limit", strings.Repeat("y", 100) + "\n", []inputLine{{text: strings.Repeat("y", 100)}}},
		{"longer than the read buffer", strings.Repeat("w", 70000) + "\nok\n", []inputLine{{tooLong: 70001}, {text: "ok"}}},
		{"empty", "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var got []inputLine
			readInputLines(strings.NewReader(tt.in), 100, func(l inputLine) { got = append(got, l) })
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}
