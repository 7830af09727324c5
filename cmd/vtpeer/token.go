package main

import (
	"errors"

	"github.com/spf13/cobra"
)

// newTokenCmd is a placeholder until the command lands.
func newTokenCmd(_ *globals) *cobra.Command {
	return &cobra.Command{
		Use:    "token",
		Hidden: true,
		RunE:   func(*cobra.Command, []string) error { return errors.New("token: not implemented yet") },
	}
}
