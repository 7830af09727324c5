package signal

import (
	"encoding/base64"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/verytippers/vtpeer/pkg/mailbox"
)

const testMailbox = "0123456789abcdef0123456789abcdef"

// TestMail: a member deposits sealed mail; the addressee gets it when it
// joins with its mailbox id, once; the server relays it to nobody else.
func TestMail(t *testing.T) {
	t.Parallel()
	box, err := mailbox.Open(filepath.Join(t.TempDir(), "mail.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = box.Close() })
	_, url := testServer(t, &ServerOptions{Mail: box})
	sender, other := dialRaw(t, url, nil), dialRaw(t, url, nil)
	sender.join("r")
	other.join("r")
	sender.expect(TypePeerJoined, "")
	blob := base64.StdEncoding.EncodeToString([]byte("sealed bytes"))
	sender.send(`{"type":"mail","room":"r","to":"` + testMailbox + `","data":"` + blob + `"}`)
	if f := sender.expect(TypeMailed, ""); f.To != testMailbox {
		t.Fatalf("mailed frame = %+v", f)
	}

	// Errors: no room membership, bad data, bad mailbox id.
	sender.send(`{"type":"mail","room":"elsewhere","to":"` + testMailbox + `","data":"` + blob + `"}`)
	sender.expect(TypeError, CodeNotJoined)
	sender.send(`{"type":"mail","room":"r","to":"` + testMailbox + `","data":42}`)
	sender.expect(TypeError, CodeBadFrame)
	sender.send(`{"type":"mail","room":"r","to":"not-a-mailbox","data":"` + blob + `"}`)
	sender.expect(TypeError, CodeMailRefused)
	// Mail is never relayed: the next frame the other member sees is this offer.
	sender.send(`{"type":"offer","room":"r","data":1}`)
	if f := other.expect("offer", ""); string(f.Data) != "1" {
		t.Fatalf("other member got %+v", f)
	}

	addressee := dialRaw(t, url, nil)
	addressee.send(`{"type":"join","room":"r","mailbox":"` + testMailbox + `"}`)
	addressee.expect(TypeJoined, "")
	if f := addressee.expect(TypeMail, ""); string(f.Data) != `"`+blob+`"` {
		t.Fatalf("mail data = %s, want %q", f.Data, blob)
	}
	again := dialRaw(t, url, nil)
	again.send(`{"type":"join","room":"r","mailbox":"` + testMailbox + `"}`)
	again.expect(TypeJoined, "")
	again.expectSilence(100 * time.Millisecond) // handed over once
}

// TestNoMail: a server without a mailbox refuses deposits clearly.
func TestNoMail(t *testing.T) {
	t.Parallel()
	_, url := testServer(t, nil)
	c := dialRaw(t, url, nil)
	c.join("r")
	c.send(`{"type":"mail","room":"r","to":"` + testMailbox + `","data":"AA=="}`)
	c.expect(TypeError, CodeNoMail)
}

// TestRelayBudget: fallback-relay frames are budgeted in bytes, not by the
// frame token bucket, so a sealed conversation can run through the server.
func TestRelayBudget(t *testing.T) {
	t.Parallel()
	_, url := testServer(t, &ServerOptions{Rate: 1, Burst: 2})
	a, b := dialRaw(t, url, nil), dialRaw(t, url, nil)
	a.join("r")
	b.join("r")
	a.expect(TypePeerJoined, "")
	payload := `"` + strings.Repeat("x", 200) + `"`
	for range 30 { // within the default send queue of 32
		a.send(`{"type":"relay","room":"r","data":` + payload + `}`)
	}
	for i := range 30 {
		if f := b.expect(TypeRelay, ""); string(f.Data) != payload {
			t.Fatalf("relay frame %d data = %.40s…", i, f.Data)
		}
	}
	// Ordinary frames still get the frame bucket.
	for range 3 {
		a.send(`{"type":"ice","room":"r","data":1}`)
	}
	a.expect(TypeError, CodeRateLimited)
}
