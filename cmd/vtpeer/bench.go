package main

import (
	"github.com/spf13/cobra"
)

// newBenchCmd is the parent of the load generators; each lives in its own
// file and is added here (bench signal; later bench peer, bench tips).
func newBenchCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Run load generators and benchmarks",
	}
	cmd.AddCommand(newBenchSignalCmd(g), newBenchPathsCmd(g))
	return cmd
}
