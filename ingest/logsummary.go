package ingest

import (
	"context"
	"log"
	"log/slog"
	"regexp"
	"strings"
	"sync"
	"time"
)

// SummaryInterval is how often repeated connection-level log lines are
// summarised (see NewServer).
const SummaryInterval = 10 * time.Second

// maxSummaryKeys bounds the distinct messages counted at once; the rest
// are counted together.
const maxSummaryKeys = 64

// logSummary logs repeated messages once with a count per interval, so that
// a flood of identical events (a scanner, a misconfigured client) does not
// flood the log: the first occurrence of a message is logged at once; the
// repeats that follow within the interval are counted, and when the
// interval ends one line says how many there were (attribute "repeated")
// and another interval begins. An interval without repeats ends the
// summary: the next occurrence is logged at once again.
type logSummary struct {
	log      *slog.Logger
	level    slog.Level
	interval time.Duration
	after    func(time.Duration, func()) // time.AfterFunc; tests replace it

	mu   sync.Mutex
	keys map[string]*repeated
}

// repeated counts the repeats of one message in the current interval.
type repeated struct {
	msg   string
	args  []any // of the last repeat
	count int
}

func newLogSummary(log *slog.Logger, level slog.Level, interval time.Duration) *logSummary {
	return &logSummary{log: log, level: level, interval: interval, keys: make(map[string]*repeated),
		after: func(d time.Duration, f func()) { time.AfterFunc(d, f) }}
}

// Log logs msg with args, or counts it if a message with the same key was
// logged less than an interval ago.
func (s *logSummary) Log(key, msg string, args ...any) {
	s.mu.Lock()
	if r, ok := s.keys[key]; ok {
		r.count++
		r.args = args
		s.mu.Unlock()
		return
	}
	if len(s.keys) >= maxSummaryKeys {
		key, msg = "\x00other", "ingest: other connection-level events"
		if r, ok := s.keys[key]; ok {
			r.count++
			s.mu.Unlock()
			return
		}
	}
	s.keys[key] = &repeated{msg: msg}
	s.after(s.interval, func() { s.flush(key) })
	s.mu.Unlock()
	s.log.Log(context.Background(), s.level, msg, args...)
}

// flush ends key's interval: it logs the count of its repeats and starts
// another interval, or forgets the key if there were none.
func (s *logSummary) flush(key string) {
	s.mu.Lock()
	r := s.keys[key]
	if r == nil {
		s.mu.Unlock()
		return
	}
	if r.count == 0 {
		delete(s.keys, key)
		s.mu.Unlock()
		return
	}
	n, args := r.count, r.args
	r.count, r.args = 0, nil
	s.after(s.interval, func() { s.flush(key) })
	s.mu.Unlock()
	args = append(append([]any(nil), args...), "repeated", n, "interval", s.interval.String())
	s.log.Log(context.Background(), s.level, r.msg, args...)
}

// clientAddr matches a client address in net/http's log lines:
// "127.0.0.1:54321", "[::1]:54321".
var clientAddr = regexp.MustCompile(`(?:\d{1,3}(?:\.\d{1,3}){3}|\[[0-9A-Za-z:.%]+\]):\d+`)

// errorLogWriter is the writer of an http.Server's ErrorLog: each line
// (a TLS handshake error, a broken HTTP/2 preface, an accept error) becomes
// a log record, summarised by message, the client's address aside, so that
// 2,000 plain-HTTP connections to the HTTPS port write two lines, not
// 2,000.
type errorLogWriter struct{ sum *logSummary }

func (w errorLogWriter) Write(p []byte) (int, error) {
	line := strings.TrimSpace(string(p))
	remote := clientAddr.FindString(line)
	key := clientAddr.ReplaceAllString(line, "<client>")
	args := []any{"err", key}
	if remote != "" {
		args = append(args, "remote", remote)
	}
	w.sum.Log(key, "ingest: connection error", args...)
	return len(p), nil
}

// newErrorLog returns an http.Server.ErrorLog that logs to logger at
// warning level, summarising repeats every interval.
func newErrorLog(logger *slog.Logger, interval time.Duration) *log.Logger {
	return errorLogFor(newLogSummary(logger, slog.LevelWarn, interval))
}

func errorLogFor(s *logSummary) *log.Logger { return log.New(errorLogWriter{s}, "", 0) }
