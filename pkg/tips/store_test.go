package tips

import (
	"context"
	"errors"
	"math/big"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"

	"github.com/verytippers/vtpeer/internal/fullfs"
)

func TestStoreReplaySurvivesReopen(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "home", "tips.db")
	h := common.Hash{7}
	now := time.Now()
	s, err := OpenStore(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Record(h, now); err != nil {
		t.Fatal(err)
	}
	if err := s.Record(h, now); !errors.Is(err, ErrReplay) || CodeOf(err) != CodeReplay {
		t.Fatalf("second Record: %v", err)
	}
	// A second process cannot open it while the first holds it.
	if _, err := OpenStore(path, &StoreOptions{LockTimeout: 50 * time.Millisecond}); !errors.Is(err, ErrStoreInUse) {
		t.Fatalf("concurrent open: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Record(common.Hash{8}, now); !errors.Is(err, ErrStoreClosed) {
		t.Fatalf("Record after Close: %v", err)
	}
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("store file mode %v %v", fi.Mode(), err)
	}

	s, err = OpenStore(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Record(h, now); !errors.Is(err, ErrReplay) {
		t.Fatalf("Record after reopen: %v", err)
	}
	if err := s.Record(common.Hash{9}, now.Add(-time.Hour)); err != nil {
		t.Fatal(err)
	}
	n, err := s.Prune(now.Add(-10 * time.Minute))
	if err != nil || n != 1 {
		t.Fatalf("Prune = %d, %v", n, err)
	}
	if seen, _ := s.Seen(common.Hash{9}); seen {
		t.Fatal("pruned hash still seen")
	}
	if seen, _ := s.Seen(h); !seen {
		t.Fatal("recent hash pruned")
	}
}

// TestForwarderAcceptAllOrNothing: on a full filesystem, Forwarder.Accept
// either records the tip and queues its forward, or fails having done
// neither; a tip it refused is accepted once the space returns, and a
// second Accept of the same tip is ErrReplay.
func TestForwarderAcceptAllOrNothing(t *testing.T) {
	t.Parallel()
	dir := fullfs.Tiny(t, "256k")
	s, err := OpenStore(filepath.Join(dir, "vtpeer.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	f, err := NewForwarder(s, "http://127.0.0.1:1/never-run", nil)
	if err != nil {
		t.Fatal(err)
	}
	signer := testSigner(t, 0)
	tip := func(i int64) *SignedMeta {
		sm, err := Sign(signer, Meta{From: signer.Address(), To: common.HexToAddress("0x02"), Amount: big.NewInt(1), Nonce: big.NewInt(i)})
		if err != nil {
			t.Fatal(err)
		}
		return sm
	}
	ctx := context.Background()
	release := fullfs.Fill(t, dir)
	var refused []*SignedMeta
	for i := range int64(40) {
		sm := tip(i)
		h := sm.Meta.MessageHash()
		err := f.Accept(ctx, sm, time.Now())
		seen, serr := s.Seen(h)
		state, _, ferr := s.ForwardStatus(h)
		if serr != nil || ferr != nil {
			t.Fatal(serr, ferr)
		}
		switch {
		case err == nil && seen && state == ForwardQueued:
		case err != nil && !errors.Is(err, ErrReplay) && !seen && state == "":
			refused = append(refused, sm)
		default:
			t.Fatalf("tip %d: err %v, seen %t, forward state %q: half done", i, err, seen, state)
		}
	}
	if len(refused) == 0 {
		t.Fatal("the full filesystem refused nothing: the test did not fill it")
	}
	release()
	for _, sm := range refused {
		if err := f.Accept(ctx, sm, time.Now()); err != nil {
			t.Fatalf("after the space returned: %v", err)
		}
		if err := f.Accept(ctx, sm, time.Now()); !errors.Is(err, ErrReplay) {
			t.Fatalf("second Accept: %v, want ErrReplay", err)
		}
	}
}
