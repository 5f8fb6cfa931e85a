package benchkit

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync/atomic"
	"time"
)

// Upstream is a loopback ingestion endpoint in the parent's process that
// accepts every item and counts them: the newline-delimited lines of each
// body (gzip or not), the last one whether or not a newline ends it. It
// is cheaper than the endpoint role ([ServeEndpoint]) and answers nothing
// but 200 (or 400 for a body it cannot read).
type Upstream struct {
	srv *http.Server
	// URL is its base URL (http://127.0.0.1:port).
	URL   string
	items atomic.Int64
}

// StartUpstream serves an [Upstream] on 127.0.0.1:0 until [Upstream.Close].
func StartUpstream() (*Upstream, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	up := &Upstream{URL: "http://" + ln.Addr().String()}
	up.srv = &http.Server{ReadHeaderTimeout: 10 * time.Second, Handler: http.HandlerFunc(up.serve)}
	go func() { _ = up.srv.Serve(ln) }()
	return up, nil
}

func (up *Upstream) serve(w http.ResponseWriter, r *http.Request) {
	var rd io.Reader = r.Body
	if r.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		rd = zr
	}
	b, err := io.ReadAll(rd)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	n := bytes.Count(b, []byte{'\n'})
	if len(b) > 0 && b[len(b)-1] != '\n' {
		n++
	}
	up.items.Add(int64(n))
	w.Header().Set("Content-Type", "application/json")
	_, _ = fmt.Fprintf(w, `{"itemsReceived":%d,"itemsAccepted":%d,"errors":[]}`, n, n)
}

// Items is how many items it has accepted since it started or since the
// last [Upstream.ResetItems].
func (up *Upstream) Items() int64 { return up.items.Load() }

// ResetItems sets the count back to 0.
func (up *Upstream) ResetItems() { up.items.Store(0) }

// Close stops serving.
func (up *Upstream) Close() error { return up.srv.Close() }
