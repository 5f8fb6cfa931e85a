package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"time"

	"github.com/spf13/cobra"

	"github.com/aispool/aispool/internal/daemon"
)

func newDrainCommand(g *globals) *cobra.Command {
	var (
		f        daemonFlags
		interval time.Duration
		timeout  time.Duration
	)
	cmd := &cobra.Command{
		Use:   "drain",
		Short: "Send everything in a spool once, then exit",
		Long: `drain sends everything in the spool directory to the ingestion service and exits 0 once the spool
is empty. It exits 1 with a summary if something could not be delivered (dropped for a counted reason,
held by another process, or --timeout reached). It shows progress: a live line on a terminal, plain
periodic lines otherwise.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := f.config(g)
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			if timeout > 0 {
				var cancel func()
				ctx, cancel = context.WithTimeout(ctx, timeout)
				defer cancel()
			}
			tty := isTerminal(g.stderr)
			sum, err := daemon.Drain(ctx, cfg, interval, func(p daemon.Progress) { printProgress(g.stderr, p, tty) })
			if tty {
				fmt.Fprintln(g.stderr)
			}
			if err == nil || errors.Is(err, daemon.ErrUndelivered) {
				// A summary only of a drain that ran: a configuration
				// error or a spool that cannot be opened sent nothing.
				printSummary(g.stdout, sum)
			}
			return err
		},
	}
	f.register(cmd.Flags(), false)
	cmd.Flags().DurationVar(&interval, "progress-interval", 2*time.Second, "how often to report progress")
	cmd.Flags().DurationVar(&timeout, "timeout", 0, "give up after this long (0: no limit; Ctrl-C also stops)")
	return withConfig(g, cmd)
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

func printProgress(w io.Writer, p daemon.Progress, tty bool) {
	eta := "?"
	if p.ETA > 0 {
		eta = p.ETA.Round(time.Second).String()
	}
	line := fmt.Sprintf("left %d, sent %d, dropped %d, %.0f/s, ETA %s", p.Left, p.Sent, p.Dropped, p.Rate, eta)
	if p.Unclaimed > 0 {
		line += fmt.Sprintf(" (%d segments held by other processes)", p.Unclaimed)
	}
	if tty {
		fmt.Fprintf(w, "\r\033[K%s", line)
		return
	}
	fmt.Fprintf(w, "%s %s\n", time.Now().UTC().Format(time.RFC3339), line)
}

func printSummary(w io.Writer, s daemon.Summary) {
	fmt.Fprintf(w, "sent %d envelopes in %v (%d retried)\n", s.Sent, s.Elapsed.Round(time.Millisecond), s.Retried)
	reasons := make([]string, 0, len(s.Dropped))
	for r, n := range s.Dropped {
		if n > 0 {
			reasons = append(reasons, r)
		}
	}
	slices.Sort(reasons)
	for _, r := range reasons {
		fmt.Fprintf(w, "dropped %d: %s\n", s.Dropped[r], r)
	}
	if s.Left > 0 {
		fmt.Fprintf(w, "left in the spool: %d records\n", s.Left)
	}
	if s.Unclaimed > 0 {
		fmt.Fprintf(w, "not drained: %d segments held by other processes\n", s.Unclaimed)
	}
}
