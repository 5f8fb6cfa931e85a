package benchkit

import (
	"bytes"
	"compress/gzip"
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aispool/aispool/chaos/fakeingest"
	"github.com/aispool/aispool/internal/testkit"
)

// startEndpoint serves an endpoint in this process as the endpoint role
// does in a child: it returns its client and a function that closes its
// standard input and returns what ServeEndpoint returned.
func startEndpoint(t *testing.T, bodies fakeingest.BodyMode, down bool) (*EndpointClient, func() error) {
	t.Helper()
	stdinR, stdinW := io.Pipe()
	out := NewLines()
	served := make(chan error, 1)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	go func() { served <- ServeEndpoint(ctx, bodies, down, stdinR, out) }()
	exited := make(chan struct{})
	url, err := out.Await("LISTEN ", exited, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(url, "http://127.0.0.1:") {
		t.Fatalf("listens on %q, not on loopback", url)
	}
	stop := sync.OnceValue(func() error {
		_ = stdinW.Close()
		select {
		case err := <-served:
			return err
		case <-time.After(10 * time.Second):
			return fmt.Errorf("the endpoint did not stop when its standard input closed")
		}
	})
	t.Cleanup(func() { _ = stop() })
	return NewEndpointClient(url), stop
}

func post(t *testing.T, base string, body []byte) int {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, base+"/v2.1/track", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Encoding", "gzip")
	req.Header.Set("Content-Type", "application/x-json-stream")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	return resp.StatusCode
}

// The endpoint counts the lines of accepted bodies, refuses while down,
// and stops when its standard input closes.
func TestEndpointCountsAndGoesDown(t *testing.T) {
	ctx := context.Background()
	c, stop := startEndpoint(t, fakeingest.CountBodies, false)
	body := testkit.Gzip(testkit.NDJSON(`{"a":1}`, `{"a":2}`, `{"a":3}`))
	if code := post(t, c.Base, body); code != http.StatusOK {
		t.Fatalf("post answered %d", code)
	}
	if err := c.SetDown(ctx, true); err != nil {
		t.Fatal(err)
	}
	if code := post(t, c.Base, body); code != http.StatusServiceUnavailable {
		t.Fatalf("post while down answered %d", code)
	}
	if err := c.SetDown(ctx, false); err != nil {
		t.Fatal(err)
	}
	if code := post(t, c.Base, []byte("not gzip")); code/100 != 4 {
		t.Fatalf("a bad body answered %d", code)
	}
	st, err := c.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := EndpointStats{Items: 3, BodyBytes: int64(len(body)), Requests: 1, Rejected: 1, BadBodies: 1}
	if st != want {
		t.Errorf("stats %+v, want %+v", st, want)
	}
	// WaitItems returns at once when the count is reached, and with the
	// last count and no error at its deadline.
	if st, err := c.WaitItems(ctx, 3, time.Millisecond, time.Now().Add(time.Minute)); err != nil || st.Items != 3 {
		t.Errorf("WaitItems(3) = %+v, %v", st, err)
	}
	t0 := time.Now()
	if st, err := c.WaitItems(ctx, 4, 5*time.Millisecond, t0.Add(50*time.Millisecond)); err != nil || st.Items != 3 || time.Since(t0) < 50*time.Millisecond {
		t.Errorf("WaitItems(4) = %+v, %v after %s", st, err, time.Since(t0))
	}
	if err := c.SetDown(ctx, false); err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, c.Base+"/control?down=maybe", nil)
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusBadRequest {
		t.Errorf("control?down=maybe: %v %v", resp, err)
	} else {
		_ = resp.Body.Close()
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Stats(ctx); err == nil {
		t.Error("the endpoint still answers after its standard input closed")
	}
}

func TestEndpointDiscards(t *testing.T) {
	c, _ := startEndpoint(t, fakeingest.DiscardBodies, true)
	body := testkit.Gzip(testkit.NDJSON(`{"a":1}`))
	if code := post(t, c.Base, body); code != http.StatusServiceUnavailable {
		t.Fatalf("post to an endpoint started down answered %d", code)
	}
	if err := c.SetDown(context.Background(), false); err != nil {
		t.Fatal(err)
	}
	if code := post(t, c.Base, body); code != http.StatusOK {
		t.Fatalf("post answered %d", code)
	}
	st, err := c.Stats(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if st.Items != 0 || st.Requests != 1 || st.Rejected != 1 || st.BodyBytes != int64(len(body)) {
		t.Errorf("stats %+v: a discarding endpoint counts requests and bytes, not items", st)
	}
}

func TestLines(t *testing.T) {
	l := NewLines()
	for _, p := range []string{"HEL", "LO 1\r\nRESULT {\"a\"", ":1}\nHELLO 2\npartial"} {
		if n, err := l.Write([]byte(p)); err != nil || n != len(p) {
			t.Fatalf("Write(%q) = %d, %v", p, n, err)
		}
	}
	if rest, ok := l.Find("HELLO "); !ok || rest != "2" {
		t.Errorf("Find(HELLO) = %q, %v; want the last one, 2", rest, ok)
	}
	if rest, ok := l.Find("RESULT "); !ok || rest != `{"a":1}` {
		t.Errorf("Find(RESULT) = %q, %v", rest, ok)
	}
	if _, ok := l.Find("partial"); ok {
		t.Error("an unfinished line was found")
	}
	if rest, err := l.Await("RESULT ", nil, time.Second); err != nil || rest != `{"a":1}` {
		t.Errorf("Await(RESULT) = %q, %v", rest, err)
	}
	exited := make(chan struct{})
	close(exited)
	if _, err := l.Await("NEVER ", exited, time.Minute); err == nil || !strings.Contains(err.Error(), "exited before") {
		t.Errorf("Await after the exit: %v", err)
	}
	if _, err := l.Await("NEVER ", nil, 10*time.Millisecond); err == nil || !strings.Contains(err.Error(), "within") {
		t.Errorf("Await past its timeout: %v", err)
	}
	go func() {
		time.Sleep(10 * time.Millisecond)
		_, _ = l.Write([]byte("\nLATE yes\n"))
	}()
	if rest, err := l.Await("LATE ", nil, 10*time.Second); err != nil || rest != "yes" {
		t.Errorf("Await(LATE) = %q, %v", rest, err)
	}
}

func TestDirBytes(t *testing.T) {
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "a", "b"), 0o755); err != nil {
		t.Fatal(err)
	}
	for name, n := range map[string]int{"x": 10, "a/y": 200, "a/b/z": 3000} {
		if err := os.WriteFile(filepath.Join(dir, name), make([]byte, n), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if got := DirBytes(dir); got != 3210 {
		t.Errorf("DirBytes = %d, want 3210", got)
	}
	if got := DirBytes(filepath.Join(dir, "missing")); got != 0 {
		t.Errorf("DirBytes of a missing directory = %d", got)
	}
}

func TestSyncWriter(t *testing.T) {
	var b bytes.Buffer
	w := &SyncWriter{W: &b}
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 100 {
				_, _ = w.Write([]byte("0123456789\n"))
			}
		})
	}
	wg.Wait()
	if b.Len() != 8*100*11 || strings.Count(b.String(), "0123456789\n") != 800 {
		t.Errorf("%d bytes written, lines interleaved", b.Len())
	}
}

