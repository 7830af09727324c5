package main

import (
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/verytippers/vtpeer/pkg/tips"
)

// vtpeerHome returns $VTPEER_HOME, defaulting to ~/.vtpeer.
func vtpeerHome(g *globals) string {
	def := ".vtpeer"
	if home, err := os.UserHomeDir(); err == nil {
		def = filepath.Join(home, ".vtpeer")
	}
	return g.env("VTPEER_HOME", def)
}

// accountFlags are the keystore flags shared by every command that uses an
// account: --keystore, --account (and --from where enabled), --password-file.
type accountFlags struct {
	g            *globals
	keystore     string
	account      string
	passwordFile string
}

// bindAccountFlags registers the flags on cmd. With fromAlias, --from is an
// alias of --account.
func bindAccountFlags(cmd *cobra.Command, g *globals, fromAlias bool) *accountFlags {
	a := &accountFlags{g: g}
	f := cmd.Flags()
	f.StringVar(&a.keystore, "keystore", "", "keystore directory (default $VTPEER_HOME/keystore, VTPEER_HOME defaulting to ~/.vtpeer)")
	f.StringVar(&a.account, "account", "", "address of the keystore account to use (needed when the keystore holds several)")
	if fromAlias {
		f.StringVar(&a.account, "from", "", "alias of --account")
	}
	f.StringVar(&a.passwordFile, "password-file", "", "file holding the account password (else $VTPEER_PASSWORD, else a prompt on a terminal)")
	return a
}

func (a *accountFlags) dir() string {
	if a.keystore != "" {
		return a.keystore
	}
	return filepath.Join(vtpeerHome(a.g), "keystore")
}

// open opens the keystore; light selects light scrypt for new keys.
func (a *accountFlags) open(light bool) (*tips.Keystore, error) {
	return tips.OpenKeystore(a.dir(), light)
}

// password returns the password: --password-file, then VTPEER_PASSWORD, then a
// no-echo prompt when stdin is a terminal.
func (a *accountFlags) password(cmd *cobra.Command, prompt string) (string, error) {
	return readPassword(a.g, cmd, a.passwordFile, prompt)
}

// maxPasswordFileSize caps what --password-file and --new-password-file
// read: a password file holds one line.
const maxPasswordFileSize = 4 << 10

// errEmptyPassword refuses an empty password where a key is encrypted.
var errEmptyPassword = usageError(errors.New("empty password: a keystore key needs one (use --password-file, VTPEER_PASSWORD or the prompt)"))

// readPassword returns a password from file, else $VTPEER_PASSWORD, else a
// no-echo prompt on a terminal.
func readPassword(g *globals, cmd *cobra.Command, file, prompt string) (string, error) {
	return readPasswordFrom(g, cmd, file, prompt, false)
}

// readNewPassword reads a password a key is about to be encrypted with: it
// must not be empty, and on a terminal it is typed twice.
func readNewPassword(g *globals, cmd *cobra.Command, file, prompt string) (string, error) {
	pw, err := readPasswordFrom(g, cmd, file, prompt, true)
	if err != nil {
		return "", err
	}
	if pw == "" {
		return "", errEmptyPassword
	}
	return pw, nil
}

func readPasswordFrom(g *globals, cmd *cobra.Command, file, prompt string, confirm bool) (string, error) {
	if file != "" {
		return readPasswordFile(file)
	}
	if p := g.getenv("VTPEER_PASSWORD"); p != "" {
		return p, nil
	}
	if f, ok := g.stdin.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		read := func() ([]byte, error) { return term.ReadPassword(int(f.Fd())) }
		if confirm {
			return promptNewPassword(cmd.ErrOrStderr(), read, prompt)
		}
		return promptPassword(cmd.ErrOrStderr(), read, prompt)
	}
	return "", usageError(errors.New("no password: use --password-file or VTPEER_PASSWORD (stdin is not a terminal)"))
}

