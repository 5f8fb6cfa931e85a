package chaos

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/aispool/aispool/chaos/fakeingest"
	"github.com/aispool/aispool/spool"
)

// daemonShipper runs `aispool run` as a child process, posts envelopes to
// its local ingestion endpoint, and kills and restarts it as configured.
type daemonShipper struct {
	*run

	mu         sync.Mutex
	cur        *child // the daemon running now; nil between lives
	lives      int
	counters   Counters // summed over the lives that ended
	last       scraped  // the last scrape of the current life
	lastOK     bool
	exitErrs   []string
	corrupt    map[string]bool
	corruption *Corruption
	refused    atomic.Int64
	rng        *rand.Rand
}

// child is one life of the daemon.
type child struct {
	cmd    *exec.Cmd
	ingest string // http://host:port of the local ingestion endpoint
	otlp   string // http://host:port of the OTLP/HTTP intake
	admin  string // http://host:port of /metrics
	logs   *tail
	exited chan struct{}
	err    error // Wait's, once exited is closed
}

func (d *daemonShipper) state() shipperState {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.cur == nil || !d.lastOK {
		return shipperState{At: time.Now(), Queued: -1}
	}
	l := d.last
	return shipperState{At: l.At, Queued: l.Records, Oldest: l.Oldest, Delayed: l.Delayed, NextDue: l.NextDue, ThrottledUntil: l.ThrottledUntil}
}

func (d *daemonShipper) current() *child {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.cur
}

func (d *daemonShipper) ship(ctx context.Context) (*shipOutcome, error) {
	d.rng = rand.New(rand.NewPCG(d.ep.Seed(), 0x6b696c6c)) // "kill"
	if err := d.startLife(ctx); err != nil {
		return nil, err
	}
	out := &shipOutcome{}
	var runErr error

	// Producers post envelopes; the killer kills; a scraper keeps the
	// current life's counters fresh.
	produced := make(chan error, 1)
	go func() { produced <- d.produce(ctx) }()
	killCtx, stopKilling := context.WithCancel(ctx)
	killerDone := make(chan error, 1)
	go func() { killerDone <- d.killer(killCtx, produced) }()
	scrapeCtx, stopScraping := context.WithCancel(ctx)
	scraperDone := make(chan struct{})
	go func() { defer close(scraperDone); d.scraper(scrapeCtx) }()

	if err := <-killerDone; err != nil {
		runErr = err
	}
	stopKilling()
	if runErr == nil {
		// The killer returns once production is over (and enough kills
		// happened); now wait for the drain.
		out.drained, runErr = d.awaitDrain(ctx)
	}
	stopScraping()
	<-scraperDone
	if err := d.stopLife(ctx); err != nil {
		d.exitErrs = append(d.exitErrs, err.Error())
	}
	d.mu.Lock()
	out.counters, out.lives, out.countersLive = d.counters, d.lives, d.lives
	out.exitErrors = append(out.exitErrors, d.exitErrs...)
	out.corruptIDs = d.corrupt
	d.res.Corruption = d.corruption
	d.mu.Unlock()
	d.res.Refused = int(d.refused.Load())
	d.inspect(ctx, out)
	return out, runErr
}

// args returns the daemon's command line.
func (d *daemonShipper) args() []string {
	c := d.cfg
	return append(slices.Clone(c.Daemon.Args), "run",
		"--spool-dir", d.spoolDir,
		"--connection-string", d.ep.ConnectionString(""),
		"--listen", "127.0.0.1:0",
		"--admin-listen", "127.0.0.1:0",
		"--otlp-http-listen", "127.0.0.1:0", "--otlp-grpc-listen", "",
		"--log-format", "json",
		"--shutdown-timeout", "2s",
		"--max-in-flight", strconv.Itoa(c.MaxInFlight),
		"--max-batch-items", strconv.Itoa(c.BatchItems),
		"--request-timeout", c.RequestTimeout.String(),
		"--backoff-initial", c.BackoffInitial.String(),
		"--backoff-max", c.BackoffMax.String(),
	)
}

