package main

import (
	"errors"

	"github.com/spf13/cobra"
)

// newAccountCmd is a placeholder until the command lands.
func newAccountCmd(_ *globals) *cobra.Command {
	return &cobra.Command{
		Use:    "account",
		Hidden: true,
		RunE:   func(*cobra.Command, []string) error { return errors.New("account: not implemented yet") },
	}
}
