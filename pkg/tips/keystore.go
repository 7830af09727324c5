package tips

import (
	"context"
	"crypto/ecdsa"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/ethereum/go-ethereum/accounts/keystore"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/google/uuid"
)

// Account is one key file of a Keystore.
type Account struct {
	Address common.Address
	Path    string
}

// Keystore is a directory of go-ethereum V3 key files (the format geth,
// ethers and MetaMask export), encrypted with scrypt. It reads the directory
// on every call and starts no goroutines. Key files are written 0600 in a
// 0700 directory. Errors never contain passwords or key material.
type Keystore struct {
	dir              string
	scryptN, scryptP int
}

// OpenKeystore opens (creating it 0700 if needed) the keystore in dir. New
// and imported keys use standard scrypt (N=2^18: about 256 MiB and most of a
// second per unlock) or, when light is true, light scrypt (N=2^12) for tests
// and demos.
func OpenKeystore(dir string, light bool) (*Keystore, error) {
	if dir == "" {
		return nil, errors.New("tips: open keystore: empty directory")
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("tips: open keystore: %w", err)
	}
	ks := &Keystore{dir: dir, scryptN: keystore.StandardScryptN, scryptP: keystore.StandardScryptP}
	if light {
		ks.scryptN, ks.scryptP = keystore.LightScryptN, keystore.LightScryptP
	}
	return ks, nil
}

// Dir returns the keystore directory.
func (ks *Keystore) Dir() string { return ks.dir }

// List returns the accounts, sorted by address. Files that are not key files
// are skipped.
func (ks *Keystore) List() ([]Account, error) {
	entries, err := os.ReadDir(ks.dir)
	if err != nil {
		return nil, fmt.Errorf("tips: list keystore: %w", err)
	}
	var out []Account
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || strings.HasPrefix(name, ".") || strings.HasSuffix(name, "~") {
			continue
		}
		path := filepath.Join(ks.dir, name)
		b, err := os.ReadFile(path)
		if err != nil || len(b) > 64<<10 {
			continue
		}
		var k struct {
			Address string `json:"address"`
		}
		if json.Unmarshal(b, &k) != nil || !common.IsHexAddress(k.Address) {
			continue
		}
		out = append(out, Account{Address: common.HexToAddress(k.Address), Path: path})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Address.Cmp(out[j].Address) < 0 })
	return out, nil
}

// Accounts returns the addresses of List.
func (ks *Keystore) Accounts() ([]common.Address, error) {
	accs, err := ks.List()
	if err != nil {
		return nil, err
	}
	out := make([]common.Address, len(accs))
	for i, a := range accs {
		out[i] = a.Address
	}
	return out, nil
}

// Find returns the account named by addr (any letter case), or the only
// account when addr is "". It fails with ErrNoAccounts, ErrUnknownAccount or
// ErrAmbiguousAccount.
func (ks *Keystore) Find(addr string) (Account, error) {
	accs, err := ks.List()
	if err != nil {
		return Account{}, err
	}
	if addr == "" {
		switch len(accs) {
		case 0:
			return Account{}, fmt.Errorf("%w %s", ErrNoAccounts, ks.dir)
		case 1:
			return accs[0], nil
		default:
			return Account{}, fmt.Errorf("%w (%d accounts in %s)", ErrAmbiguousAccount, len(accs), ks.dir)
		}
	}
	if !common.IsHexAddress(addr) {
		return Account{}, fmt.Errorf("%w: %q is not an address", ErrUnknownAccount, truncate(addr))
	}
	want := common.HexToAddress(addr)
	for _, a := range accs {
		if a.Address == want {
			return a, nil
		}
	}
	return Account{}, fmt.Errorf("%w %s in %s", ErrUnknownAccount, want.Hex(), ks.dir)
}

// Unlock decrypts the key of addr with password and returns a signer holding
// it; Close the signer to zero the key. A wrong password is ErrWrongPassword;
// a key file whose KDF parameters exceed the limits is ErrKDFParams, refused
// before any KDF runs. When ctx ends first, Unlock returns ctx's error at
// once (see decryptKey).
func (ks *Keystore) Unlock(ctx context.Context, addr common.Address, password string) (*KeySigner, error) {
	acc, err := ks.Find(addr.Hex())
	if err != nil {
		return nil, err
	}
	b, err := readKeyFile(acc.Path)
	if err != nil {
		return nil, fmt.Errorf("tips: unlock %s: %w", addr.Hex(), err)
	}
	defer clear(b)
	key, err := decryptKey(ctx, b, password)
	if err != nil {
		return nil, decryptErr(addr, err)
	}
	if key.Address != addr {
		zeroKey(key.PrivateKey)
		return nil, fmt.Errorf("tips: unlock %s: key file holds another address", addr.Hex())
	}
	return NewKeySigner(key.PrivateKey), nil
}

