package tips

import (
	"context"
	"encoding/json"
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
	if _, err := ks.ImportJSON(context.Background(), js, "not-the-password", ""); !errors.Is(err, ErrWrongPassword) {
		t.Fatalf("wrong password: %v", err)
	}
	addr, err := ks.ImportJSON(context.Background(), js, password, "")
	if err != nil {
		t.Fatal(err)
	}
	want := common.HexToAddress(loadVectors(t).Accounts[0].Address)
	if addr != want {
		t.Fatalf("imported %s, want %s", addr.Hex(), want.Hex())
	}
	if _, err := ks.ImportJSON(context.Background(), js, password, ""); !errors.Is(err, ErrAccountExists) {
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
	_, err = ks.Unlock(context.Background(), want, "wrong")
	if !errors.Is(err, ErrWrongPassword) || strings.Contains(err.Error(), "wrong\"") {
		t.Fatalf("Unlock wrong password: %v", err)
	}
	s, err := ks.Unlock(context.Background(), want, password)
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
	if s, err := ks.Unlock(context.Background(), a2, "pw2"); err != nil {
		t.Fatal(err)
	} else {
		s.Close()
	}
}

// TestKeystoreKDFLimits: key files asking for more memory or work than the
// limits, or shaped so that go-ethereum's decoder would panic, are refused
// with ErrKDFParams naming the parameter, before any KDF runs; a cancelled
// ctx ends an unlock with ctx's error.
func TestKeystoreKDFLimits(t *testing.T) {
	t.Parallel()
	js, err := os.ReadFile(filepath.Join(vectorsDir(), "keystore", "ethers-keystore.json"))
	if err != nil {
		t.Fatal(err)
	}
	params := `"kdfparams":{"salt":"9cb5f5b615135d23497ced3cfbc412f035d7ced378636a2d4ff58cabfbfe0344","n":4096,"dklen":32,"p":1,"r":8}`
	if !strings.Contains(string(js), params) {
		t.Fatal("the vector's kdfparams changed")
	}
	tests := []struct{ params, want string }{
		{`"kdfparams":{"salt":"9cb5","n":1073741824,"dklen":32,"p":1,"r":8}`, "kdfparams.n = 1073741824 is outside 2…262144"},
		{`"kdfparams":{"salt":"9cb5","n":4096,"dklen":32,"p":1048576,"r":8}`, "kdfparams.p = 1048576 is outside 1…16"},
		{`"kdfparams":{"salt":"9cb5","n":4096,"dklen":32,"p":1,"r":0}`, "kdfparams.r = 0 is outside 1…8"},
		{`"kdfparams":{"salt":"9cb5","n":4096,"dklen":32,"p":1}`, "kdfparams.r is missing"},
		{`"kdfparams":{"salt":"9cb5","n":4096,"dklen":32,"p":1,"r":8,"r":9}`, `duplicate field "r" in "kdfparams"`},
		{`"kdfparams":{"salt":["9cb5"],"n":4096,"dklen":32,"p":1,"r":8}`, "kdfparams.salt is not a hex string"},
		{`"kdfparams":{"salt":"9cb5","n":1e999,"dklen":32,"p":1,"r":8}`, "kdfparams.n = 1e999 is not an integer"},
		{`"kdfparams":null`, "no crypto.kdfparams"},
	}
	ks, err := OpenKeystore(t.TempDir(), true)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range tests {
		bad := strings.Replace(string(js), params, tt.params, 1)
		_, err := ks.ImportJSON(context.Background(), []byte(bad), "password", "")
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: %v, want %q", tt.params, err, tt.want)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := ks.ImportJSON(ctx, js, "public-vtpeer-password", ""); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled import: %v", err)
	}
}

// FuzzCheckKDF: any key file is either refused or within the limits; the
// check never panics.
func FuzzCheckKDF(f *testing.F) {
	js, err := os.ReadFile(filepath.Join(vectorsDir(), "keystore", "ethers-keystore.json"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(js)
	f.Add([]byte(`{"crypto":{"kdf":"pbkdf2","kdfparams":{"salt":"00","dklen":32,"c":262144,"prf":"hmac-sha256"}}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		if checkKDF(b) != nil {
			return
		}
		var k struct {
			Crypto struct {
				KDF       string             `json:"kdf"`
				KDFParams map[string]float64 `json:"kdfparams"`
			} `json:"crypto"`
		}
		_ = json.Unmarshal(b, &k) // the salt is a string: decoding stops there or skips it
		p := k.Crypto.KDFParams
		if p["n"]*p["r"]*p["p"] > MaxScryptWork || p["c"] > MaxPBKDF2C {
			t.Fatalf("accepted %s", b)
		}
	})
}
