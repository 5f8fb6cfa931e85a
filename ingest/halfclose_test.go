package ingest

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aispool/aispool/internal/testkit"
)

// halfClosePost sends one complete HTTP/1.1 request over a raw TCP
// connection, closes the connection's sending side (CloseWrite: the
// server reads EOF after the request), and returns the answer.
func halfClosePost(t *testing.T, addr, body string) response {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(20 * time.Second))
	req := fmt.Sprintf("POST /v2.1/track HTTP/1.1\r\nHost: %s\r\nContent-Type: application/x-json-stream\r\nContent-Length: %d\r\n\r\n%s", addr, len(body), body)
	if _, err := io.WriteString(c, req); err != nil {
		t.Fatal(err)
	}
	if err := c.(*net.TCPConn).CloseWrite(); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("reading the answer: %v", err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return response{Status: resp.StatusCode, RetryAfter: resp.Header.Get("Retry-After"), Raw: string(raw)}
}

// TestHalfClosedClient: a client that closes its sending side after a
// complete request (the server's read of the connection ends: the request's
// context is cancelled) still gets its answer, and a 200 means stored, also
// when the request had to wait for a slot.
func TestHalfClosedClient(t *testing.T) {
	t.Run("direct", func(t *testing.T) {
		sp := openSpool(t, nil)
		srv := startHTTP(t, newHandler(t, Config{Spool: sp}))
		addr := strings.TrimPrefix(srv.URL, "http://")
		var want []string
		for i := range 20 {
			items := envs(fmt.Sprint("half-", i), 3)
			r := halfClosePost(t, addr, string(testkit.NDJSON(items...)))
			if r.Status != http.StatusOK || !strings.Contains(r.Raw, `"itemsAccepted":3`) {
				t.Fatalf("post %d: answer %d %s, want 200", i, r.Status, r.Raw)
			}
			want = append(want, records(items)...)
		}
		if got := drain(t, sp); !slices.Equal(got, want) {
			t.Fatalf("spool holds %d records, acknowledged %d", len(got), len(want))
		}
	})
	t.Run("waiting for a slot", func(t *testing.T) {
		sp := openSpool(t, nil)
		entered, release := make(chan struct{}), make(chan struct{})
		first := true
		app := &fakeAppender{next: sp, err: func(call int, _ [][]byte) error {
			if call == 1 && first {
				first = false
				close(entered)
				<-release
			}
			return nil
		}}
		srv := startHTTP(t, newHandler(t, Config{Spool: app, MaxConcurrent: 1}))
		addr := strings.TrimPrefix(srv.URL, "http://")
		blocker := envs("blocker", 1)
		done := make(chan int, 1)
		go func() {
			resp, err := http.Post(srv.URL+"/v2.1/track", "application/json", bytes.NewReader(testkit.NDJSON(blocker...)))
			if err != nil {
				done <- 0
				return
			}
			resp.Body.Close()
			done <- resp.StatusCode
		}()
		<-entered // the only slot is taken
		items := envs("half-waiting", 2)
		go func() {
			time.Sleep(200 * time.Millisecond)
			close(release)
		}()
		r := halfClosePost(t, addr, string(testkit.NDJSON(items...)))
		if r.Status != http.StatusOK || !strings.Contains(r.Raw, `"itemsAccepted":2`) {
			t.Fatalf("answer %d %q, want 200 accepting 2", r.Status, r.Raw)
		}
		if code := <-done; code != http.StatusOK {
			t.Fatalf("blocking request: %d", code)
		}
		got := drain(t, sp)
		slices.Sort(got)
		want := append(records(blocker), records(items)...)
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Fatalf("spool holds %q, want %q", got, want)
		}
	})
}