// UsageOf reads a real child's rusage; this process's own figures come
// from /proc.
func TestUsageAndProc(t *testing.T) {
	if u := UsageOf(nil); u != (Usage{}) {
		t.Errorf("UsageOf(nil) = %+v", u)
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, "-test.run=^$")
	cmd.Env = ChildEnv()
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	u := UsageOf(cmd.ProcessState)
	if u.CPU <= 0 || u.Voluntary+u.Involuntary <= 0 {
		t.Errorf("a child's usage %+v: no CPU or no context switch", u)
	}
	if SelfCPU() <= 0 {
		t.Error("SelfCPU is 0")
	}
	if runtime.GOOS != "linux" {
		return
	}
	if u.MaxRSSKiB <= 0 {
		t.Errorf("a child's usage %+v: no peak RSS", u)
	}
	if hwm := ReadHWM(); hwm <= 0 {
		t.Errorf("ReadHWM = %d", hwm)
	}
	if v := ReadStatusKiB("VmRSS", "NoSuchField"); v[0] <= 0 || v[1] != 0 {
		t.Errorf("ReadStatusKiB = %v", v)
	}
	if v := ProcStatusKiB(os.Getpid(), "VmHWM", "NoSuchField"); v[0] <= 0 || v[1] != 0 {
		t.Errorf("ProcStatusKiB(self) = %v", v)
	}
	if v := ProcStatusKiB(-1, "VmRSS"); v[0] != 0 {
		t.Errorf("ProcStatusKiB(no such process) = %v", v)
	}
	if LoadAvg() == "unknown" || CPUModel() == "" {
		t.Errorf("LoadAvg %q, CPUModel %q", LoadAvg(), CPUModel())
	}
}

