package tips

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"

	"github.com/ethereum/go-ethereum/accounts/keystore"
)

// Limits on what a keystore file may ask of the machine that unlocks it. A
// key file is input: its KDF parameters decide how much memory and time an
// unlock takes (scrypt needs 128·n·r bytes and n·r·p work), so a hostile or
// corrupt file could exhaust memory (n = 2^30) or CPU for hours (p = 2^20).
// Files outside the limits are refused with ErrKDFParams before any KDF
// runs. Every wallet in use (geth, ethers, MetaMask) stays within them; the
// worst file accepted costs 256 MiB and twice a standard unlock.
const (
	// MaxScryptN is the largest scrypt cost n: geth's standard 2^18
	// (256 MiB with r = 8).
	MaxScryptN = 1 << 18
	// MaxScryptR is the largest scrypt block size r (the standard 8).
	MaxScryptR = 8
	// MaxScryptP is the largest scrypt parallelism p (wallets use 1,
	// go-ethereum's light keys 6).
	MaxScryptP = 16
	// MaxScryptWork bounds n·r·p, the work of one unlock: twice geth's
	// standard 2^18·8·1.
	MaxScryptWork = 1 << 22
	// MaxPBKDF2C is the largest PBKDF2 iteration count c (geth writes 2^18).
	MaxPBKDF2C = 1 << 22
	// KeyDKLen is the only derived-key length accepted: 32 bytes, of which
	// the V3 format uses 16 for AES and 16 for the MAC.
	KeyDKLen = 32
	// MaxKeyFileSize is the largest key file read (they are under 1 KiB).
	MaxKeyFileSize = 64 << 10
)

// checkKDF checks the KDF parameters of a V3 (or V1) keystore JSON against
// the limits above and for the types go-ethereum's decoder assumes (it
// panics on a salt that is not a string or a cost that is not a number). The
// error names the parameter, its value and the limit.
func checkKDF(keyJSON []byte) error {
	if err := checkUniqueKeys(keyJSON); err != nil {
		return fmt.Errorf("%w: %s", ErrKDFParams, err)
	}
	var k struct {
		Crypto *struct {
			KDF       string                     `json:"kdf"`
			KDFParams map[string]json.RawMessage `json:"kdfparams"`
		} `json:"crypto"`
	}
	if err := json.Unmarshal(keyJSON, &k); err != nil {
		return fmt.Errorf("%w: %s", ErrBadKey, jsonErrText(err))
	}
	if k.Crypto == nil || k.Crypto.KDFParams == nil {
		return fmt.Errorf("%w: no crypto.kdfparams", ErrBadKey)
	}
	p := k.Crypto.KDFParams
	var salt string
	if err := json.Unmarshal(p["salt"], &salt); err != nil {
		return fmt.Errorf("%w: kdfparams.salt is not a hex string", ErrKDFParams)
	}
	if _, err := hex.DecodeString(salt); err != nil || salt == "" {
		return fmt.Errorf("%w: kdfparams.salt is not a hex string", ErrKDFParams)
	}
	if _, err := kdfInt(p, "dklen", KeyDKLen, KeyDKLen); err != nil {
		return err
	}
	switch k.Crypto.KDF {
	case "scrypt":
		n, err := kdfInt(p, "n", 2, MaxScryptN)
		if err != nil {
			return err
		}
		if n&(n-1) != 0 {
			return fmt.Errorf("%w: scrypt n = %d is not a power of 2", ErrKDFParams, n)
		}
		r, err := kdfInt(p, "r", 1, MaxScryptR)
		if err != nil {
			return err
		}
		par, err := kdfInt(p, "p", 1, MaxScryptP)
		if err != nil {
			return err
		}
		if w := n * r * par; w > MaxScryptWork {
			return fmt.Errorf("%w: scrypt n·r·p = %d exceeds %d (twice the standard work)", ErrKDFParams, w, MaxScryptWork)
		}
	case "pbkdf2":
		if _, err := kdfInt(p, "c", 1, MaxPBKDF2C); err != nil {
			return err
		}
		var prf string
		if err := json.Unmarshal(p["prf"], &prf); err != nil || prf != "hmac-sha256" {
			return fmt.Errorf("%w: pbkdf2 prf is not \"hmac-sha256\"", ErrKDFParams)
		}
	default:
		return fmt.Errorf("%w: kdf %q is not scrypt or pbkdf2", ErrKDFParams, truncate(k.Crypto.KDF))
	}
	return nil
}

// kdfInt reads the integer parameter name and checks lo ≤ value ≤ hi.
func kdfInt(p map[string]json.RawMessage, name string, lo, hi int64) (int64, error) {
	raw, ok := p[name]
	if !ok {
		return 0, fmt.Errorf("%w: kdfparams.%s is missing", ErrKDFParams, name)
	}
	var f float64 // go-ethereum reads it as a float64 too
	if err := json.Unmarshal(raw, &f); err != nil || math.IsInf(f, 0) || f != math.Trunc(f) {
		return 0, fmt.Errorf("%w: kdfparams.%s = %s is not an integer", ErrKDFParams, name, truncate(string(raw)))
	}
	if f < float64(lo) || f > float64(hi) {
		if lo == hi {
			return 0, fmt.Errorf("%w: kdfparams.%s = %s, want %d", ErrKDFParams, name, truncate(string(raw)), lo)
		}
		return 0, fmt.Errorf("%w: kdfparams.%s = %s is outside %d…%d", ErrKDFParams, name, truncate(string(raw)), lo, hi)
	}
	return int64(f), nil
}

// decryptKey checks keyJSON's KDF parameters, then decrypts it with password
// in a goroutine so that ctx can end the wait: scrypt itself cannot be
// interrupted, so on ctx's end decryptKey returns ctx's error at once and
// the abandoned decryption (bounded by the limits above) finishes in the
// background, its key zeroed.
func decryptKey(ctx context.Context, keyJSON []byte, password string) (*keystore.Key, error) {
	if err := checkKDF(keyJSON); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	type result struct {
		key *keystore.Key
		err error
	}
	js := append([]byte(nil), keyJSON...) // the caller may clear keyJSON when we return
	done := make(chan result, 1)
	go func() {
		var r result
		defer func() {
			if p := recover(); p != nil { // go-ethereum's decoder trusts the file's shape
				r = result{err: fmt.Errorf("%w: the key file's crypto section is malformed", ErrBadKey)}
			}
			clear(js)
			done <- r
		}()
		r.key, r.err = keystore.DecryptKey(js, password)
	}()
	select {
	case r := <-done:
		return r.key, r.err
	case <-ctx.Done():
		go func() {
			if r := <-done; r.key != nil {
				zeroKey(r.key.PrivateKey)
			}
		}()
		return nil, ctx.Err()
	}
}

// readKeyFile reads a key file of at most MaxKeyFileSize bytes.
func readKeyFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, MaxKeyFileSize+1))
	if err != nil {
		return nil, err
	}
	if len(b) > MaxKeyFileSize {
		clear(b)
		return nil, fmt.Errorf("%w: %s is larger than %d bytes", ErrBadKey, path, MaxKeyFileSize)
	}
	return b, nil
}
