package ingest

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aispool/aispool/internal/testkit"
)

// startServe serves h with Serve on loopback HTTP and returns its address.
func startServe(t *testing.T, h http.Handler) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- Serve(ctx, ln, "", "", h, quietLogger()) }()
	t.Cleanup(func() {
		cancel()
		if err := <-served; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return ln.Addr().String()
}

// slowBody opens a connection that sends a request's headers (announcing
// a body of 100,000 bytes) and then one body byte every interval until
// stop is closed or the server answers; it returns the status the server
// answered (0: none) and when.
func slowBody(t *testing.T, addr string, interval time.Duration, stop <-chan struct{}) <-chan slowResult {
	t.Helper()
	out := make(chan slowResult, 1)
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	fmt.Fprintf(c, "POST /v2.1/track HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n[", addr)
	answered := make(chan slowResult, 1)
	go func() {
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			answered <- slowResult{after: time.Since(start)}
			return
		}
		raw, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		answered <- slowResult{status: resp.StatusCode, body: string(raw), close: resp.Close, after: time.Since(start)}
	}()
	go func() {
		defer c.Close()
		tick := time.NewTicker(interval)
		defer tick.Stop()
		for {
			select {
			case r := <-answered:
				out <- r
				return
			case <-stop:
				_ = c.Close()
				out <- <-answered
				return
			case <-tick.C:
				_, _ = c.Write([]byte(" "))
			}
		}
	}()
	return out
}

type slowResult struct {
	status int
	body   string
	close  bool
	after  time.Duration
}

// TestSlowBodiesDoNotHoldSlots (issue 13, item 2): 50 connections that
// send their headers and then one body byte per second hold no slot: a
// normal client's posts are each answered within 2 s meanwhile.
func TestSlowBodiesDoNotHoldSlots(t *testing.T) {
	sp := openSpool(t, nil)
	addr := startServe(t, newHandler(t, Config{Spool: sp}))
	stop := make(chan struct{})
	var slow []<-chan slowResult
	for range 50 {
		slow = append(slow, slowBody(t, addr, time.Second, stop))
	}
	time.Sleep(300 * time.Millisecond) // every slow request is being read
	client := &http.Client{Timeout: 5 * time.Second}
	var acked []string
	for i := range 10 {
		items := envs(fmt.Sprint("normal-", i), 3)
		start := time.Now()
		r := post(t, client, "http://"+addr+"/v2.1/track", bytes.NewReader(testkit.NDJSON(items...)), nil)
		if d := time.Since(start); r.Status != 200 || d > 2*time.Second {
			t.Fatalf("normal post %d with 50 slow bodies open: %d after %v, want 200 within 2 s", i, r.Status, d)
		}
		acked = append(acked, records(items)...)
	}
	close(stop)
	for _, s := range slow {
		<-s
	}
	if got := drain(t, sp); len(got) != len(acked) {
		t.Fatalf("spool holds %d records, acknowledged %d", len(got), len(acked))
	}
}

// dribble is a request body that yields one byte every interval, up to n
// bytes, or all of it at once after delay if interval is 0.
type dribble struct {
	data     []byte
	interval time.Duration
	delay    time.Duration
	off      int
}

func (d *dribble) Read(p []byte) (int, error) {
	if d.off >= len(d.data) {
		return 0, io.EOF
	}
	if d.interval == 0 {
		time.Sleep(d.delay)
		d.delay = 0
		n := copy(p, d.data[d.off:])
		d.off += n
		return n, nil
	}
	time.Sleep(d.interval)
	p[0] = d.data[d.off]
	d.off++
	return 1, nil
}

// TestMinBodyRate: a body that arrives slower than MinBodyRate is cut
// with 408 (over HTTP/1.1 and HTTP/2), and nothing is stored; a body that
// is late by less than the grace, or fast enough, is served.
func TestMinBodyRate(t *testing.T) {
	sp := openSpool(t, nil)
	h := newHandler(t, Config{Spool: sp, MinBodyRate: 1000, BodyRateGrace: 300 * time.Millisecond})
	items := envs("rate", 2)
	body := testkit.NDJSON(items...)
	for _, h2 := range []bool{false, true} {
		base, client := startHTTPS(t, h, h2)
		t.Run(fmt.Sprintf("h2=%v slow", h2), func(t *testing.T) {
			start := time.Now()
			req, _ := http.NewRequest(http.MethodPost, base+"/v2.1/track", &dribble{data: body, interval: 50 * time.Millisecond})
			req.ContentLength = int64(len(body))
			r := do(t, client, req)
			d := time.Since(start)
			if r.Status != http.StatusRequestTimeout || !strings.Contains(r.Body.Message, "slower than the minimum of 1000 bytes/s") {
				t.Fatalf("answer %d %s, want 408", r.Status, r.Raw)
			}
			if d > 5*time.Second {
				t.Fatalf("cut after %v", d)
			}
		})
		t.Run(fmt.Sprintf("h2=%v late within the grace", h2), func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodPost, base+"/v2.1/track", &dribble{data: body, delay: 150 * time.Millisecond})
			req.ContentLength = int64(len(body))
			if r := do(t, client, req); r.Status != http.StatusOK {
				t.Fatalf("answer %d %s, want 200", r.Status, r.Raw)
			}
		})
	}
	if got := drain(t, sp); len(got) != 2*len(items) {
		t.Fatalf("spool holds %d records, want %d", len(got), 2*len(items))
	}
	if st := h.Stats(); st.Requests[408] != 2 || st.MemoryInUse != 0 {
		t.Fatalf("stats %+v", st)
	}
}

// TestSlowBodyCutOnRawConnection: a connection that sends one body byte
// per 100 ms is answered 408 with "Connection: close" once it falls behind.
func TestSlowBodyCutOnRawConnection(t *testing.T) {
	addr := startServe(t, newHandler(t, Config{MinBodyRate: 1000, BodyRateGrace: 200 * time.Millisecond}))
	stop := make(chan struct{})
	defer close(stop)
	select {
	case r := <-slowBody(t, addr, 100*time.Millisecond, stop):
		if r.status != http.StatusRequestTimeout || !r.close || !strings.Contains(r.body, "nothing was stored") {
			t.Fatalf("answer %d (close %v) %s after %v", r.status, r.close, r.body, r.after)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a body at 10 bytes/s was not cut")
	}
}
