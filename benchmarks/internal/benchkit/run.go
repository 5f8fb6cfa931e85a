package benchkit

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// IsChild reports whether args (os.Args[1:]) ask for a child role: the
// parent re-executes its own binary with "-role=<role>" as the first
// argument.
func IsChild(args []string) bool {
	return len(args) > 0 && strings.HasPrefix(args[0], "-role=")
}

// Main is the main function of a benchmark program whose children are its
// own binary re-executed with a role: when the arguments are a child's
// ([IsChild]), it exits with child's code; otherwise it runs parent with
// the standard output and error and exits 1, the error prefixed with name,
// when parent fails (0 when it failed with [flag.ErrHelp]: -h printed the
// usage).
func Main(name string, child func(args []string) int, parent func(args []string, stdout, stderr io.Writer) error) {
	args := os.Args[1:]
	if IsChild(args) {
		os.Exit(child(args))
	}
	if err := parent(args, os.Stdout, os.Stderr); err != nil && !errors.Is(err, flag.ErrHelp) {
		fmt.Fprintln(os.Stderr, name+":", err)
		os.Exit(1)
	}
}

// Parent is what the parent process of a benchmark program whose children
// are its own binary re-executed (`go run ./benchmarks`, the comparison
// module) sets up before it starts them.
type Parent struct {
	Exe    string    // this binary, to re-execute with a role
	Work   string    // a fresh scratch directory for the run ([Scratch])
	Stderr io.Writer // the given standard error, safe for concurrent writes ([SyncWriter])
	close  func()
}

// StartParent finds this binary, makes the run's scratch directory in out
// ([Scratch]: removed by [Parent.Close] unless keep) and returns the run's
// context ([RunContext]: it ends on SIGINT, SIGTERM or after timeout, and
// at [Parent.Close]).
func StartParent(out string, keep bool, timeout time.Duration, stderr io.Writer) (context.Context, *Parent, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, nil, err
	}
	work, remove, err := Scratch(out, keep)
	if err != nil {
		return nil, nil, err
	}
	ctx, cancel := RunContext(timeout)
	// The children's output pipes copy into stderr concurrently.
	p := &Parent{Exe: exe, Work: work, Stderr: &SyncWriter{W: stderr}, close: func() { cancel(); remove() }}
	return ctx, p, nil
}

// Close ends the run's context, then removes its scratch directory
// (unless kept).
func (p *Parent) Close() { p.close() }

// ModuleRoot is the nearest directory above the working directory holding
// a go.mod, or the working directory.
func ModuleRoot() string {
	wd, err := os.Getwd()
	if err != nil {
		return "."
	}
	for d := wd; ; {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return d
		}
		parent := filepath.Dir(d)
		if parent == d {
			return wd
		}
		d = parent
	}
}

// Scratch makes dir (with its parents) and a fresh directory "work-*" in
// it for the storage directories of one run. remove deletes that work
// directory, unless keep is set (then it does nothing).
func Scratch(dir string, keep bool) (work string, remove func(), err error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", nil, err
	}
	work, err = os.MkdirTemp(dir, "work-")
	if err != nil {
		return "", nil, err
	}
	if keep {
		return work, func() {}, nil
	}
	return work, func() { _ = os.RemoveAll(work) }, nil
}

// RunContext is the parent's context: it ends on SIGINT or SIGTERM, or
// after timeout.
func RunContext(timeout time.Duration) (context.Context, context.CancelFunc) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	ctx, cancel := context.WithTimeout(ctx, timeout)
	return ctx, func() { cancel(); stop() }
}

// UntilClosed blocks until r reaches its end (a child's standard input:
// the parent closed it, or died) or ctx ends.
func UntilClosed(ctx context.Context, r io.Reader) {
	closed := make(chan struct{})
	go func() {
		_, _ = io.Copy(io.Discard, r)
		close(closed)
	}()
	select {
	case <-closed:
	case <-ctx.Done():
	}
}
