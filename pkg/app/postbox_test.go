package app

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/crypto"

	"github.com/verytippers/vtpeer/pkg/mailbox"
	"github.com/verytippers/vtpeer/pkg/seal"
	"github.com/verytippers/vtpeer/pkg/tips"
)

// TestMailSentAtWindow: mail whose signed sent-at is too old (a blob kept
// past the receiver's seen window and replayed) or in the future is
// refused with its own code and marks nothing seen; mail inside the window
// is delivered once, with its send time shown.
func TestMailSentAtWindow(t *testing.T) {
	t.Parallel()
	if SeenTTL <= seal.MailMaxAge+seal.MailMaxSkew {
		t.Fatalf("seen ids are kept %s, not longer than the mail window %s: an old blob could be delivered twice",
			SeenTTL, seal.MailMaxAge+seal.MailMaxSkew)
	}
	key, err := crypto.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	sender := tips.NewKeySigner(key)
	now := time.Now()
	for _, tc := range []struct {
		name string
		sent time.Time
		code string // "" = delivered
	}{
		{"fresh", now.Add(-time.Minute), ""},
		{"13 days old", now.Add(-13 * 24 * time.Hour), ""},
		{"small skew ahead", now.Add(2 * time.Minute), ""},
		{"kept 31 days and replayed", now.Add(-31 * 24 * time.Hour), "mail_too_old"},
		{"just past the window", now.Add(-seal.MailMaxAge - time.Hour), "mail_too_old"},
		{"dated tomorrow", now.Add(24 * time.Hour), "mail_from_future"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			pb, err := OpenPostbox(t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = pb.Close() })
			body, _ := json.Marshal(ChatBody{Text: "while you were away"})
			blob, err := pb.SealMail("lobby", sender, pb.PublicKey(),
				mailbox.Item{ID: "m1", Kind: KindChat, Body: body, Added: tc.sent})
			if err != nil {
				t.Fatal(err)
			}
			mail := make(chan []byte, 2)
			r := newLoneRoom(t, "lobby", newTestSigner(t), pb, mail)
			mail <- blob
			ev := nextEvent(ctx, t, r)
			if tc.code != "" {
				if p, ok := ev.(Problem); !ok || p.Code != tc.code || p.Peer != "mailbox" {
					t.Fatalf("event %#v, want problem %s", ev, tc.code)
				}
				fresh, err := pb.Fresh(sender.Address().Hex(), "m1")
				if err != nil || !fresh {
					t.Fatalf("a refused mail was marked seen (fresh=%v, err=%v)", fresh, err)
				}
				return
			}
			c, ok := ev.(Chat)
			if !ok || !c.Mail || c.Text != "while you were away" || c.SentAt.UnixMilli() != tc.sent.UnixMilli() || c.From != sender.Address().Hex() {
				t.Fatalf("event %#v, want the message sent at %s", ev, tc.sent)
			}
			mail <- blob // the same blob again
			mail <- blob[:len(blob)-1]
			if ev := nextEvent(ctx, t, r); ev.(Problem).Code != CodeBadMail {
				t.Fatalf("after a replayed blob: %#v, want only the damaged one's bad_mail", ev)
			}
		})
	}
}

// TestMailableSkipsOldItems: the sender does not mail outbox items that
// the recipient would refuse as too old.
func TestMailableSkipsOldItems(t *testing.T) {
	t.Parallel()
	now := time.Now()
	items := []mailbox.Item{
		{ID: "new", Added: now.Add(-time.Hour)},
		{ID: "old", Added: now.Add(-seal.MailMaxAge - time.Minute)},
		{ID: "undated"},
	}
	got, stale := Mailable(items, now)
	if stale != 1 || len(got) != 2 || got[0].ID != "new" || got[1].ID != "undated" {
		t.Fatalf("mailable = %v, %d stale; want new and undated, 1 stale", got, stale)
	}
	if items[1].ID != "old" {
		t.Fatal("mailable changed its input")
	}
}

// TestStaticKeyFile: the static key is created 0600 and exclusively (two
// concurrent first uses agree on one key), kept across loads, and refused
// with the fix when the group or others can read it, or when damaged.
func TestStaticKeyFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "static.key")
	const n = 8
	keys := make([][]byte, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			k, err := loadStaticKey(path)
			if err != nil {
				t.Error(err)
				return
			}
			keys[i] = k.PublicKey().Bytes()
		})
	}
	wg.Wait()
	for i := 1; i < n; i++ {
		if !bytes.Equal(keys[i], keys[0]) {
			t.Fatalf("concurrent first uses made different keys: %x vs %x", keys[i], keys[0])
		}
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Fatalf("static key mode %04o, want 0600", st.Mode().Perm())
	}
	if left, _ := filepath.Glob(filepath.Join(dir, ".static.key-*")); len(left) != 0 {
		t.Fatalf("temporary files left behind: %v", left)
	}
	again, err := loadStaticKey(path)
	if err != nil || !bytes.Equal(again.PublicKey().Bytes(), keys[0]) {
		t.Fatalf("reload: %v (same key: %v)", err, err == nil && bytes.Equal(again.PublicKey().Bytes(), keys[0]))
	}

	for _, mode := range []os.FileMode{0o640, 0o604, 0o644} {
		if err := os.Chmod(path, mode); err != nil {
			t.Fatal(err)
		}
		_, err := loadStaticKey(path)
		if err == nil || !strings.Contains(err.Error(), "readable by others") || !strings.Contains(err.Error(), "chmod 600") {
			t.Fatalf("mode %04o: err %v, want a refusal naming chmod 600", mode, err)
		}
	}
	if err := os.Chmod(path, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte("not a key\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := loadStaticKey(path); err == nil || !strings.Contains(err.Error(), "damaged") {
		t.Fatalf("damaged key: err %v", err)
	}
}