func TestScratch(t *testing.T) {
	for _, keep := range []bool{false, true} {
		dir := filepath.Join(t.TempDir(), "out", "deeper")
		work, remove, err := Scratch(dir, keep)
		if err != nil {
			t.Fatal(err)
		}
		if filepath.Dir(work) != dir || !strings.HasPrefix(filepath.Base(work), "work-") {
			t.Errorf("work directory %s, want work-* in %s", work, dir)
		}
		if err := os.WriteFile(filepath.Join(work, "f"), []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
		remove()
		if _, err := os.Stat(work); keep != (err == nil) {
			t.Errorf("keep %v: after remove, Stat(work) = %v", keep, err)
		}
	}
}

func TestRunContextTimesOut(t *testing.T) {
	ctx, cancel := RunContext(20 * time.Millisecond)
	defer cancel()
	select {
	case <-ctx.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("RunContext did not end at its timeout")
	}
}

func TestUntilClosed(t *testing.T) {
	r, w := io.Pipe()
	done := make(chan struct{})
	go func() { UntilClosed(context.Background(), r); close(done) }()
	_, _ = w.Write([]byte("ignored"))
	select {
	case <-done:
		t.Fatal("returned before the reader's end")
	case <-time.After(20 * time.Millisecond):
	}
	_ = w.Close()
	<-done
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	r2, w2 := io.Pipe()
	defer w2.Close()
	UntilClosed(ctx, r2) // returns: ctx has ended
}

// The upstream counts the lines of plain and gzip bodies, the last one
// without its newline too, and refuses a body that is not gzip.
func TestUpstream(t *testing.T) {
	up, err := StartUpstream()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = up.Close() })
	if !strings.HasPrefix(up.URL, "http://127.0.0.1:") {
		t.Fatalf("listens on %q, not on loopback", up.URL)
	}
	send := func(body []byte, gz bool) (int, string) {
		t.Helper()
		req, err := http.NewRequest(http.MethodPost, up.URL+"/v2.1/track", bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		if gz {
			req.Header.Set("Content-Encoding", "gzip")
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	var zb bytes.Buffer
	zw := gzip.NewWriter(&zb)
	_, _ = zw.Write([]byte("{}\n{}\n{}\n"))
	_ = zw.Close()
	for _, c := range []struct {
		name       string
		body       []byte
		gz         bool
		status     int
		items, sum int64
	}{
		{"gzip, three lines", zb.Bytes(), true, http.StatusOK, 3, 3},
		{"plain, last line without newline", []byte("{}\n{}"), false, http.StatusOK, 2, 5},
		{"empty", nil, false, http.StatusOK, 0, 5},
		{"not gzip", []byte("{}\n"), true, http.StatusBadRequest, -1, 5},
	} {
		status, body := send(c.body, c.gz)
		if status != c.status {
			t.Errorf("%s: status %d (%s), want %d", c.name, status, body, c.status)
		}
		if want := fmt.Sprintf(`"itemsAccepted":%d`, c.items); c.items >= 0 && !strings.Contains(body, want) {
			t.Errorf("%s: answer %s, want %s", c.name, body, want)
		}
		if got := up.Items(); got != c.sum {
			t.Errorf("%s: Items() = %d, want %d", c.name, got, c.sum)
		}
	}
	up.ResetItems()
	if got := up.Items(); got != 0 {
		t.Errorf("after ResetItems, Items() = %d", got)
	}
}

// StartDaemon returns the "aispool running" record of a real child (a
// shell that logs as the daemon does), keeps its log lines, and Stop
// ends and reaps it.
func TestStartDaemon(t *testing.T) {
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Skip("no sh:", err)
	}
	d, ready, err := StartDaemon(sh, []string{"-c",
		`echo '{"msg":"starting"}' >&2; echo '{"msg":"aispool running","listen":"http://127.0.0.1:1"}' >&2; exec sleep 60`})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(ready), `"listen":"http://127.0.0.1:1"`) {
		t.Errorf("ready record %s", ready)
	}
	if d.Pid() <= 0 {
		t.Errorf("Pid() = %d", d.Pid())
	}
	start := time.Now()
	d.Stop()
	if took := time.Since(start); took > 10*time.Second {
		t.Errorf("Stop took %v: SIGTERM did not end the child", took)
	}
	if d.Cmd.ProcessState == nil || d.Cmd.ProcessState.Success() {
		t.Errorf("after Stop: %v, want a child ended by SIGTERM", d.Cmd.ProcessState)
	}
	if logs := d.Logs(); len(logs) != 2 || logs[0] != `{"msg":"starting"}` {
		t.Errorf("Logs() = %q", logs)
	}
}

