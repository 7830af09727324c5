package main

import (
	"errors"

	"github.com/spf13/cobra"
)

// newJoinCmd is a placeholder until the command lands.
func newJoinCmd(_ *globals) *cobra.Command {
	return &cobra.Command{
		Use:    "join",
		Hidden: true,
		RunE:   func(*cobra.Command, []string) error { return errors.New("join: not implemented yet") },
	}
}