func decryptErr(addr common.Address, err error) error {
	if errors.Is(err, keystore.ErrDecrypt) {
		return fmt.Errorf("%w %s", ErrWrongPassword, addr.Hex())
	}
	if errors.Is(err, ErrKDFParams) || errors.Is(err, ErrBadKey) || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("tips: unlock %s: %w", addr.Hex(), err)
	}
	// Other go-ethereum errors describe the file's format, never its secrets.
	return fmt.Errorf("tips: decrypt key %s: %w", addr.Hex(), err)
}

// New creates a key encrypted with password and returns its address.
func (ks *Keystore) New(password string) (common.Address, error) {
	key, err := crypto.GenerateKey()
	if err != nil {
		return common.Address{}, fmt.Errorf("tips: new account: %w", err)
	}
	defer zeroKey(key)
	return ks.store(key, password)
}

// ImportJSON imports a V3 keystore JSON (geth, ethers, MetaMask…) decrypted
// with password and stores it encrypted with newPassword ("" keeps password)
// at this keystore's scrypt cost. A file whose KDF parameters exceed the
// limits is ErrKDFParams; when ctx ends during decryption ImportJSON returns
// ctx's error at once.
func (ks *Keystore) ImportJSON(ctx context.Context, keyJSON []byte, password, newPassword string) (common.Address, error) {
	if len(keyJSON) > MaxKeyFileSize {
		return common.Address{}, fmt.Errorf("%w: larger than %d bytes", ErrBadKey, MaxKeyFileSize)
	}
	key, err := decryptKey(ctx, keyJSON, password)
	if errors.Is(err, ErrKDFParams) || errors.Is(err, ErrBadKey) || ctx.Err() != nil && errors.Is(err, ctx.Err()) {
		return common.Address{}, err
	}
	if err != nil {
		var k struct {
			Address string `json:"address"`
		}
		_ = json.Unmarshal(keyJSON, &k)
		if errors.Is(err, keystore.ErrDecrypt) {
			return common.Address{}, fmt.Errorf("%w %s", ErrWrongPassword, common.HexToAddress(k.Address).Hex())
		}
		return common.Address{}, fmt.Errorf("%w: %s", ErrBadKey, jsonErrText(err))
	}
	defer zeroKey(key.PrivateKey)
	if newPassword == "" {
		newPassword = password
	}
	return ks.store(key.PrivateKey, newPassword)
}

// ImportKey imports a hex private key (64 hex digits, "0x" optional,
// surrounding white space ignored) and stores it encrypted with password.
func (ks *Keystore) ImportKey(hexKey, password string) (common.Address, error) {
	s := strings.TrimPrefix(strings.TrimPrefix(strings.TrimSpace(hexKey), "0x"), "0X")
	key, err := crypto.HexToECDSA(s)
	if err != nil {
		return common.Address{}, ErrBadKey // go-ethereum's error may quote a key character
	}
	defer zeroKey(key)
	return ks.store(key, password)
}

func (ks *Keystore) store(priv *ecdsa.PrivateKey, password string) (common.Address, error) {
	if password == "" {
		return common.Address{}, ErrEmptyPassword
	}
	addr := crypto.PubkeyToAddress(priv.PublicKey)
	if _, err := ks.Find(addr.Hex()); err == nil {
		return common.Address{}, fmt.Errorf("%w %s", ErrAccountExists, addr.Hex())
	}
	id, err := uuid.NewRandom()
	if err != nil {
		return common.Address{}, fmt.Errorf("tips: store key: %w", err)
	}
	b, err := keystore.EncryptKey(&keystore.Key{Id: id, Address: addr, PrivateKey: priv}, password, ks.scryptN, ks.scryptP)
	if err != nil {
		return common.Address{}, fmt.Errorf("tips: encrypt key: %w", err)
	}
	name := fmt.Sprintf("UTC--%s--%x", time.Now().UTC().Format("2006-01-02T15-04-05.000000000Z"), addr[:])
	if err := writeFile0600(filepath.Join(ks.dir, name), b); err != nil {
		return common.Address{}, fmt.Errorf("tips: store key: %w", err)
	}
	return addr, nil
}

// writeFile0600 writes b to a temporary file (0600) in the same directory and
// renames it into place, so no half-written key file is ever visible.
func writeFile0600(path string, b []byte) error {
	f, err := os.CreateTemp(filepath.Dir(path), ".tmp-"+filepath.Base(path))
	if err != nil {
		return err
	}
	tmp := f.Name()
	if _, err := f.Write(b); err != nil {
		f.Close()
		os.Remove(tmp)
		return err
	}
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		os.Remove(tmp)
		return err
	}
	if err := f.Close(); err != nil {
		os.Remove(tmp)
		return err
	}
	return os.Rename(tmp, path)
}

// zeroKey overwrites the private scalar, as go-ethereum's keystore does.
func zeroKey(k *ecdsa.PrivateKey) {
	//lint:ignore SA1019 D is the only handle on the scalar go-ethereum gives us; zeroing it is the point.
	if k != nil && k.D != nil {
		clear(k.D.Bits()) //lint:ignore SA1019 see above
	}
}
