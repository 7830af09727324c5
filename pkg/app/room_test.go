package app

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/verytippers/vtpeer/pkg/peer"
	"github.com/verytippers/vtpeer/pkg/tips"
)

// member is a Room over a real Node, with its account, desk and postbox.
type member struct {
	id     string
	signer *tips.KeySigner
	node   *peer.Node
	room   *Room
	pb     *Postbox
}

// memberOpts say what a test member has.
type memberOpts struct {
	desk    bool   // a tips desk in home
	postbox bool   // a postbox in home
	home    string // "" = a fresh directory
	signer  *tips.KeySigner
	queue   func(*Room) // before Start (QueueChat)
	files   *FileOptions
}

func newMember(t *testing.T, h *hub, room, id string, mo memberOpts) *member {
	t.Helper()
	if mo.home == "" {
		mo.home = t.TempDir()
	}
	m := &member{id: id, signer: mo.signer}
	if m.signer == nil {
		m.signer = newTestSigner(t)
	}
	o := &Options{Room: room, Signer: m.signer, Files: mo.files}
	var static []byte
	if mo.postbox {
		pb, err := OpenPostbox(mo.home)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = pb.Close() })
		m.pb, o.Postbox, static = pb, pb, pb.PublicKey()
	}
	if mo.desk {
		d, err := tips.OpenDesk(filepath.Join(mo.home, "vtpeer.db"), &tips.DeskOptions{Signer: m.signer})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = d.Close() })
		o.Desk = d
	}
	m.node = h.node(t, room, id, Identity(m.signer, static))
	o.Node = m.node
	r, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = r.Close() })
	m.room = r
	if mo.queue != nil {
		mo.queue(r)
	}
	r.o.Present = h.join(id, m.node)
	for _, p := range r.o.Present {
		r.present[p] = true
	}
	r.Start()
	return m
}

func signTip(t *testing.T, from *tips.KeySigner, to *tips.KeySigner, amount string, at time.Time) *tips.SignedMeta {
	t.Helper()
	wei, err := tips.ParseAmount(amount)
	if err != nil {
		t.Fatal(err)
	}
	sm, err := tips.Sign(from, tips.NewMeta(from.Address(), to.Address(), wei, "", at))
	if err != nil {
		t.Fatal(err)
	}
	return sm
}

// TestRoomChatTipsReceipts: two Rooms over real Nodes exchange chat, a tip
// judged by the recipient's desk gets a signed receipt back, and the same
// tip again is refused as a replay; a peer without a desk answers a tip
// with a refusal receipt instead of silence.
func TestRoomChatTipsReceipts(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	h := newHub(t)
	recip := newMember(t, h, "r1", "recip", memberOpts{desk: true})
	tipper := newMember(t, h, "r1", "tipper", memberOpts{}) // no desk, like `vtpeer tip`
	tc := await[peer.PeerConnected](ctx, t, tipper.room, nil)
	rc := await[peer.PeerConnected](ctx, t, recip.room, nil)
	if tc.SAS != rc.SAS || tc.Address != recip.signer.Address().Hex() || rc.Address != tipper.signer.Address().Hex() {
		t.Fatalf("connected: %+v / %+v", tc, rc)
	}

	if err := tipper.room.Chat(ctx, tc.Peer, "hi ☕"); err != nil {
		t.Fatal(err)
	}
	if c := await[Chat](ctx, t, recip.room, nil); c.Text != "hi ☕" || c.Peer != "tipper" || c.Mail {
		t.Fatalf("chat: %+v", c)
	}

	target, err := ChooseTipTarget(tipper.room.Peers(), recip.signer.Address().Hex(), "")
	if err != nil || target != "recip" {
		t.Fatalf("target %q, %v", target, err)
	}
	sm := signTip(t, tipper.signer, recip.signer, "5", time.Now())
	hash := sm.Meta.MessageHash().Hex()
	for _, tt := range []struct {
		name     string
		accepted bool
		code     string
	}{
		{"first", true, ""},
		{"replay", false, tips.CodeReplay},
	} {
		if err := tipper.room.SendTip(ctx, target, sm); err != nil {
			t.Fatal(err)
		}
		tip := await[Tip](ctx, t, recip.room, nil)
		if tip.Verdict.Accepted != tt.accepted || tip.Verdict.Code != tt.code || tip.Peer != "tipper" || tip.Queued {
			t.Fatalf("%s: tip %+v", tt.name, tip)
		}
		rcpt := await[Receipt](ctx, t, tipper.room, nil)
		if rcpt.MessageHash != hash || rcpt.Accepted != tt.accepted || rcpt.Code != tt.code ||
			!rcpt.SignerValid || rcpt.Signer != recip.signer.Address().Hex() {
			t.Fatalf("%s: receipt %+v", tt.name, rcpt)
		}
	}

	// The other way: the tipper's Room has no desk.
	back := signTip(t, recip.signer, tipper.signer, "1", time.Now())
	if err := recip.room.SendTip(ctx, "tipper", back); err != nil {
		t.Fatal(err)
	}
	if tip := await[Tip](ctx, t, tipper.room, nil); tip.Verdict.Code != tips.CodeNotReceiving {
		t.Fatalf("tip to a room without a desk: %+v", tip)
	}
	rcpt := await[Receipt](ctx, t, recip.room, nil)
	if rcpt.Accepted || rcpt.Code != tips.CodeNotReceiving || rcpt.MessageHash != back.Meta.MessageHash().Hex() || !rcpt.SignerValid {
		t.Fatalf("refusal receipt: %+v", rcpt)
	}
}

