package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"
	"github.com/spf13/cobra/doc"
)

func newManCommand(g *globals) *cobra.Command {
	var dir string
	cmd := &cobra.Command{
		Use:   "man",
		Short: "Write the manual pages (section 1) of every command to a directory",
		Long: `man writes one manual page per command (aispool.1, aispool-run.1, aispool-chaos-run.1, ...) into
--dir, created if missing, from the same text as --help. Read one with: man -l DIR/aispool-run.1.
Shell completion comes from "aispool completion bash|zsh|fish|powershell".`,
		Example: `  aispool man --dir /usr/local/share/man/man1
  make man        # writes them to build/man`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if dir == "" {
				return usageError{fmt.Errorf("--dir is required")}
			}
			if err := os.MkdirAll(dir, 0o755); err != nil {
				return err
			}
			root := cmd.Root()
			root.DisableAutoGenTag = true // no date: the pages of one version are the same whenever built
			hdr := &doc.GenManHeader{Section: "1", Source: "aispool " + version(), Manual: "aispool manual"}
			if err := doc.GenManTree(root, hdr, dir); err != nil {
				return fmt.Errorf("write manual pages: %w", err)
			}
			_, err := fmt.Fprintf(g.stdout, "manual pages written to %s\n", dir)
			return err
		},
	}
	cmd.Flags().StringVar(&dir, "dir", "", "directory to write the pages to (required)")
	return cmd
}
