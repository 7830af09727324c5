package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/verytippers/vtpeer/pkg/signal"
)

// tokenOptions are the flags of vtpeer token.
type tokenOptions struct {
	room       string
	ttl        time.Duration
	secretFile string
	audience   string
	subject    string
}

// newTokenCmd mints an HS256 token for a server run with --jwt-secret-file.
func newTokenCmd(g *globals) *cobra.Command {
	o := &tokenOptions{}
	cmd := &cobra.Command{
		Use:     "token",
		Short:   "Mint an HS256 token for the signaling server",
		Example: `  vtpeer token --room lobby --ttl 1h --secret-file secret`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if o.secretFile == "" {
				return usageError(errors.New("--secret-file is required"))
			}
			if o.ttl <= 0 {
				return usageError(errors.New("--ttl must be positive"))
			}
			secret, err := readSecretFile(o.secretFile)
			if err != nil {
				return err
			}
			defer clear(secret)
			tok, err := signal.MintHS256(secret, o.room, o.audience, o.subject, o.ttl, time.Now())
			if err != nil {
				return usageError(err)
			}
			fmt.Fprintln(cmd.OutOrStdout(), tok)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.room, "room", "", "the only room the token admits (empty: any room)")
	f.DurationVar(&o.ttl, "ttl", time.Hour, "lifetime of the token")
	f.StringVar(&o.secretFile, "secret-file", "", "file holding the HS256 secret (at least 32 bytes)")
	f.StringVar(&o.audience, "audience", signal.DefaultAudience, "audience (aud claim)")
	f.StringVar(&o.subject, "subject", "", "subject (sub claim)")
	return cmd
}

// readSecretFile reads a secret, dropping one trailing newline.
func readSecretFile(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, usageError(fmt.Errorf("read secret: %w", err))
	}
	return bytes.TrimSuffix(bytes.TrimSuffix(b, []byte("\n")), []byte("\r")), nil
}
