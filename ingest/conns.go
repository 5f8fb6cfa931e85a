package ingest

import (
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
)

// DefaultMaxConnections is the connection cap of Serve and the daemon's
// default: each open connection costs a goroutine and its buffers (some
// tens of KiB, more over TLS) whether it sends anything or not.
const DefaultMaxConnections = 512

// ConnLimiter is a net.Listener that keeps at most a number of connections
// open at once; see LimitListener.
type ConnLimiter struct {
	net.Listener
	max     int64
	open    atomic.Int64
	refused atomic.Uint64
	log     *logSummary
}

// LimitListener returns a listener that keeps at most max connections
// from ln open at once. A connection beyond that is closed as soon as it is
// accepted, before anything is read from it or written to it: its client
// sees the connection closed and sends again later (SDKs keep what they
// could not send), while the connections open are served. The first
// refusal is logged at warning level; the refusals that follow are
// counted and logged as one line per SummaryInterval while they go on.
// max < 1 means DefaultMaxConnections.
func LimitListener(ln net.Listener, max int, logger *slog.Logger) *ConnLimiter {
	if max < 1 {
		max = DefaultMaxConnections
	}
	if logger == nil {
		logger = slog.Default()
	}
	return &ConnLimiter{Listener: ln, max: int64(max), log: newLogSummary(logger, slog.LevelWarn, SummaryInterval)}
}

// Accept returns the next connection within the cap, closing those beyond
// it.
func (l *ConnLimiter) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		if l.open.Add(1) <= l.max {
			return &limitedConn{Conn: c, l: l}, nil
		}
		l.open.Add(-1)
		// Counted and logged before it is closed: a client that sees its
		// connection closed finds it in Refused (TestLimitListener
		// failed now and then when the count came after).
		n := l.refused.Add(1)
		l.log.Log("limit", "ingest: connection limit reached; refusing new connections until some close",
			"max_connections", l.max, "refused_total", n)
		_ = c.Close()
	}
}

// Open returns the number of connections open now.
func (l *ConnLimiter) Open() int { return int(l.open.Load()) }

// Refused returns the number of connections refused since the start.
func (l *ConnLimiter) Refused() uint64 { return l.refused.Load() }

// limitedConn gives its place back when it is closed.
type limitedConn struct {
	net.Conn
	l    *ConnLimiter
	once sync.Once
}

func (c *limitedConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() { c.l.open.Add(-1) })
	return err
}

// CloseWrite closes the sending side, as net/http does before closing a
// connection it refuses, when the connection supports it.
func (c *limitedConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}