// startLife starts the daemon and waits until it serves.
func (d *daemonShipper) startLife(ctx context.Context) error {
	var lastErr error
	for attempt := range 5 {
		if attempt > 0 {
			select {
			case <-ctx.Done():
				return fmt.Errorf("%w: start the daemon: %w", ErrScenario, ctx.Err())
			case <-time.After(time.Duration(attempt) * 100 * time.Millisecond):
			}
		}
		c, err := d.spawn(ctx)
		if err == nil {
			d.mu.Lock()
			d.cur, d.lives, d.lastOK = c, d.lives+1, false
			d.mu.Unlock()
			return nil
		}
		lastErr = err
	}
	return fmt.Errorf("%w: the daemon did not start: %w", ErrScenario, lastErr)
}

func (d *daemonShipper) spawn(ctx context.Context) (*child, error) {
	cmd := exec.Command(d.cfg.Daemon.Path, d.args()...)
	cmd.Env = append(os.Environ(), d.cfg.Daemon.Env...)
	cmd.SysProcAttr = childProcAttr() // never outlive the scenario (Linux)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	cmd.Stdout = io.Discard
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", d.cfg.Daemon.Path, err)
	}
	c := &child{cmd: cmd, logs: &tail{max: 64 << 10}, exited: make(chan struct{})}
	if d.cfg.FileSizeLimit > 0 {
		if err := limitFileSize(cmd.Process.Pid, d.cfg.FileSizeLimit); err != nil {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
			return nil, fmt.Errorf("set the daemon's RLIMIT_FSIZE: %w", err)
		}
	}
	ready := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		var once sync.Once
		for sc.Scan() {
			line := sc.Bytes()
			c.logs.write(line)
			var rec struct {
				Msg    string `json:"msg"`
				Listen string `json:"listen"`
				Admin  string `json:"admin"`
				OTLP   string `json:"otlp_http"`
			}
			if json.Unmarshal(line, &rec) == nil && rec.Msg == "aispool running" {
				once.Do(func() {
					c.ingest, c.admin, c.otlp = rec.Listen, rec.Admin, rec.OTLP
					close(ready)
				})
			}
		}
		_, _ = io.Copy(io.Discard, stderr)
		c.err = cmd.Wait()
		close(c.exited)
	}()
	select {
	case <-ready:
		return c, nil
	case <-c.exited:
		return nil, fmt.Errorf("the daemon exited at start (%v): %s", c.err, c.logs.String())
	case <-time.After(20 * time.Second):
	case <-ctx.Done():
	}
	_ = cmd.Process.Kill()
	<-c.exited
	return nil, fmt.Errorf("the daemon did not start in time: %s", c.logs.String())
}

// endLife records the counters of the life that ends.
func (d *daemonShipper) endLife() {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.lastOK {
		d.counters.add(d.last.Counters)
	}
	d.cur, d.lastOK = nil, false
}

// killLife SIGKILLs the current daemon and waits for it to die.
func (d *daemonShipper) killLife() {
	c := d.current()
	if c == nil {
		return
	}
	// Take a last look at its counters: whatever it does between this
	// scrape and the kill is not counted (the verifier allows for it).
	if s, err := scrape(context.Background(), c.admin+"/metrics"); err == nil {
		d.mu.Lock()
		d.last, d.lastOK = s, true
		d.mu.Unlock()
	}
	_ = c.cmd.Process.Signal(syscall.SIGKILL)
	<-c.exited
	d.kill(c.cmd.Process.Pid)
	d.endLife()
}

// stopLife stops the current daemon with SIGTERM, as an operator would,
// and checks that it exits 0 within its shutdown timeout.
func (d *daemonShipper) stopLife(ctx context.Context) error {
	c := d.current()
	if c == nil {
		return nil
	}
	if s, err := scrape(context.WithoutCancel(ctx), c.admin+"/metrics"); err == nil {
		d.mu.Lock()
		d.last, d.lastOK = s, true
		d.mu.Unlock()
	}
	_ = c.cmd.Process.Signal(syscall.SIGTERM)
	var err error
	select {
	case <-c.exited:
		if c.err != nil {
			err = fmt.Errorf("the daemon did not exit cleanly on SIGTERM: %w: %s", c.err, c.logs.String())
		}
	case <-time.After(15 * time.Second):
		_ = c.cmd.Process.Kill()
		<-c.exited
		err = errors.New("the daemon did not exit within 15 s of SIGTERM")
	}
	d.endLife()
	return err
}

