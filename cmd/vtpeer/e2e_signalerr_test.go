package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/verytippers/vtpeer/pkg/signal"
)

// TestE2EBadSignalReported (issue 10 §3): a signaling frame from a peer that
// the receiver cannot use — an offer without gen, a string gen that is not a
// number, an ICE frame without a candidate — is reported with its reason: a
// warning in the log and an "error" event (code bad_signal) under --json,
// never dropped in silence.
func TestE2EBadSignalReported(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	_, url := startServeProc(ctx, t, "")
	recv := startProc(t, []string{"VTPEER_HOME=" + t.TempDir()}, "join", "lobby", "--json", "--server", url,
		"--ice-loopback", "--timeout", "50s")
	joined := recv.waitEvent(ctx, "joined")
	recvID, _ := joined["peerId"].(string)

	c, err := signal.Dial(ctx, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	me, err := c.Join(ctx, "lobby")
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct{ typ, data, reason string }{
		{"offer", `{"sdp":"v=0"}`, "missing or zero gen"},
		{"offer", `{"gen":"soon","sdp":"v=0"}`, "positive integer"},
		{"ice", `{"gen":7}`, "ice without candidate"},
	} {
		if err := c.Send(ctx, signal.Frame{Type: tt.typ, Room: "lobby", To: recvID, Data: json.RawMessage(tt.data)}); err != nil {
			t.Fatal(err)
		}
		ev := recv.waitEvent(ctx, "error")
		msg := fmt.Sprint(ev["error"])
		if ev["code"] != "bad_signal" || ev["peer"] != me.PeerID || !strings.Contains(msg, tt.reason) || !strings.Contains(msg, tt.typ) {
			t.Errorf("%s %s: event %v, want bad_signal from %s naming %q", tt.typ, tt.data, ev, me.PeerID, tt.reason)
		}
	}
}
