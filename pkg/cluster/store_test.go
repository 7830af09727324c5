package cluster

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// startStoreNode starts a lone node on store dir.
func startStoreNode(t *testing.T, dir, name string) (*EmbeddedNode, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return StartNode(ctx, &NodeOptions{StoreDir: dir, Name: name})
}

// TestStoreRestart: a node on a StoreDir keeps its server name and its
// JetStream data (the mail stream, on disk) across a restart; while it
// runs, a second node on the same store is refused with ErrStoreLocked;
// after Close the store is free again.
func TestStoreRestart(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "store")
	n, err := startStoreNode(t, dir, "")
	if err != nil {
		t.Fatal(err)
	}
	name := n.Name()
	if n.StoreDir() != dir {
		t.Fatalf("StoreDir = %q, want %q", n.StoreDir(), dir)
	}
	m := newMailStore(t, n, nil)
	if err := m.Put("room", boxA, []byte("kept across a restart")); err != nil {
		t.Fatal(err)
	}
	if _, err := startStoreNode(t, dir, ""); !errors.Is(err, ErrStoreLocked) {
		t.Fatalf("second node on a running store: %v, want ErrStoreLocked", err)
	}
	n.Close()

	n, err = startStoreNode(t, dir, "")
	if err != nil {
		t.Fatalf("restart on the same store: %v", err)
	}
	defer n.Close()
	if n.Name() != name {
		t.Fatalf("server name after restart = %q, want %q", n.Name(), name)
	}
	got, err := newMailStore(t, n, nil).Take("room", boxA)
	if err != nil || len(got) != 1 || string(got[0]) != "kept across a restart" {
		t.Fatalf("Take after restart = %q, %v", got, err)
	}
}

// TestStoreBad: a store refuses a server name other than the one it keeps
// and a kept name that is not one, with ErrBadStore; a bad name for a new
// store is ErrBadOptions; a temporary store is removed by Close.
func TestStoreBad(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "store")
	n, err := startStoreNode(t, dir, "node-a")
	if err != nil {
		t.Fatal(err)
	}
	if n.Name() != "node-a" {
		t.Fatalf("Name = %q", n.Name())
	}
	n.Close()
	if _, err := startStoreNode(t, dir, "node-b"); !errors.Is(err, ErrBadStore) {
		t.Fatalf("other name on a kept store: %v, want ErrBadStore", err)
	}
	if err := os.WriteFile(filepath.Join(dir, storeNameFile), []byte("no spaces allowed\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := startStoreNode(t, dir, ""); !errors.Is(err, ErrBadStore) {
		t.Fatalf("garbled kept name: %v, want ErrBadStore", err)
	}
	if _, err := startStoreNode(t, filepath.Join(t.TempDir(), "new"), "a b"); !errors.Is(err, ErrBadOptions) {
		t.Fatalf("bad name for a new store: %v, want ErrBadOptions", err)
	}
	tmp, err := startStoreNode(t, "", "")
	if err != nil {
		t.Fatal(err)
	}
	tmpDir := tmp.StoreDir()
	tmp.Close()
	if _, err := os.Stat(tmpDir); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("temporary store %s after Close: %v", tmpDir, err)
	}
}
