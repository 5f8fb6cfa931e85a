package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime/debug"

	"github.com/spf13/cobra"

	"github.com/aispool/aispool/internal/daemon"
)

// Exit codes.
const (
	exitOK     = 0
	exitFailed = 1  // the command ran and failed (e.g. records undelivered)
	exitUsage  = 2  // bad flags or arguments
	exitConfig = 78 // EX_CONFIG: a configuration error (missing or bad connection string, ...)
)

// usageError marks errors in the command line itself.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

// globals are the flags every command shares.
type globals struct {
	logFormat string
	logLevel  string
	stdout    io.Writer
	stderr    io.Writer
	lookupEnv func(string) (string, bool)
}

func (g *globals) logger() (*slog.Logger, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(g.logLevel)); err != nil {
		return nil, usageError{fmt.Errorf("--log-level %q: want debug, info, warn or error", g.logLevel)}
	}
	opts := &slog.HandlerOptions{Level: level}
	switch g.logFormat {
	case "text":
		return slog.New(slog.NewTextHandler(g.stderr, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(g.stderr, opts)), nil
	}
	return nil, usageError{fmt.Errorf("--log-format %q: want text or json", g.logFormat)}
}

// Main runs the CLI with args and returns the process exit code.
func Main(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	return run(ctx, args, stdout, stderr, os.LookupEnv)
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer, lookupEnv func(string) (string, bool)) int {
	g := &globals{stdout: stdout, stderr: stderr, lookupEnv: lookupEnv}
	root := newRootCommand(g)
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return exitOK
	}
	fmt.Fprintln(stderr, "aispool:", err)
	var ue usageError
	switch {
	case errors.As(err, &ue):
		return exitUsage
	case errors.Is(err, daemon.ErrInvalidConfig):
		return exitConfig
	}
	return exitFailed
}

func newRootCommand(g *globals) *cobra.Command {
	root := &cobra.Command{
		Use:   "aispool",
		Short: "Durable store-and-forward shipper for Azure Application Insights telemetry",
		Long: `aispool keeps Application Insights telemetry on disk until the ingestion service has it.

Run it as a daemon next to your applications (aispool run): it drains spool directories written by
the aispool exporter, and accepts envelopes from any Application Insights SDK on a local ingestion
endpoint. Or drain a spool once (aispool drain), look into one (aispool inspect), or watch the whole
path work on this machine (aispool demo).`,
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       version(),
	}
	root.SetVersionTemplate("aispool {{.Version}}\n")
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	root.PersistentFlags().StringVar(&g.logFormat, "log-format", "text", "log format: text or json")
	root.PersistentFlags().StringVar(&g.logLevel, "log-level", "info", "log level: debug, info, warn or error")
	root.AddCommand(
		newRunCommand(g),
		newDrainCommand(g),
		newInspectCommand(g),
		newDemoCommand(g),
		newChaosCommand(g),
		newValidateCommand(g),
		newVersionCommand(g),
	)
	return root
}

// noArgs rejects positional arguments as a usage error.
func noArgs(cmd *cobra.Command, args []string) error {
	if len(args) > 0 {
		return usageError{fmt.Errorf("%s takes no arguments, got %q", cmd.CommandPath(), args)}
	}
	return nil
}

// version is the stamp of `make dist` (stampedVersion), else the module
// version of `go install …@version`, else "dev".
func version() string {
	if stampedVersion != "" {
		return stampedVersion
	}
	if info, ok := debug.ReadBuildInfo(); ok && info.Main.Version != "" && info.Main.Version != "(devel)" {
		return info.Main.Version
	}
	return "dev"
}
