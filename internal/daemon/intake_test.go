package daemon

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aispool/aispool/chaos/fakeingest"
	"github.com/aispool/aispool/internal/testkit"
)

// startDaemon runs a daemon for cfg until the test ends.
func startDaemon(t *testing.T, cfg Config) *Daemon {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	d, err := New(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run = %v", err)
		}
	})
	return d
}

// TestDaemonSlowBodies (issue 13, item 2): with 50 connections sending
// their bodies at one byte per second, a normal client's posts to the
// daemon are each answered 200 within 2 s.
func TestDaemonSlowBodies(t *testing.T) {
	up := startUpstream(t)
	d := startDaemon(t, testConfig(t, up.ConnectionString("")))
	addr := strings.TrimPrefix(d.IngestURL(), "http://")
	var conns []net.Conn
	for range 50 {
		c, err := net.DialTimeout("tcp", addr, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
		fmt.Fprintf(c, "POST /v2.1/track HTTP/1.1\r\nHost: %s\r\nContent-Length: 100000\r\n\r\n[", addr)
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			case <-time.After(time.Second):
			}
			for _, c := range conns {
				_, _ = c.Write([]byte(" "))
			}
		}
	}()
	defer func() {
		close(stop)
		wg.Wait()
		for _, c := range conns {
			c.Close()
		}
	}()
	client := &http.Client{Timeout: 5 * time.Second}
	var ids []string
	for i := range 10 {
		id := fmt.Sprint("slow-daemon-", i)
		ids = append(ids, id)
		start := time.Now()
		resp, err := client.Post(d.IngestURL()+"/v2.1/track", "application/x-json-stream", bytes.NewReader(fakeingest.Envelope(id)))
		if err != nil {
			t.Fatalf("post %d: %v", i, err)
		}
		resp.Body.Close()
		if took := time.Since(start); resp.StatusCode != 200 || took > 2*time.Second {
			t.Fatalf("post %d with 50 slow bodies open: %d after %v", i, resp.StatusCode, took)
		}
	}
	waitDelivered(t, up, ids)
}

// TestDaemonConnectionCap: past --max-connections the daemon closes new
// connections at once, with one log line, and serves the others.
func TestDaemonConnectionCap(t *testing.T) {
	up := startUpstream(t)
	cfg := testConfig(t, up.ConnectionString(""))
	var logs testkit.SyncBuffer
	cfg.Logger = slog.New(slog.NewJSONHandler(&logs, nil))
	cfg.MaxConnections = 2
	d := startDaemon(t, cfg)
	addr := strings.TrimPrefix(d.IngestURL(), "http://")
	var held []net.Conn
	for range 2 {
		c, err := net.DialTimeout("tcp", addr, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		held = append(held, c)
		defer c.Close()
	}
	time.Sleep(100 * time.Millisecond) // both accepted
	for i := range 20 {
		c, err := net.DialTimeout("tcp", addr, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
		if n, err := c.Read(make([]byte, 1)); n != 0 || err == nil {
			t.Fatalf("connection %d over the cap: read %d, %v", i, n, err)
		}
		c.Close()
	}
	if n := strings.Count(logs.String(), "connection limit reached"); n != 1 {
		t.Fatalf("%d log lines for 20 refused connections:\n%s", n, logs.String())
	}
	// A held connection is served.
	body := string(fakeingest.Envelope("capped"))
	fmt.Fprintf(held[0], "POST /v2.1/track HTTP/1.1\r\nHost: %s\r\nContent-Length: %d\r\n\r\n%s", addr, len(body), body)
	_ = held[0].SetReadDeadline(time.Now().Add(5 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(held[0]), nil)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("held connection: %v %v", resp, err)
	}
	resp.Body.Close()
	waitDelivered(t, up, []string{"capped"})
}
