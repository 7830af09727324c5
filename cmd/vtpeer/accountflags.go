package main

import (
	"errors"
	"fmt"
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

func readPassword(g *globals, cmd *cobra.Command, file, prompt string) (string, error) {
	if file != "" {
		b, err := os.ReadFile(file)
		if err != nil {
			return "", fmt.Errorf("read password file: %w", err)
		}
		s := string(b)
		s = strings.TrimSuffix(s, "\n")
		s = strings.TrimSuffix(s, "\r")
		return s, nil
	}
	if p := g.getenv("VTPEER_PASSWORD"); p != "" {
		return p, nil
	}
	if f, ok := g.stdin.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		fmt.Fprint(cmd.ErrOrStderr(), prompt)
		b, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(cmd.ErrOrStderr())
		if err != nil {
			return "", fmt.Errorf("read password: %w", err)
		}
		return string(b), nil
	}
	return "", usageError(errors.New("no password: use --password-file or VTPEER_PASSWORD (stdin is not a terminal)"))
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
			return nil, usageError(fmt.Errorf("--account %q: want the 0x address of a keystore account (see `vtpeer account list`)", a.account))
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
	return ks.Unlock(acc.Address, pw)
}
