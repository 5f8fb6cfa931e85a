package fakeingest

import (
	"fmt"
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"
)

// recordingTB records what StartForTest asks of a test; Fatalf ends the
// goroutine, as testing.T's does.
type recordingTB struct {
	fatal, errs []string
	cleanups    []func()
}

func (r *recordingTB) Helper() {}
func (r *recordingTB) Fatalf(format string, args ...any) {
	r.fatal = append(r.fatal, fmt.Sprintf(format, args...))
	runtime.Goexit()
}
func (r *recordingTB) Errorf(format string, args ...any) {
	r.errs = append(r.errs, fmt.Sprintf(format, args...))
}
func (r *recordingTB) Cleanup(f func()) { r.cleanups = append(r.cleanups, f) }

// start runs StartForTest in a goroutine of its own, so that Fatalf can
// end it.
func (r *recordingTB) start(cfg Config) (ep *Endpoint) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		ep = StartForTest(r, cfg)
	}()
	<-done
	return ep
}

// TestStartForTest: a valid configuration is started, answers, and is
// closed by the cleanup it registers; one that cannot be created or
// started fails the test with the reason.
func TestStartForTest(t *testing.T) {
	client := newClient(t, 5*time.Second)
	var ok recordingTB
	ep := ok.start(Config{Logger: discard()})
	if ep == nil || len(ok.fatal) != 0 || len(ok.cleanups) != 1 {
		t.Fatalf("StartForTest: endpoint %v, fatal %q, %d cleanups", ep, ok.fatal, len(ok.cleanups))
	}
	if a := post(t, client, ep.URL()+"/v2.1/track", ndjson("x-0001"), false); a.status != http.StatusOK {
		t.Fatalf("the started endpoint answered %d %s", a.status, a.body)
	}

	var notLoopback recordingTB
	if ep := notLoopback.start(Config{Addr: "0.0.0.0:0", Logger: discard()}); ep != nil ||
		len(notLoopback.fatal) != 1 || !strings.Contains(notLoopback.fatal[0], "fakeingest.New") {
		t.Errorf("a non-loopback address: endpoint %v, fatal %q", ep, notLoopback.fatal)
	}

	addr := strings.TrimPrefix(ep.URL(), "http://")
	var taken recordingTB
	if ep := taken.start(Config{Addr: addr, Logger: discard()}); ep != nil ||
		len(taken.fatal) != 1 || !strings.Contains(taken.fatal[0], "start the fake ingestion endpoint on "+addr) {
		t.Errorf("an address in use: endpoint %v, fatal %q", ep, taken.fatal)
	}

	ok.cleanups[0]()
	if len(ok.errs) != 0 {
		t.Errorf("cleanup: %q", ok.errs)
	}
	client.Transport.(*http.Transport).CloseIdleConnections()
	if _, err := client.Post(ep.URL()+"/v2.1/track", "application/x-json-stream", strings.NewReader("{}\n")); err == nil {
		t.Error("the endpoint still answers after its cleanup ran")
	}
}
