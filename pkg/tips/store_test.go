package tips

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
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
