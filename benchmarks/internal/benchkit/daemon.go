package benchkit

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Daemon is "aispool run" as a child process that logs JSON lines
// (--log-format json) to its standard error; it dies with the parent
// ([ChildSysProcAttr]).
type Daemon struct {
	// Cmd is the running child.
	Cmd  *exec.Cmd
	mu   sync.Mutex
	logs []string
	done chan struct{} // closed when its standard error ends
}

// StartDaemon starts the aispool binary bin with args (from "run" on) and
// waits up to 20 s for its "aispool running" log record, which it returns
// (the caller reads the addresses it wants from it). A daemon that does
// not start in time is killed, and the error holds what it logged.
func StartDaemon(bin string, args []string) (*Daemon, []byte, error) {
	cmd := exec.Command(bin, args...)
	cmd.SysProcAttr = ChildSysProcAttr()
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return nil, nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, nil, err
	}
	d := &Daemon{Cmd: cmd, done: make(chan struct{})}
	ready := make(chan []byte, 1)
	go d.read(stderr, ready)
	select {
	case rec := <-ready:
		return d, rec, nil
	case <-time.After(20 * time.Second):
		_ = cmd.Process.Kill()
		<-d.done
		_ = cmd.Wait()
		return nil, nil, fmt.Errorf("daemon did not start:\n%s", strings.Join(d.Logs(), "\n"))
	}
}

// read keeps every line of r and offers the first "aispool running"
// record on ready.
func (d *Daemon) read(r io.Reader, ready chan<- []byte) {
	defer close(d.done)
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		d.mu.Lock()
		d.logs = append(d.logs, line)
		d.mu.Unlock()
		var rec struct {
			Msg string `json:"msg"`
		}
		if json.Unmarshal(sc.Bytes(), &rec) == nil && rec.Msg == "aispool running" {
			select {
			case ready <- []byte(line):
			default:
			}
		}
	}
}

// Logs returns the lines the daemon has logged so far.
func (d *Daemon) Logs() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return slices.Clone(d.logs)
}

// Pid is the daemon's process id.
func (d *Daemon) Pid() int { return d.Cmd.Process.Pid }

// Stop sends the daemon SIGTERM, kills it if it has not ended within
// 30 s, and reaps it.
func (d *Daemon) Stop() {
	_ = d.Cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-d.done:
	case <-time.After(30 * time.Second):
		_ = d.Cmd.Process.Kill()
		<-d.done
	}
	_ = d.Cmd.Wait()
}

// BuildAispool builds ./cmd/aispool (run from the module's root) into
// path, its output on stderr.
func BuildAispool(path string, stderr io.Writer) error {
	build := exec.Command("go", "build", "-o", path, "./cmd/aispool")
	build.Stdout, build.Stderr = stderr, stderr
	return build.Run()
}