// produce posts every envelope to the current daemon, in batches from a few
// concurrent clients, until each batch was answered 200.
func (d *daemonShipper) produce(ctx context.Context) error {
	const clients, batch = 4, 50
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, clients)
	hc := &http.Client{Timeout: 10 * time.Second}
	for range clients {
		wg.Go(func() {
			var body bytes.Buffer
			for {
				first := int(next.Add(batch)) - batch
				if first >= d.cfg.Envelopes {
					return
				}
				d.pace(ctx, first)
				ids := make([]string, 0, batch)
				body.Reset()
				for i := first; i < min(first+batch, d.cfg.Envelopes); i++ {
					id := "e" + strconv.Itoa(i)
					ids = append(ids, id)
					var opts []fakeingest.EnvelopeOption
					if d.cfg.Profile.Poison.Marked(i, d.cfg.Envelopes) {
						opts = append(opts, fakeingest.WithPoison())
					}
					body.Write(fakeingest.Envelope(id, opts...))
					body.WriteByte('\n')
				}
				d.led.offer(ids...)
				b := body.Bytes()
				if d.cfg.Daemon.OTLP {
					b = otlpBody(ids)
				}
				if err := d.post(ctx, hc, b); err != nil {
					errs <- err
					return
				}
				d.led.ack(ids...)
			}
		})
	}
	wg.Wait()
	close(errs)
	return <-errs
}

