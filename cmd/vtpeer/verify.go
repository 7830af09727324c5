package main

import (
	"errors"

	"github.com/spf13/cobra"
)

// newVerifyCmd is a placeholder until the command lands.
func newVerifyCmd(_ *globals) *cobra.Command {
	return &cobra.Command{
		Use:    "verify",
		Hidden: true,
		RunE:   func(*cobra.Command, []string) error { return errors.New("verify: not implemented yet") },
	}
}
