package benchkit

import (
	"fmt"
	"strings"
	"sync"
	"time"
)

// Lines is a child's standard output: it keeps the lines and offers each
// one to [Lines.Await] (on a buffered channel: lines beyond its size are
// only kept, for [Lines.Find]). The zero value is not usable: see
// [NewLines].
type Lines struct {
	mu    sync.Mutex
	part  []byte
	lines []string
	ch    chan string
}

// NewLines returns an empty Lines.
func NewLines() *Lines { return &Lines{ch: make(chan string, 64)} }

// Write implements io.Writer.
func (c *Lines) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.part = append(c.part, p...)
	for {
		i := strings.IndexByte(string(c.part), '\n')
		if i < 0 {
			return len(p), nil
		}
		line := strings.TrimRight(string(c.part[:i]), "\r")
		c.part = c.part[i+1:]
		c.lines = append(c.lines, line)
		select {
		case c.ch <- line:
		default:
		}
	}
}

// Find returns the rest of the last line starting with prefix.
func (c *Lines) Find(prefix string) (string, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i := len(c.lines) - 1; i >= 0; i-- {
		if rest, ok := strings.CutPrefix(c.lines[i], prefix); ok {
			return rest, true
		}
	}
	return "", false
}

// Await waits for a line starting with prefix and returns its rest; or
// fails when the child exits first (exited is closed) or timeout passes.
func (c *Lines) Await(prefix string, exited <-chan struct{}, timeout time.Duration) (string, error) {
	t := time.NewTimer(timeout)
	defer t.Stop()
	for {
		select {
		case line := <-c.ch:
			if rest, ok := strings.CutPrefix(line, prefix); ok {
				return rest, nil
			}
		case <-exited:
			if rest, ok := c.Find(prefix); ok {
				return rest, nil
			}
			return "", fmt.Errorf("exited before it said %q", prefix)
		case <-t.C:
			if rest, ok := c.Find(prefix); ok {
				return rest, nil
			}
			return "", fmt.Errorf("did not say %q within %s", prefix, timeout)
		}
	}
}
