package browsertest

import (
	"errors"
	"fmt"
	"testing"

	"github.com/chromedp/cdproto"
)

// TestContextReplaced: WaitFor polls again only for the protocol's answers
// about a JavaScript context that is gone, wrapped or not.
func TestContextReplaced(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		err  error
		want bool
	}{
		{&cdproto.Error{Code: -32000, Message: "Cannot find context with specified id"}, true},
		{fmt.Errorf("tab apis: %w", &cdproto.Error{Code: -32000, Message: "Cannot find context with specified id"}), true},
		{&cdproto.Error{Code: -32000, Message: "Execution context was destroyed."}, true},
		{&cdproto.Error{Code: -32000, Message: "DOM Error while querying"}, false},
		{&cdproto.Error{Code: -32601, Message: "Cannot find context with specified id"}, false},
		{errors.New("Cannot find context with specified id (-32000)"), false}, // not the protocol's error
		{nil, false},
	} {
		if got := contextReplaced(tt.err); got != tt.want {
			t.Errorf("contextReplaced(%v) = %v, want %v", tt.err, got, tt.want)
		}
	}
}