// TestRoomOfflineDelivery: messages and a queued tip kept for an absent
// account wait in the outbox (no mail key known yet: DepositSkipped), reach
// it when it connects (Delivered, Done), the queued tip is judged against
// tips.QueuedMaxAge and receipted, and both sides remember each other's
// mail key.
func TestRoomOfflineDelivery(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	h := newHub(t)
	alice, bob := newTestSigner(t), newTestSigner(t)
	aliceHome := t.TempDir()
	to := bob.Address().Hex()

	// Alice queues two lines and a two-day-old tip for bob, who is not here.
	pb, err := OpenPostbox(aliceHome)
	if err != nil {
		t.Fatal(err)
	}
	old := signTip(t, alice, bob, "2", time.Now().Add(-48*time.Hour))
	if mailed, err := QueueTip(ctx, pb, nil, "r2", alice, old); err != nil || mailed {
		t.Fatalf("QueueTip without a mail key: mailed=%v err=%v", mailed, err)
	}
	_ = pb.Close()
	a := newMember(t, h, "r2", "alice", memberOpts{postbox: true, home: aliceHome, signer: alice,
		queue: func(r *Room) {
			if err := r.QueueChat(to, []string{"one", "two"}); err != nil {
				t.Fatal(err)
			}
		}})
	if s := await[DepositSkipped](ctx, t, a.room, nil); !s.NoKey || s.To != to {
		t.Fatalf("deposit: %+v", s)
	}
	if a.room.Waiting() != 2 {
		t.Fatalf("waiting %d, want 2", a.room.Waiting())
	}

	b := newMember(t, h, "r2", "bob", memberOpts{postbox: true, desk: true, signer: bob})
	var texts []string
	var tip Tip
	for len(texts) < 2 || tip.Peer == "" {
		switch e := nextEvent(ctx, t, b.room).(type) {
		case Chat:
			texts = append(texts, e.Text)
		case Tip:
			tip = e
		case peer.Error:
			t.Fatalf("bob: %v", e.Err)
		}
	}
	if strings.Join(texts, ",") != "one,two" || !tip.Queued || !tip.Verdict.Accepted {
		t.Fatalf("bob got %q and tip %+v", texts, tip)
	}
	var rc *Receipt
	for done := false; !done || rc == nil; {
		switch e := nextEvent(ctx, t, a.room).(type) {
		case Receipt:
			rc = &e
		case Delivered:
			done = done || e.Done
		case peer.Error:
			t.Fatalf("alice: %v", e.Err)
		}
	}
	if !rc.Accepted || rc.MessageHash != old.Meta.MessageHash().Hex() {
		t.Fatalf("receipt: %+v", rc)
	}
	if a.room.Waiting() != 0 {
		t.Fatalf("waiting %d after delivery", a.room.Waiting())
	}
	if items, err := a.pb.Pending(to); err != nil || len(items) != 0 {
		t.Fatalf("outbox after delivery: %v %v", items, err)
	}
	// Bob learned alice's mail key, alice bob's.
	if a.pb.ContactKey(to) == nil || b.pb.ContactKey(alice.Address().Hex()) == nil {
		t.Fatal("contacts not remembered")
	}
}

// TestNewOptions: New refuses options it cannot run with.
func TestNewOptions(t *testing.T) {
	t.Parallel()
	h := newHub(t)
	n := h.node(t, "r", "x", nil)
	pb, err := OpenPostbox(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer pb.Close()
	for _, tt := range []struct {
		name string
		o    *Options
	}{
		{"nil", nil},
		{"no room", &Options{Node: n}},
		{"no node", &Options{Room: "r"}},
		{"postbox without signer", &Options{Room: "r", Node: n, Postbox: pb}},
	} {
		if _, err := New(tt.o); err == nil {
			t.Errorf("%s: accepted", tt.name)
		}
	}
	r, err := New(&Options{Room: "r", Node: n})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.QueueChat("0x00", []string{"x"}); err != ErrNoAccount {
		t.Fatalf("QueueChat without a postbox: %v", err)
	}
	r.Start()
	if err := r.QueueChat("0x00", nil); err != ErrStarted {
		t.Fatalf("QueueChat after Start: %v", err)
	}
	_ = r.Close()
}
