package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/verytippers/vtpeer/pkg/app"
)

// TestTransferViewJSON: the NDJSON transfer events carry every documented field.
func TestTransferViewJSON(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	v := newTransferView(newOutput(&buf, true), &buf, func(id string) string { return id })
	files := []app.FileEntry{{Path: "a.bin", Size: 100, SHA256: strings.Repeat("ab", 32)}}
	v.handle(app.TransferOffer{ID: "id1", Files: files, Total: 100})
	v.handle(app.TransferProgress{Peer: "p", ID: "id1", File: "a.bin", Bytes: 40, Total: 100, Moved: 30, Rate: 10, ETA: 6 * time.Second})
	v.handle(app.TransferDone{Peer: "p", ID: "id1", Path: "a.bin", Size: 100, SHA256: files[0].SHA256, Last: true})
	v.handle(&app.TransferError{Peer: "p", ID: "id2", Incoming: true, Path: "x", Code: app.XferHashMismatch, Err: errFake("bad")})
	v.handle(app.TransferWarning{Peer: "p", ID: "id1", Code: "relay", Reason: "slow"})
	if v.handle(app.Chat{Text: "hi"}) {
		t.Fatal("a chat message was taken for a transfer event")
	}
	want := []string{
		`{"type":"transfer-offer","id":"id1","incoming":false,"files":[{"path":"a.bin","size":100,"sha256":"` + files[0].SHA256 + `"}],"total":100}`,
		`{"type":"transfer-progress","id":"id1","peer":"p","incoming":false,"file":"a.bin","bytes":40,"total":100,"moved":30,"rate":10,"eta":6}`,
		`{"type":"transfer-done","id":"id1","peer":"p","incoming":false,"path":"a.bin","size":100,"sha256":"` + files[0].SHA256 + `","last":true}`,
		`{"type":"transfer-error","id":"id2","peer":"p","incoming":true,"path":"x","code":"hash_mismatch","error":"bad"}`,
		`{"type":"transfer-warning","id":"id1","peer":"p","code":"relay","reason":"slow"}`,
	}
	got := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(got) != len(want) {
		t.Fatalf("got %d lines:\n%s", len(got), buf.String())
	}
	for i := range want {
		var a, b any
		_ = json.Unmarshal([]byte(got[i]), &a)
		_ = json.Unmarshal([]byte(want[i]), &b)
		ga, _ := json.Marshal(a)
		wb, _ := json.Marshal(b)
		if string(ga) != string(wb) {
			t.Errorf("line %d:\n got %s\nwant %s", i, got[i], want[i])
		}
	}
}

type errFake string

func (e errFake) Error() string { return string(e) }

// TestTransferViewText: without a terminal, progress is a plain line at most once a second
// (and the final one); on a terminal each file gets its own bar, drawn full when it is done.
func TestTransferViewText(t *testing.T) {
	t.Parallel()
	files := []app.FileEntry{{Path: "one.bin", Size: 1 << 20}, {Path: "two.bin", Size: 1 << 20}}
	offer := app.TransferOffer{ID: "id1", Files: files, Total: 2 << 20}
	t.Run("plain", func(t *testing.T) {
		t.Parallel()
		var buf bytes.Buffer
		v := newTransferView(newOutput(&buf, false), &buf, func(id string) string { return id })
		now := time.Unix(1000, 0)
		v.now = func() time.Time { return now }
		v.handle(offer)
		v.handle(app.TransferProgress{ID: "id1", File: "one.bin", Bytes: 1 << 19, Total: 2 << 20, Rate: 1 << 20, ETA: 2 * time.Second})
		now = now.Add(300 * time.Millisecond)
		v.handle(app.TransferProgress{ID: "id1", File: "one.bin", Bytes: 1 << 20, Total: 2 << 20, Rate: 1 << 20, ETA: time.Second})
		now = now.Add(time.Second)
		v.handle(app.TransferProgress{ID: "id1", File: "two.bin", Bytes: 3 << 19, Total: 2 << 20, Rate: 1 << 20, ETA: time.Second})
		v.handle(app.TransferProgress{ID: "id1", Bytes: 2 << 20, Total: 2 << 20, Moved: 2 << 20, Rate: 1 << 20})
		out := buf.String()
		if n := strings.Count(out, "* sending "); n != 2 {
			t.Fatalf("%d progress lines, want 2 (one a second):\n%s", n, out)
		}
		for _, want := range []string{"offering 2 files, 2.00 MiB: one.bin (1.00 MiB), two.bin (1.00 MiB)", "one.bin: 512.0 KiB of 2.00 MiB (25%) at 1.00 MiB/s, ETA 2s",
			"two.bin: 1.50 MiB of 2.00 MiB (75%)", "2.00 MiB in place, 2.00 MiB moved in this run"} {
			if !strings.Contains(out, want) {
				t.Errorf("no %q in:\n%s", want, out)
			}
		}
	})
	t.Run("bars", func(t *testing.T) {
		t.Parallel()
		var lines, term bytes.Buffer
		v := newTransferView(newOutput(&lines, false), &lines, func(id string) string { return id })
		v.bars = &term // as on a terminal
		v.handle(offer)
		v.handle(app.TransferProgress{ID: "id1", File: "one.bin", Bytes: 1 << 19, Total: 2 << 20})
		v.handle(app.TransferProgress{ID: "id1", File: "two.bin", Bytes: 3 << 19, Total: 2 << 20})
		v.handle(app.TransferDone{ID: "id1", Path: "two.bin", Size: 1 << 20, Last: true})
		bars := term.String()
		for _, want := range []string{"sending one.bin", "sending two.bin", "100%"} {
			if !strings.Contains(bars, want) {
				t.Errorf("no %q in the bars:\n%q", want, bars)
			}
		}
		if strings.Contains(lines.String(), "* sending ") || !strings.Contains(lines.String(), "sent two.bin (1.00 MiB)") {
			t.Errorf("lines beside the bars:\n%s", lines.String())
		}
	})
}
