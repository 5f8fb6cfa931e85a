package sender

import "errors"

// Sentinel errors. Callers branch on them with errors.Is.
var (
	// ErrInvalidConfig is wrapped by every problem [Config.Validate] (and so
	// [New]) reports.
	ErrInvalidConfig = errors.New("sender: invalid config")

	// ErrClosed is returned by [Sender.Run], [Sender.Flush] and
	// [Sender.Close]'s callers after Close.
	ErrClosed = errors.New("sender: closed")

	// ErrRunning is returned by [Sender.Run] when the Sender is already
	// running.
	ErrRunning = errors.New("sender: already running")

	// ErrQueueClosed is wrapped by a [Queue]'s Lease when the queue is
	// closed for good; [Sender.Run] then returns it.
	ErrQueueClosed = errors.New("sender: queue closed")
)

// Errors that only reach the logs: the batch is kept and the endpoint backs
// off.
var (
	// errToken is wrapped when the token source fails; the batch is kept and
	// the endpoint backs off, as for a 401.
	errToken = errors.New("sender: no bearer token")

	// errRedirect is wrapped when a 307/308 cannot be followed: no or bad
	// Location, more than MaxRedirects hops, or a bearer token would go to
	// a host outside Azure Monitor. The batch is kept and the endpoint backs
	// off.
	errRedirect = errors.New("sender: redirect not followed")
)
