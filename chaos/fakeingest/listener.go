package fakeingest

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"
)

// The endpoint's listeners: each address it serves on, taken down and up
// again for the profile's outage windows of mode "refuse", with the
// connection-level faults (resets, cut answers) and the Retry-After it
// last gave.

// hasRefuseWindows reports whether the profile has outage windows of mode
// "refuse", during which the listeners are down.
func (e *Endpoint) hasRefuseWindows() bool {
	for _, w := range e.cfg.Profile.Windows {
		if w.Kind == WindowOutage && w.Mode == OutageRefuse {
			return true
		}
	}
	return false
}

// schedule takes the listeners down and up for the outage windows of mode
// "refuse", until Close.
func (e *Endpoint) schedule() {
	defer e.wg.Done()
	const retry = 50 * time.Millisecond
	for {
		elapsed := time.Since(e.start)
		down := false
		next := time.Duration(-1)
		for _, w := range e.cfg.Profile.Windows {
			if w.Kind != WindowOutage || w.Mode != OutageRefuse {
				continue
			}
			if on, _ := w.active(elapsed); on {
				down = true
			}
			if t, ok := w.next(elapsed + 1); ok && (next < 0 || t < next) {
				next = t
			}
		}
		ok := true
		for _, l := range e.lns {
			if down {
				l.down()
			} else if err := l.up(); err != nil {
				ok = false
				e.log.LogAttrs(context.Background(), slog.LevelError, "chaos: listener back up failed, retrying", slog.String("listener", l.name), slog.Any("err", err))
			}
		}
		wait := next - elapsed
		if next < 0 {
			wait = time.Hour
		}
		if !ok {
			wait = min(wait, retry)
		}
		t := time.NewTimer(wait)
		select {
		case <-e.done:
			t.Stop()
			return
		case <-t.C:
		}
	}
}

// listener is one of the endpoint's addresses with its server, its open
// connections and the Retry-After it last gave.
type listener struct {
	e         *Endpoint
	name      string // "primary" or "secondary"
	secondary bool
	addr      string // fixed after the first listen
	url       string
	srv       *http.Server

	mu     sync.Mutex
	ln     net.Listener // nil while down
	conns  map[net.Conn]http.ConnState
	closed bool
	// notBefore is when the last Retry-After given here ends, given when
	// it was sent.
	notBefore, given time.Time
}

func newListener(e *Endpoint, name string, ln net.Listener) *listener {
	l := &listener{
		e:         e,
		name:      name,
		secondary: name != "primary",
		addr:      ln.Addr().String(),
		url:       "http://" + ln.Addr().String(),
		ln:        ln,
		conns:     map[net.Conn]http.ConnState{},
	}
	l.srv = &http.Server{
		Handler:           l,
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(e.log.Handler(), slog.LevelDebug),
		ConnState:         l.connState,
	}
	return l
}

func (l *listener) connState(c net.Conn, st http.ConnState) {
	l.mu.Lock()
	defer l.mu.Unlock()
	switch st {
	case http.StateHijacked, http.StateClosed:
		delete(l.conns, c)
	default:
		l.conns[c] = st
	}
}

// serve starts serving the current net.Listener.
func (l *listener) serve() {
	ln := l.ln
	l.e.wg.Add(1)
	go func() {
		defer l.e.wg.Done()
		_ = l.srv.Serve(ln) // returns when ln is closed
	}()
}

// down closes the listening socket, so that clients get "connection
// refused" until up, and resets the idle connections. A request being
// handled finishes (its answer is not lost behind the recorder's back);
// a request arriving later on its connection is reset by the handler.
func (l *listener) down() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.ln == nil || l.closed {
		return
	}
	_ = l.ln.Close()
	l.ln = nil
	for c, st := range l.conns {
		if st != http.StateActive {
			resetConn(c)
			delete(l.conns, c)
		}
	}
	l.e.log.LogAttrs(context.Background(), slog.LevelDebug, "chaos: listener down (outage)", slog.String("listener", l.name))
}

// up listens again on the same address after down.
func (l *listener) up() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.ln != nil || l.closed {
		return nil
	}
	ln, err := net.Listen("tcp", l.addr)
	if err != nil {
		return fmt.Errorf("chaos: listen %s again: %w", l.addr, err)
	}
	l.ln = ln
	l.serve()
	l.e.log.LogAttrs(context.Background(), slog.LevelDebug, "chaos: listener up", slog.String("listener", l.name))
	return nil
}

// close stops the listener for good: the listening socket and every
// connection (http.Server.Close).
func (l *listener) close() error {
	l.mu.Lock()
	l.closed = true
	l.ln = nil
	l.mu.Unlock()
	if err := l.srv.Close(); err != nil {
		return fmt.Errorf("chaos: close %s listener: %w", l.name, err)
	}
	return nil
}

// throttle notes a Retry-After answer sent at given, ending at until.
func (l *listener) throttle(given, until time.Time) {
	l.mu.Lock()
	if until.After(l.notBefore) {
		l.notBefore = until
	}
	l.given = given
	l.mu.Unlock()
	l.e.rec.retryAfter(l.name, given, until)
}

// throttledAt reports whether a Retry-After given here runs at t.
func (l *listener) throttledAt(t time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return t.Before(l.notBefore)
}

// redirectMarker is the query parameter a redirect's Location carries.
const redirectMarker = "chaosRedirect"

// checkEarly records a request that arrived at at while a Retry-After ran.
func (l *listener) checkEarly(at time.Time, r *http.Request) {
	l.mu.Lock()
	notBefore, given := l.notBefore, l.given
	l.mu.Unlock()
	if !at.Before(notBefore) {
		return
	}
	v := Violation{
		At: at, Listener: l.name, Remote: r.RemoteAddr, Given: given, NotBefore: notBefore, Early: notBefore.Sub(at),
		ViaRedirect: r.URL.Query().Has(redirectMarker),
	}
	race := at.Sub(given) < l.e.cfg.RetryAfterGrace
	l.e.rec.violation(v, race)
	if !race {
		l.e.log.LogAttrs(context.Background(), slog.LevelWarn, "chaos: request before Retry-After ended",
			slog.String("listener", l.name), slog.String("remote", v.Remote), slog.Duration("early", v.Early),
			slog.Bool("via_redirect", v.ViaRedirect))
	}
}

// resetConn closes c with SO_LINGER 0, so the peer sees a reset (RST)
// instead of an orderly end.
func resetConn(c net.Conn) {
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	_ = c.Close()
}

// hijackReset takes over the connection and resets it.
func hijackReset(w http.ResponseWriter) {
	c, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		panic(http.ErrAbortHandler) // closes the connection
	}
	resetConn(c)
}

// hijackClose flushes what was written and closes the connection without
// finishing the response.
func hijackClose(w http.ResponseWriter) {
	rc := http.NewResponseController(w)
	_ = rc.Flush()
	c, _, err := rc.Hijack()
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	_ = c.Close()
}
