package main

import (
	"errors"

	"github.com/spf13/cobra"
)

// newBenchCmd is a placeholder until the command lands.
func newBenchCmd(_ *globals) *cobra.Command {
	return &cobra.Command{
		Use:    "bench",
		Hidden: true,
		RunE:   func(*cobra.Command, []string) error { return errors.New("bench: not implemented yet") },
	}
}
