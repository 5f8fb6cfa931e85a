package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime"
	"runtime/debug"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/aispool/aispool/internal/daemon"
	"github.com/aispool/aispool/spool"
)

// Exit codes. One rule for every command (docs/cli.md):
//
//   - exitUsage: the command line cannot be understood, whatever the
//     values mean: an unknown command or flag, a flag value that does not
//     parse (not a number, a duration or one of the words it takes),
//     arguments to a command that takes none, or an impossible request to
//     a tool (demo, chaos, inspect --peek -1).
//   - exitConfig: the configuration is wrong, wherever it came from
//     (flag, AISPOOL_ variable or --config file): a required setting
//     missing, a value out of range, settings in conflict, a file it names
//     unusable, an unsafe spool directory, a bad connection string; also a
//     bad configuration file or AISPOOL_ variable of any kind.
//   - exitFailed: the command ran and failed (records left undelivered, a
//     chaos check failed, an I/O error, an address in use, a second
//     signal).
const (
	exitOK     = 0
	exitFailed = 1  // the command ran and failed (e.g. records undelivered)
	exitUsage  = 2  // bad command line: unknown command or flag, unparsable value, arguments
	exitConfig = 78 // EX_CONFIG: a configuration error (missing or bad setting, unsafe spool directory, ...)
)

// usageError marks errors in the command line itself.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

// configError returns a configuration error (exit code 78) saying what is
// wrong, wrapping [daemon.ErrInvalidConfig].
func configError(format string, a ...any) error {
	return fmt.Errorf("%w: %w", daemon.ErrInvalidConfig, fmt.Errorf(format, a...))
}

// exitCode maps an error of a command to the process exit code.
func exitCode(err error) int {
	var ue usageError
	switch {
	case err == nil:
		return exitOK
	case errors.As(err, &ue):
		return exitUsage
	case errors.Is(err, daemon.ErrInvalidConfig), errors.Is(err, spool.ErrUnsafeDir), errors.Is(err, spool.ErrInvalidConfig):
		return exitConfig
	}
	return exitFailed
}

// globals are the flags every command shares, and the process's
// environment.
type globals struct {
	logFormat string
	logLevel  string
	stdout    io.Writer
	stderr    io.Writer
	lookupEnv func(string) (string, bool)
	environ   func() []string
}

func (g *globals) logger() (*slog.Logger, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(g.logLevel)); err != nil {
		return nil, usageError{fmt.Errorf("--log-level %q: want debug, info, warn or error", g.logLevel)}
	}
	opts := &slog.HandlerOptions{Level: level, ReplaceAttr: replaceAttr}
	switch g.logFormat {
	case "text":
		return slog.New(slog.NewTextHandler(g.stderr, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(g.stderr, opts)), nil
	}
	return nil, usageError{fmt.Errorf("--log-format %q: want text or json", g.logFormat)}
}

// replaceAttr renders durations as Go duration strings ("1.5s", "5m0s")
// rather than as integer nanoseconds, in text and JSON logs alike, rounded
// to the millisecond above a second.
func replaceAttr(_ []string, a slog.Attr) slog.Attr {
	if a.Value.Kind() == slog.KindDuration {
		return slog.String(a.Key, roundDuration(a.Value.Duration()).String())
	}
	return a
}

// roundDuration rounds d for people: to the millisecond from a second up,
// to the microsecond below.
func roundDuration(d time.Duration) time.Duration {
	if d >= time.Second || d <= -time.Second {
		return d.Round(time.Millisecond)
	}
	return d.Round(time.Microsecond)
}

// Main runs the CLI with args and returns the process exit code.
func Main(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	return run(ctx, args, stdout, stderr, os.Environ())
}

// run runs the CLI with args in the environment environ ("NAME=value"
// entries, as os.Environ returns them).
func run(ctx context.Context, args []string, stdout, stderr io.Writer, environ []string) int {
	env := make(map[string]string, len(environ))
	for _, kv := range environ {
		if k, v, ok := strings.Cut(kv, "="); ok {
			env[k] = v
		}
	}
	g := &globals{stdout: stdout, stderr: stderr,
		lookupEnv: func(k string) (string, bool) { v, ok := env[k]; return v, ok },
		environ:   func() []string { return environ },
	}
	root := newRootCommand(g)
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.ExecuteContext(ctx)
	code := exitCode(err)
	switch {
	case err == nil:
	case g.logFormat == "json":
		// A JSON log stays JSON to its last line.
		slog.New(slog.NewJSONHandler(stderr, nil)).Error(err.Error(), "exit_code", code)
	default:
		fmt.Fprintln(stderr, "aispool:", err)
	}
	return code
}

