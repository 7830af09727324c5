package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"

	"github.com/verytippers/vtpeer/pkg/tips"
)

// newAccountCmd builds `vtpeer account new | import | list`.
func newAccountCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "account",
		Short: "Manage the keystore accounts that sign tips",
		Long: `Accounts live in a go-ethereum V3 keystore (--keystore, default
$VTPEER_HOME/keystore). Passwords come from --password-file, VTPEER_PASSWORD,
or a no-echo prompt on a terminal. Key files are 0600 in a 0700 directory.`,
	}
	cmd.AddCommand(newAccountNewCmd(g), newAccountImportCmd(g), newAccountListCmd(g))
	return cmd
}

func newAccountNewCmd(g *globals) *cobra.Command {
	var light bool
	cmd := &cobra.Command{
		Use:   "new",
		Short: "Create an account and print its address",
		Args:  cobra.NoArgs,
	}
	af := bindAccountFlags(cmd, g, false)
	cmd.Flags().BoolVar(&light, "light-kdf", false, "light scrypt (fast, weak: tests and demos only)")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		ks, err := af.open(light)
		if err != nil {
			return err
		}
		pw, err := readNewPassword(g, cmd, af.passwordFile, "Password for the new account: ")
		if err != nil {
			return err
		}
		addr, err := ks.New(pw)
		if err != nil {
			return err
		}
		fmt.Fprintln(cmd.OutOrStdout(), addr.Hex())
		return nil
	}
	return cmd
}

func newAccountImportCmd(g *globals) *cobra.Command {
	var light bool
	var newPasswordFile string
	cmd := &cobra.Command{
		Use:   "import FILE",
		Short: "Import a V3 keystore JSON or a hex private key file",
		Long: `Import FILE: a V3 keystore JSON from any wallet (decrypted with the password,
and re-encrypted with the same one unless --new-password-file is given) or a
file holding a hex private key (encrypted with the password).`,
		Args: cobra.ExactArgs(1),
	}
	af := bindAccountFlags(cmd, g, false)
	cmd.Flags().BoolVar(&light, "light-kdf", false, "light scrypt (fast, weak: tests and demos only)")
	cmd.Flags().StringVar(&newPasswordFile, "new-password-file", "", "file with the password to re-encrypt an imported keystore JSON with")
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		b, err := readImportFile(args[0])
		if err != nil {
			return err
		}
		defer clear(b)
		isJSON := bytes.HasPrefix(bytes.TrimSpace(b), []byte("{"))
		if newPasswordFile != "" && !isJSON {
			return usageError(errors.New("--new-password-file applies to keystore JSON only"))
		}
		ks, err := af.open(light)
		if err != nil {
			return err
		}
		var pw, newPw string
		if isJSON {
			// The wallet's password; the key is re-encrypted with it unless
			// --new-password-file gives another, and neither may be empty.
			if pw, err = af.password(cmd, "Password of the keystore file: "); err != nil {
				return err
			}
			if newPasswordFile != "" {
				if newPw, err = readNewPassword(g, cmd, newPasswordFile, ""); err != nil {
					return err
				}
			} else if pw == "" {
				return usageError(errors.New("the keystore file's password is empty: give the account a password with --new-password-file"))
			}
		} else if pw, err = readNewPassword(g, cmd, af.passwordFile, "Password for the imported account: "); err != nil {
			return err
		}
		var addr fmt.Stringer
		if isJSON {
			a, err := ks.ImportJSON(cmd.Context(), b, pw, newPw)
			if err != nil {
				return err
			}
			addr = a
		} else {
			a, err := ks.ImportKey(string(b), pw)
			if err != nil {
				return err
			}
			addr = a
		}
		fmt.Fprintln(cmd.OutOrStdout(), addr.String())
		return nil
	}
	return cmd
}

// readImportFile reads the file account import takes: a keystore JSON or a
// hex key, both far below tips.MaxKeyFileSize.
func readImportFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("import: %w", err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, tips.MaxKeyFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("import: %w", err)
	}
	if len(b) > tips.MaxKeyFileSize {
		clear(b)
		return nil, fmt.Errorf("import: %s is larger than %d bytes: not a key file", path, tips.MaxKeyFileSize)
	}
	return b, nil
}

func newAccountListCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the keystore's accounts",
		Args:  cobra.NoArgs,
	}
	af := bindAccountFlags(cmd, g, false)
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		if _, err := os.Stat(af.dir()); errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("no keystore at %s: create an account with `vtpeer account new` or `vtpeer account import`", af.dir())
		}
		ks, err := af.open(false)
		if err != nil {
			return err
		}
		accs, err := ks.List()
		if err != nil {
			return err
		}
		if len(accs) == 0 {
			fmt.Fprintf(cmd.ErrOrStderr(), "no accounts in %s\n", ks.Dir())
		}
		for _, a := range accs {
			fmt.Fprintf(cmd.OutOrStdout(), "%s\t%s\n", a.Address.Hex(), a.Path)
		}
		return nil
	}
	return cmd
}
