package benchkit

import (
	"context"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"
)

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