// StartParent makes the run's scratch directory and context; Close ends
// the context and removes the directory, unless kept.
func TestStartParent(t *testing.T) {
	for _, keep := range []bool{false, true} {
		dir := filepath.Join(t.TempDir(), "out")
		var buf bytes.Buffer
		ctx, p, err := StartParent(dir, keep, time.Minute, &buf)
		if err != nil {
			t.Fatal(err)
		}
		if self, _ := os.Executable(); p.Exe != self {
			t.Errorf("Exe = %q, want %q", p.Exe, self)
		}
		if filepath.Dir(p.Work) != dir {
			t.Errorf("Work %q is not in %q", p.Work, dir)
		}
		if _, err := os.Stat(p.Work); err != nil {
			t.Errorf("Work: %v", err)
		}
		_, _ = io.WriteString(p.Stderr, "hello\n")
		if buf.String() != "hello\n" {
			t.Errorf("Stderr wrote %q", buf.String())
		}
		if ctx.Err() != nil {
			t.Fatalf("context ended before Close: %v", ctx.Err())
		}
		p.Close()
		if ctx.Err() == nil {
			t.Error("Close did not end the context")
		}
		_, err = os.Stat(p.Work)
		if keep != (err == nil) {
			t.Errorf("keep %v: after Close, Work: %v", keep, err)
		}
	}
}

// ModuleRoot is the nearest directory above holding a go.mod: from this
// package's directory, the module's root.
func TestModuleRoot(t *testing.T) {
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	root := ModuleRoot()
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Fatalf("ModuleRoot() = %q: %v", root, err)
	}
	if want := filepath.Join(root, "benchmarks", "internal", "benchkit"); wd != want {
		t.Errorf("ModuleRoot() = %q, not the root above %q", root, wd)
	}
}

// TestMainHelper is Main in a child of TestMainExits (BENCHKIT_MAIN says
// which way it goes); it does nothing in a plain test run.
func TestMainHelper(t *testing.T) {
	mode := os.Getenv("BENCHKIT_MAIN")
	if mode == "" {
		t.Skip("a child of TestMainExits")
	}
	if mode == "child" {
		os.Args = []string{os.Args[0], "-role=x"}
	}
	Main("prog", func([]string) int { return 3 },
		func(_ []string, stdout, _ io.Writer) error {
			switch mode {
			case "fail":
				return fmt.Errorf("boom")
			case "help":
				return fmt.Errorf("parsing: %w", flag.ErrHelp)
			}
			_, _ = io.WriteString(stdout, "parent ran\n")
			return nil
		})
}

// Main runs the child or the parent, and exits with the child's code, or
// 1 and the named error when the parent fails (but for -h).
func TestMainExits(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		mode, out string
		code      int
	}{
		{"child", "", 3},
		{"fail", "prog: boom", 1},
		{"ok", "parent ran", 0},
		{"help", "", 0},
	} {
		cmd := exec.Command(exe, "-test.run=^TestMainHelper$")
		cmd.Env = append(ChildEnv(), "BENCHKIT_MAIN="+c.mode)
		out, _ := cmd.CombinedOutput()
		if code := cmd.ProcessState.ExitCode(); code != c.code || (c.out != "" && !strings.Contains(string(out), c.out)) {
			t.Errorf("%s: exit code %d, output %q; want %d and %q", c.mode, code, out, c.code, c.out)
		}
	}
}

func TestIsChild(t *testing.T) {
	for _, c := range []struct {
		args []string
		want bool
	}{
		{nil, false},
		{[]string{"-spans", "10"}, false},
		{[]string{"-role=endpoint", "-down=true"}, true},
		{[]string{"-spans", "10", "-role=endpoint"}, false},
	} {
		if got := IsChild(c.args); got != c.want {
			t.Errorf("IsChild(%q) = %v, want %v", c.args, got, c.want)
		}
	}
}
