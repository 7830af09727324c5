package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"
	"github.com/spf13/cobra/doc"
)

// newGenDocsCmd writes the man pages and shell completions that release
// archives and packages ship (run by .goreleaser.yaml's before hooks). It is
// hidden: users get the same completions from `vtpeer completion`.
func newGenDocsCmd(_ *globals) *cobra.Command {
	return &cobra.Command{
		Use:    "gen-docs DIR",
		Short:  "Write man pages (DIR/man) and shell completions (DIR/completions)",
		Hidden: true,
		Args:   cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return genDocs(cmd.Root(), args[0])
		},
	}
}

// genDocs writes DIR/man/vtpeer*.1 and DIR/completions/vtpeer.{bash,zsh,fish,ps1}.
func genDocs(root *cobra.Command, dir string) error {
	if dir == "" {
		return usageError(errors.New("gen-docs: empty directory"))
	}
	man, comp := filepath.Join(dir, "man"), filepath.Join(dir, "completions")
	for _, d := range []string{man, comp} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return fmt.Errorf("gen-docs: %w", err)
		}
	}
	root.DisableAutoGenTag = true // reproducible: no generation date in the pages
	root.InitDefaultCompletionCmd()
	header := &doc.GenManHeader{Title: "VTPEER", Section: "1", Source: "vtpeer", Manual: "vtpeer manual"}
	if err := doc.GenManTree(root, header, man); err != nil {
		return fmt.Errorf("gen-docs: man pages: %w", err)
	}
	gens := []struct {
		file string
		gen  func(string) error
	}{
		{"vtpeer.bash", func(p string) error { return root.GenBashCompletionFileV2(p, true) }},
		{"vtpeer.zsh", root.GenZshCompletionFile},
		{"vtpeer.fish", func(p string) error { return root.GenFishCompletionFile(p, true) }},
		{"vtpeer.ps1", root.GenPowerShellCompletionFileWithDesc},
	}
	for _, g := range gens {
		if err := g.gen(filepath.Join(comp, g.file)); err != nil {
			return fmt.Errorf("gen-docs: %s: %w", g.file, err)
		}
	}
	return nil
}
