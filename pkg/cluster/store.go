package cluster

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
)

// A node's store directory holds, besides JetStream's own "jetstream"
// directory, two files of vtpeer's:
//
//	lock         locked (flock) while a node runs on the store
//	server-name  the node's NATS server name, written on first start
//
// The name must stay the same across restarts: the cluster knows a
// JetStream peer by its server name, and a node that came back under a new
// one would be a stranger holding none of its old replicas.
const (
	storeLockFile = "lock"
	storeNameFile = "server-name"
)

// serverNameRE is what a server name kept in a store may look like.
var serverNameRE = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

// openStore creates dir if needed, locks it for this process and returns
// the server name it keeps (name if not empty and the store has none yet;
// a random one on first start). unlock releases the lock.
func openStore(dir, name string) (storeName string, unlock func(), err error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", nil, fmt.Errorf("jetstream store: %w", err)
	}
	release, err := lockDir(filepath.Join(dir, storeLockFile))
	if err != nil {
		return "", nil, err
	}
	name, err = keptName(dir, name)
	if err != nil {
		release()
		return "", nil, err
	}
	return name, release, nil
}

// keptName returns the server name dir keeps, writing name (random if
// empty) on first start.
func keptName(dir, name string) (string, error) {
	path := filepath.Join(dir, storeNameFile)
	b, err := os.ReadFile(path)
	switch {
	case err == nil:
		kept := strings.TrimSpace(string(b))
		if !serverNameRE.MatchString(kept) {
			return "", fmt.Errorf("%w: %s holds %q, not a server name", ErrBadStore, path, kept)
		}
		if name != "" && name != kept {
			return "", fmt.Errorf("%w: %s was the store of server %q, not %q", ErrBadStore, dir, kept, name)
		}
		return kept, nil
	case errors.Is(err, fs.ErrNotExist):
		if name == "" {
			name = "vtpeer-" + randomID()
		}
		if !serverNameRE.MatchString(name) {
			return "", fmt.Errorf("%w: server name %q: want 1 to 64 of A-Z a-z 0-9 _ -", ErrBadOptions, name)
		}
		if err := writeFileSync(path, []byte(name+"\n")); err != nil {
			return "", fmt.Errorf("jetstream store: %w", err)
		}
		return name, nil
	default:
		return "", fmt.Errorf("jetstream store: %w", err)
	}
}

// writeFileSync writes a new file through a temporary one, synced, so a
// crash never leaves a half-written name.
func writeFileSync(path string, b []byte) error {
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.Write(b); err != nil {
		_ = f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		_ = f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
