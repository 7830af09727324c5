package tips

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ethereum/go-ethereum/common"
)

func TestKeystoreImportEthers(t *testing.T) {
	t.Parallel()
	js, err := os.ReadFile(filepath.Join(vectorsDir(), "keystore", "ethers-keystore.json"))
	if err != nil {
		t.Fatal(err)
	}
	pw, err := os.ReadFile(filepath.Join(vectorsDir(), "keystore", "ethers-keystore.password"))
	if err != nil {
		t.Fatal(err)
	}
	password := strings.TrimSuffix(string(pw), "\n")
	dir := filepath.Join(t.TempDir(), "ks")
	ks, err := OpenKeystore(dir, true)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ks.ImportJSON(js, "not-the-password", ""); !errors.Is(err, ErrWrongPassword) {
		t.Fatalf("wrong password: %v", err)
	}
	addr, err := ks.ImportJSON(js, password, "")
	if err != nil {
		t.Fatal(err)
	}
	want := common.HexToAddress(loadVectors(t).Accounts[0].Address)
	if addr != want {
		t.Fatalf("imported %s, want %s", addr.Hex(), want.Hex())
	}
	if _, err := ks.ImportJSON(js, password, ""); !errors.Is(err, ErrAccountExists) {
		t.Fatalf("second import: %v", err)
	}
	if fi, _ := os.Stat(dir); fi.Mode().Perm() != 0o700 {
		t.Fatalf("dir mode %v", fi.Mode())
	}
	acc, err := ks.Find("")
	if err != nil || acc.Address != want {
		t.Fatalf("Find: %v %v", acc, err)
	}
	if fi, _ := os.Stat(acc.Path); fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode %v", fi.Mode())
	}
	_, err = ks.Unlock(want, "wrong")
	if !errors.Is(err, ErrWrongPassword) || strings.Contains(err.Error(), "wrong\"") {
		t.Fatalf("Unlock wrong password: %v", err)
	}
	s, err := ks.Unlock(want, password)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s.Address() != want {
		t.Fatal("unlocked another address")
	}
	if _, err := Sign(s, Meta{To: common.HexToAddress("0x02"), Amount: common.Big1}); err != nil {
		t.Fatal(err)
	}
}

func TestKeystoreFind(t *testing.T) {
	t.Parallel()
	ks, err := OpenKeystore(t.TempDir(), true)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ks.Find(""); !errors.Is(err, ErrNoAccounts) {
		t.Fatalf("empty: %v", err)
	}
	key := loadVectors(t).Accounts[1].PrivateKey
	a1, err := ks.ImportKey(" "+key+"\n", "pw")
	if err != nil {
		t.Fatal(err)
	}
	a2, err := ks.New("pw2")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ks.Find(""); !errors.Is(err, ErrAmbiguousAccount) {
		t.Fatalf("two accounts: %v", err)
	}
	if _, err := ks.Find("0x0000000000000000000000000000000000000001"); !errors.Is(err, ErrUnknownAccount) {
		t.Fatalf("unknown: %v", err)
	}
	if acc, err := ks.Find(strings.ToLower(a1.Hex())); err != nil || acc.Address != a1 {
		t.Fatalf("lowercase find: %v", err)
	}
	accs, _ := ks.Accounts()
	if len(accs) != 2 {
		t.Fatalf("accounts %v", accs)
	}
	if _, err := ks.ImportKey("0xnothex"+key[9:], "pw"); !errors.Is(err, ErrBadKey) || strings.Contains(err.Error(), key[9:]) {
		t.Fatalf("bad key: %v", err)
	}
	if s, err := ks.Unlock(a2, "pw2"); err != nil {
		t.Fatal(err)
	} else {
		s.Close()
	}
}
