package main

import (
	"errors"

	"github.com/spf13/cobra"
)

// newTipCmd is a placeholder until the command lands.
func newTipCmd(_ *globals) *cobra.Command {
	return &cobra.Command{
		Use:    "tip",
		Hidden: true,
		RunE:   func(*cobra.Command, []string) error { return errors.New("tip: not implemented yet") },
	}
}