// post sends one body until the daemon answers 200 (a killed daemon, a
// full disk's 503: wait and post again), or ctx ends.
func (d *daemonShipper) post(ctx context.Context, hc *http.Client, body []byte) error {
	for {
		if ctx.Err() != nil {
			return fmt.Errorf("chaos: posting envelopes: %w", ctx.Err())
		}
		c := d.current()
		if c != nil {
			url, ctype := c.ingest+"/v2.1/track", "application/x-json-stream"
			if d.cfg.Daemon.OTLP {
				url, ctype = c.otlp+"/v1/logs", "application/x-protobuf"
			}
			req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
			if err != nil {
				return err
			}
			req.Header.Set("Content-Type", ctype)
			resp, err := hc.Do(req)
			if err == nil {
				_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
				_ = resp.Body.Close()
				switch {
				case resp.StatusCode == http.StatusOK:
					return nil
				case resp.StatusCode >= 400 && resp.StatusCode < 500:
					return fmt.Errorf("chaos: the daemon refused a batch of valid envelopes with %d", resp.StatusCode)
				}
				d.refused.Add(1)
			} else {
				d.refused.Add(1)
			}
		}
		select {
		case <-ctx.Done():
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// killer kills and restarts the daemon until production is over and at
// least MinKills kills happened; it also corrupts a segment once, if asked.
// It returns when production ended (with its error, if any).
func (d *daemonShipper) killer(ctx context.Context, produced <-chan error) error {
	var (
		prodDone bool
		prodErr  error
		killAt   <-chan time.Time
		corrupt  <-chan time.Time
	)
	nextKill := func() {
		if d.cfg.KillEvery > 0 {
			ke := d.cfg.KillEvery
			killAt = time.After(ke/2 + time.Duration(d.rng.Int64N(int64(ke)+1)))
		}
	}
	nextKill()
	if d.cfg.CorruptAfter > 0 {
		corrupt = time.After(d.cfg.CorruptAfter)
	}
	for {
		if prodDone && corrupt == nil && (d.cfg.KillEvery == 0 || d.killCount() >= d.cfg.MinKills) {
			return prodErr
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("chaos: %w", ctx.Err())
		case prodErr = <-produced:
			prodDone, produced = true, nil
			if prodErr != nil {
				return prodErr
			}
		case <-killAt:
			d.killLife()
			if err := d.startLife(ctx); err != nil {
				return err
			}
			nextKill()
		case <-corrupt:
			corrupt = nil
			d.killLife()
			if err := d.corruptSegment(ctx); err != nil {
				return err
			}
			if err := d.startLife(ctx); err != nil {
				return err
			}
		}
	}
}

// scraper keeps the current life's last scrape fresh.
func (d *daemonShipper) scraper(ctx context.Context) {
	every(ctx, d.cfg.SampleInterval, func() {
		c := d.current()
		if c == nil {
			return
		}
		s, err := scrape(ctx, c.admin+"/metrics")
		if err != nil {
			return
		}
		d.mu.Lock()
		if d.cur == c {
			d.last, d.lastOK = s, true
		}
		d.mu.Unlock()
	})
}

// awaitDrain waits until the daemon reports an empty spool (no records, none
// leased, no segment but its own) several scrapes in a row.
func (d *daemonShipper) awaitDrain(ctx context.Context) (bool, error) {
	empty := 0
	for {
		c := d.current()
		if c == nil {
			return false, errors.New("chaos: no daemon running")
		}
		if s, err := scrape(ctx, c.admin+"/metrics"); err == nil {
			d.mu.Lock()
			d.last, d.lastOK = s, true
			d.mu.Unlock()
			if s.Records == 0 && s.Leased == 0 && s.Segments <= 1 {
				empty++
			} else {
				empty = 0
			}
			if empty >= 3 {
				return true, nil
			}
		}
		select {
		case <-ctx.Done():
			d.mu.Lock()
			last := d.last
			d.mu.Unlock()
			return false, fmt.Errorf("chaos: waiting for the daemon to drain (it reports %d records, %d leased, %d segment files): %w",
				last.Records, last.Leased, last.Segments, ctx.Err())
		case <-c.exited:
			return false, fmt.Errorf("chaos: the daemon died while draining (%v): %s", c.err, c.logs.String())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// corruptSegment overwrites a page in the middle of the segment file with
// the most records with garbage, while no daemon runs, after noting the ids
// it holds: those may be lost, and only those.
func (d *daemonShipper) corruptSegment(ctx context.Context) error {
	rep, err := spool.Inspect(ctx, d.spoolDir, 1<<30)
	if err != nil {
		return fmt.Errorf("%w: inspect before corrupting: %w", ErrScenario, err)
	}
	perSeg := map[string][]string{}
	for _, p := range rep.Peek {
		if id, ok := fakeingest.DefaultID(bytes.TrimSuffix(p.Data, []byte("\n"))); ok {
			perSeg[p.Segment] = append(perSeg[p.Segment], id)
		}
	}
	var victim string
	for seg, ids := range perSeg {
		if victim == "" || len(ids) > len(perSeg[victim]) || (len(ids) == len(perSeg[victim]) && seg < victim) {
			victim = seg
		}
	}
	d.mu.Lock()
	d.corrupt = map[string]bool{}
	for _, id := range perSeg[victim] {
		d.corrupt[id] = true
	}
	d.mu.Unlock()
	if victim == "" {
		d.cfg.Logger.Warn("chaos: no segment with records to corrupt")
		return nil
	}
	path := filepath.Join(d.spoolDir, victim)
	raw, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("%w: corrupt %s: %w", ErrScenario, victim, err)
	}
	// Flip a byte of up to 10 records' ids in every copy in the file
	// (copy-on-write leaves stale copies of pages), so that the live copy
	// fails its checksum.
	damaged := 0
	for _, id := range perSeg[victim][:min(10, len(perSeg[victim]))] {
		needle := []byte(`"` + id + `"`)
		hit := false
		for off := 0; ; {
			i := bytes.Index(raw[off:], needle)
			if i < 0 {
				break
			}
			raw[off+i+1] ^= 0x20
			off += i + len(needle)
			hit = true
		}
		if hit {
			damaged++
		}
	}
	// And a page of garbage in the middle, past the two meta pages.
	const page = 4096
	if off := max(len(raw)/2/page*page, 2*page); off+page <= len(raw) {
		for i := range page {
			raw[off+i] = byte(d.rng.Uint32())
		}
	}
	if err := os.WriteFile(path, raw, 0o600); err != nil {
		return fmt.Errorf("%w: corrupt %s: %w", ErrScenario, victim, err)
	}
	d.mu.Lock()
	d.corruption = &Corruption{Offset: time.Since(d.start), Segment: victim, Records: len(perSeg[victim]), Damaged: damaged}
	d.mu.Unlock()
	d.cfg.Logger.Info("chaos: corrupted a segment", "segment", victim, "records", len(perSeg[victim]), "damaged", damaged)
	return nil
}

// tail keeps the last max bytes written to it.
type tail struct {
	mu  sync.Mutex
	max int
	buf []byte
}

func (t *tail) write(line []byte) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, line...)
	t.buf = append(t.buf, '\n')
	if over := len(t.buf) - t.max; over > 0 {
		t.buf = t.buf[over:]
	}
}

func (t *tail) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.buf)
}