// readPasswordFile reads a password file of at most maxPasswordFileSize
// bytes; one trailing line break is not part of the password.
func readPasswordFile(file string) (string, error) {
	f, err := os.Open(file)
	if err != nil {
		return "", fmt.Errorf("read password file: %w", err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxPasswordFileSize+1))
	defer clear(b)
	if err != nil {
		return "", fmt.Errorf("read password file: %w", err)
	}
	if len(b) > maxPasswordFileSize {
		return "", usageError(fmt.Errorf("password file %s is larger than %d bytes: it should hold the password on one line", file, maxPasswordFileSize))
	}
	s := string(b)
	s = strings.TrimSuffix(s, "\n")
	s = strings.TrimSuffix(s, "\r")
	return s, nil
}

// promptPassword writes prompt to w and reads one password with read (a
// no-echo terminal read).
func promptPassword(w io.Writer, read func() ([]byte, error), prompt string) (string, error) {
	fmt.Fprint(w, prompt)
	b, err := read()
	fmt.Fprintln(w)
	defer clear(b)
	if err != nil {
		return "", fmt.Errorf("read password: %w", err)
	}
	return string(b), nil
}

// promptNewPassword asks for a new password twice and refuses a mismatch,
// so that a typo cannot lock the key away.
func promptNewPassword(w io.Writer, read func() ([]byte, error), prompt string) (string, error) {
	first, err := promptPassword(w, read, prompt)
	if err != nil {
		return "", err
	}
	if first == "" {
		return "", errEmptyPassword
	}
	again, err := promptPassword(w, read, "Repeat the password: ")
	if err != nil {
		return "", err
	}
	if subtle.ConstantTimeCompare([]byte(first), []byte(again)) != 1 {
		return "", errors.New("the two passwords differ: nothing was created")
	}
	return first, nil
}

// count returns how many accounts the keystore holds (0 when it does not
// exist; it is not created).
func (a *accountFlags) count() (int, error) {
	if _, err := os.Stat(a.dir()); errors.Is(err, os.ErrNotExist) {
		return 0, nil
	}
	ks, err := a.open(false)
	if err != nil {
		return 0, err
	}
	accs, err := ks.List()
	return len(accs), err
}

// unlock finds the chosen account and unlocks it. Close the signer when done.
// Without --account it takes the only account in the keystore, and says so
// through note (a status line without its "* ").
func (a *accountFlags) unlock(cmd *cobra.Command, note func(string)) (*tips.KeySigner, error) {
	if a.account != "" {
		if _, err := tips.ParseAddress(a.account); err != nil {
			return nil, usageError(fmt.Errorf("--account: %s; want the 0x address of a keystore account (see `vtpeer account list`)", tips.ReasonOf(err)))
		}
	}
	if _, err := os.Stat(a.dir()); errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("no keystore at %s: create an account with `vtpeer account new` or `vtpeer account import`", a.dir())
	}
	ks, err := a.open(false)
	if err != nil {
		return nil, err
	}
	acc, err := ks.Find(a.account)
	switch {
	case errors.Is(err, tips.ErrAmbiguousAccount):
		return nil, fmt.Errorf("%w: pick one with --account (see `vtpeer account list`)", err)
	case errors.Is(err, tips.ErrNoAccounts):
		return nil, fmt.Errorf("%w: create one with `vtpeer account new` or `vtpeer account import`", err)
	case err != nil:
		return nil, err
	}
	if a.account == "" {
		note(fmt.Sprintf("using account %s (the only one in the keystore at %s)", acc.Address.Hex(), a.dir()))
	}
	pw, err := a.password(cmd, fmt.Sprintf("Password for %s: ", acc.Address.Hex()))
	if err != nil {
		return nil, err
	}
	if log, err := a.g.logger(); err == nil {
		log.Debug("unlocking account", "address", acc.Address.Hex(), "file", acc.Path)
	}
	signer, err := ks.Unlock(cmd.Context(), acc.Address, pw)
	if err != nil && cmd.Context().Err() != nil {
		return nil, fmt.Errorf("interrupted while unlocking %s", acc.Address.Hex())
	}
	return signer, err
}