func newRootCommand(g *globals) *cobra.Command {
	root := &cobra.Command{
		Use:   "aispool",
		Short: "Durable store-and-forward shipper for Azure Application Insights telemetry",
		Long: `aispool keeps Application Insights telemetry on disk until the ingestion service has it.

Run it as a daemon next to your applications (aispool run): it drains spool directories written by
the aispool exporter, and accepts envelopes from any Application Insights SDK on a local ingestion
endpoint. Or drain a spool once (aispool drain), look into one (aispool inspect), or watch the whole
path work on this machine (aispool demo).

Exit codes: 0 success, 1 the command failed, 2 a bad command line, 78 a configuration error.`,
		Version:       versionLine(),
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetVersionTemplate("aispool {{.Version}}\n")
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	root.PersistentFlags().Var(newChoice(&g.logFormat, "text", "text", "json"), "log-format", "log format: text or json")
	root.PersistentFlags().Var(newChoice(&g.logLevel, "info", "debug", "info", "warn", "error"), "log-level", "log level: debug, info, warn or error")
	root.AddCommand(
		newRunCommand(g),
		newDrainCommand(g),
		newInspectCommand(g),
		newDemoCommand(g),
		newChaosCommand(g),
		newValidateCommand(g),
		newVersionCommand(g),
		newManCommand(g),
	)
	groupCommand(root)
	return root
}

// groupCommand makes cmd, which only holds subcommands, refuse an unknown
// subcommand as a usage error, and print its help when called alone.
// (Left to cobra, an unknown command exits 1 at the root and prints the
// help with status 0 below it.)
func groupCommand(cmd *cobra.Command) {
	cmd.Args = func(c *cobra.Command, args []string) error {
		if len(args) == 0 {
			return nil
		}
		msg := fmt.Sprintf("unknown command %q for %q", args[0], c.CommandPath())
		if c.SuggestionsMinimumDistance <= 0 {
			c.SuggestionsMinimumDistance = 2
		}
		if s := c.SuggestionsFor(args[0]); len(s) > 0 {
			msg += "; did you mean " + strings.Join(s, " or ") + "?"
		}
		return usageError{fmt.Errorf("%s (see %s --help)", msg, c.CommandPath())}
	}
	cmd.RunE = func(c *cobra.Command, _ []string) error { return c.Help() }
}

// noArgs rejects positional arguments as a usage error.
func noArgs(cmd *cobra.Command, args []string) error {
	if len(args) > 0 {
		return usageError{fmt.Errorf("%s takes no arguments, got %q", cmd.CommandPath(), args)}
	}
	return nil
}

// version is the stamped release version, else the module version from the
// build information, else "dev".
func version() string {
	if stampedVersion != "" {
		return stampedVersion
	}
	if info, ok := debug.ReadBuildInfo(); ok && info.Main.Version != "" && info.Main.Version != "(devel)" {
		return info.Main.Version
	}
	return "dev"
}

// versionLine is what `aispool version` and `aispool --version` print
// after "aispool ".
func versionLine() string {
	return fmt.Sprintf("%s (%s, %s/%s)", version(), runtime.Version(), runtime.GOOS, runtime.GOARCH)
}

// choice is a flag value that takes one of a few words; any other is a
// usage error when the flag is parsed.
type choice struct {
	p     *string
	words []string
}

func newChoice(p *string, def string, words ...string) *choice {
	*p = def
	return &choice{p, words}
}

func (c *choice) String() string {
	if c.p == nil {
		return ""
	}
	return *c.p
}

func (c *choice) Set(v string) error {
	for _, w := range c.words {
		if v == w {
			*c.p = v
			return nil
		}
	}
	return fmt.Errorf("want %s", strings.Join(c.words, ", "))
}

func (c *choice) Type() string { return "string" }
