package spool

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// The crash tests re-execute the test binary as a child that works on a
// spool and reports on stdout, line by line, what the spool acknowledged:
//
//	appended <first> <last>   Append of ids first..last returned nil
//	acking <id> <id> ...       about to acknowledge these ids
//	acked <id> <id> ...        Settle deleting these ids returned nil
//
// The parent kills the child with SIGKILL at random moments and then checks
// the spool against what was acknowledged.
const (
	childEnvDir   = "AISPOOL_SPOOL_CHILD_DIR"
	childEnvBase  = "AISPOOL_SPOOL_CHILD_BASE"
	childEnvFSize = "AISPOOL_SPOOL_CHILD_FSIZE"
	childEnvMode  = "AISPOOL_SPOOL_CHILD_MODE"
)

func childOptions() *Options {
	return &Options{SegmentMaxBytes: minSegmentBytes, MaxBytes: 1 << 30, SegmentMaxAge: 200 * time.Millisecond,
		Logger: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))}
}

func crashRecord(id uint64) []byte {
	r := make([]byte, 200+id%300)
	binary.BigEndian.PutUint64(r, id)
	for i := 8; i < len(r); i++ {
		r[i] = byte(id) + byte(i)
	}
	return r
}

func crashID(t testing.TB, r []byte) uint64 {
	id := binary.BigEndian.Uint64(r)
	if string(r) != string(crashRecord(id)) {
		t.Fatalf("record %d has wrong contents", id)
	}
	return id
}

// TestCrashChild is the child's body; it does nothing in a normal run.
func TestCrashChild(t *testing.T) {
	dir := os.Getenv(childEnvDir)
	if dir == "" {
		t.Skip("runs only as the child of TestCrashKillLoop / TestDiskFull")
	}
	base, _ := strconv.ParseUint(os.Getenv(childEnvBase), 10, 64)
	switch os.Getenv(childEnvMode) {
	case "settle-full":
		settleFullChild(dir)
		return
	case "open-full":
		openFullChild(dir)
		return
	case "orphan-rm-active", "orphan-mv-dir", "orphan-rm-dir":
		orphanChild(dir, strings.TrimPrefix(os.Getenv(childEnvMode), "orphan-"))
		return
	}
	if os.Getenv(childEnvFSize) != "" {
		diskFullChild(t, dir, base)
		return
	}
	ctx := context.Background()
	s, err := Open(ctx, dir, childOptions())
	if err != nil {
		fmt.Printf("open-error %v\n", err)
		os.Exit(3)
	}
	var out sync.Mutex
	report := func(format string, a ...any) {
		out.Lock()
		fmt.Printf(format, a...)
		out.Unlock()
	}
	var next sync.Mutex
	id := base
	for w := range 4 {
		go func() {
			for {
				n := 1 + rand.IntN(40)
				if w == 0 {
					n = 1 // a single-record appender too
				}
				next.Lock()
				first := id
				id += uint64(n)
				next.Unlock()
				recs := make([][]byte, n)
				for i := range recs {
					recs[i] = crashRecord(first + uint64(i))
				}
				if err := s.Append(ctx, recs...); err != nil {
					report("append-error %v\n", err)
					return
				}
				report("appended %d %d\n", first, first+uint64(n)-1)
			}
		}()
	}
	// Drain now and then, acknowledging some batches and retrying others.
	for {
		b, err := s.Lease(ctx, 1+rand.IntN(300), 1<<20)
		if err != nil {
			report("lease-error %v\n", err)
			os.Exit(3)
		}
		if b == nil {
			time.Sleep(time.Millisecond)
			continue
		}
		if rand.IntN(3) == 0 {
			_ = b.Nack(ctx)
			continue
		}
		ids := make([]string, len(b.Records))
		for i, r := range b.Records {
			ids[i] = strconv.FormatUint(binary.BigEndian.Uint64(r.Data), 10)
		}
		// Announce first: a kill between Ack and the report must not make
		// the parent believe an acknowledged record was lost.
		report("acking %s\n", strings.Join(ids, " "))
		if err := b.Ack(ctx); err != nil {
			report("ack-error %v\n", err)
			os.Exit(3)
		}
		report("acked %s\n", strings.Join(ids, " "))
		time.Sleep(time.Duration(rand.IntN(3)) * time.Millisecond)
	}
}

// ledger is what the children acknowledged.
type ledger struct {
	appended map[uint64]bool
	acking   map[uint64]bool // may or may not have been deleted
	acked    map[uint64]bool // deleted for good
}

func newLedger() *ledger {
	return &ledger{appended: map[uint64]bool{}, acking: map[uint64]bool{}, acked: map[uint64]bool{}}
}

func (l *ledger) read(t *testing.T, r *bufio.Scanner) {
	for r.Scan() {
		f := strings.Fields(r.Text())
		if len(f) == 0 {
			continue
		}
		switch f[0] {
		case "appended":
			if len(f) != 3 {
				continue // a torn last line: the child died mid-write
			}
			a, err1 := strconv.ParseUint(f[1], 10, 64)
			b, err2 := strconv.ParseUint(f[2], 10, 64)
			if err1 != nil || err2 != nil {
				continue
			}
			for id := a; id <= b; id++ {
				l.appended[id] = true
			}
		case "acking", "acked":
			set := l.acking
			if f[0] == "acked" {
				set = l.acked
			}
			for _, s := range f[1:] {
				if id, err := strconv.ParseUint(s, 10, 64); err == nil {
					set[id] = true
				}
			}
		case "open-error", "lease-error", "ack-error", "append-error":
			t.Errorf("child: %s", r.Text())
		}
	}
}

func startChild(t *testing.T, dir string, base uint64, extraEnv ...string) (*exec.Cmd, *bufio.Scanner) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), childEnvDir+"="+dir, childEnvBase+"="+strconv.FormatUint(base, 10))
	cmd.Env = append(cmd.Env, extraEnv...)
	cmd.Stderr = os.Stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(stdout)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	return cmd, sc
}

// verifySpool drains the spool completely and checks it against the
// ledger: every acknowledged append is present or was acknowledged by a
// drainer; no acknowledged record comes back; nothing appears twice; every
// segment passes bbolt's consistency check; nothing was quarantined.
func verifySpool(t *testing.T, dir string, l *ledger) (present int) {
	t.Helper()
	files, err := listSegments(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		if f.ext == extTmp {
			continue
		}
		db, err := bolt.Open(filepath.Join(dir, f.name()), 0o600, &bolt.Options{ReadOnly: true, Timeout: time.Second})
		if err != nil {
			t.Fatalf("segment %s does not open: %v", f.name(), err)
		}
		err = db.View(func(tx *bolt.Tx) error {
			for err := range tx.Check() {
				return err
			}
			return nil
		})
		_ = db.Close()
		if err != nil {
			t.Fatalf("segment %s fails bbolt's check: %v", f.name(), err)
		}
	}
	s, err := Open(context.Background(), dir, &Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	seen := map[uint64]bool{}
	for {
		b, err := s.Lease(context.Background(), 5000, 64<<20)
		if err != nil {
			t.Fatal(err)
		}
		if b == nil {
			break
		}
		for _, r := range b.Records {
			id := crashID(t, r.Data)
			if seen[id] {
				t.Fatalf("record %d is in the spool twice", id)
			}
			if l.acked[id] {
				t.Fatalf("record %d was acknowledged by a drainer but came back", id)
			}
			seen[id] = true
		}
		if err := b.Ack(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	lost := 0
	for id := range l.appended {
		if !seen[id] && !l.acking[id] {
			lost++
			if lost < 10 {
				t.Errorf("record %d was acknowledged by Append but is gone", id)
			}
		}
	}
	if lost > 0 {
		t.Fatalf("%d acknowledged records lost", lost)
	}
	if st := s.Stats(); st.QuarantinedSegments != 0 || st.Dropped[ReasonCorrupt] != 0 {
		t.Fatalf("corruption after crashes: %+v", st)
	}
	return len(seen)
}

func TestCrashKillLoop(t *testing.T) {
	if testing.Short() {
		t.Skip("kills child processes")
	}
	dir := filepath.Join(t.TempDir(), "spool")
	l := newLedger()
	const kills = 25
	for i := range kills {
		cmd, sc := startChild(t, dir, uint64(i)<<32)
		done := make(chan struct{})
		go func() { l.read(t, sc); close(done) }()
		time.Sleep(time.Duration(80+rand.IntN(250)) * time.Millisecond)
		if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		<-done
		_ = cmd.Wait()
	}
	present := verifySpool(t, dir, l)
	t.Logf("%d kills: %d records acknowledged by Append, %d acknowledged by drainers, %d left and verified",
		kills, len(l.appended), len(l.acked), present)
	if len(l.appended) < 1000 || len(l.acked) == 0 {
		t.Fatalf("the children did too little work to prove anything: %d appended, %d acked", len(l.appended), len(l.acked))
	}
}

// diskFullChild appends under a small RLIMIT_FSIZE until the disk is "full",
// then raises the limit ("space returns") and appends again.
func diskFullChild(t *testing.T, dir string, base uint64) {
	limit, _ := strconv.ParseUint(os.Getenv(childEnvFSize), 10, 64)
	ctx := context.Background()
	s, old, err := openAtFileSizeLimit(ctx, dir, limit)
	if err != nil {
		fmt.Printf("append-error %v\n", err)
		os.Exit(3)
	}
	id := base
	failures := 0
	for range 2000 {
		recs := [][]byte{crashRecord(id), crashRecord(id + 1)}
		if err := s.Append(ctx, recs...); err != nil {
			failures++
			fmt.Printf("full %v\n", err)
			// Ready reflects the last append: right after a failed one
			// it must say so (a later append may succeed in freed pages).
			if s.Ready() == nil {
				fmt.Printf("append-error Ready() is nil right after a failed append\n")
			}
			if failures >= 3 {
				break
			}
			continue
		}
		fmt.Printf("appended %d %d\n", id, id+1)
		id += 2
	}
	if failures == 0 {
		fmt.Printf("append-error the file size limit was never hit\n")
	}
	// Space returns.
	if err := syscall.Setrlimit(syscall.RLIMIT_FSIZE, &old); err != nil {
		fmt.Printf("append-error setrlimit: %v\n", err)
	}
	for range 50 {
		if err := s.Append(ctx, crashRecord(id)); err != nil {
			fmt.Printf("append-error after space returned: %v\n", err)
			os.Exit(3)
		}
		fmt.Printf("appended %d %d\n", id, id)
		fmt.Printf("recovered\n")
		id++
	}
	if err := s.Ready(); err != nil {
		fmt.Printf("append-error Ready() after recovery: %v\n", err)
	}
	if err := s.Close(); err != nil {
		fmt.Printf("append-error close: %v\n", err)
	}
}

func TestDiskFull(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "spool")
	l := newLedger()
	cmd, sc := startChild(t, dir, 1, childEnvFSize+"=262144")
	var full, recovered int
	var lines []string
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "full "):
			full++
			if !strings.Contains(line, "file too large") && !strings.Contains(line, "no space") {
				t.Errorf("full-disk error does not say so: %s", line)
			}
		case line == "recovered":
			recovered++
		default:
			lines = append(lines, line)
		}
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("child: %v", err)
	}
	l.read(t, bufio.NewScanner(strings.NewReader(strings.Join(lines, "\n"))))
	if full == 0 || recovered != 50 {
		t.Fatalf("full errors %d, appends after recovery %d", full, recovered)
	}
	n := verifySpool(t, dir, l)
	if n != len(l.appended) {
		t.Fatalf("%d records in the spool, %d acknowledged", n, len(l.appended))
	}
	t.Logf("%d Append errors at the size limit, then recovery; %d records verified", full, n)
}

// settleFullChild fills a segment up to a small RLIMIT_FSIZE, then drains it
// while the file cannot grow: acknowledging must not hand the records out
// again (a resend storm of duplicates), and the file goes once drained.
// (bbolt's file has room for the deletions here; TestSettleOnFullFilesystem
// fills a real file system.)
func settleFullChild(dir string) {
	ctx := context.Background()
	s, _, err := openAtFileSizeLimit(ctx, dir, 64<<10)
	if err != nil {
		fmt.Printf("error %v\n", err)
		return
	}
	defer s.Close()
	appended := 0
	for id := uint64(0); ; id++ {
		if err := s.Append(ctx, crashRecord(id)); err != nil {
			fmt.Printf("full after %d records: %v\n", appended, err)
			break
		}
		appended++
		if appended > 100_000 {
			fmt.Printf("error the file size limit was never hit\n")
			return
		}
	}
	seen := map[uint64]bool{}
	deferred := 0
	for range 10_000 {
		b, err := s.Lease(ctx, 1000, 1<<20)
		if err != nil {
			fmt.Printf("error lease: %v\n", err)
			return
		}
		if b == nil {
			break
		}
		for _, r := range b.Records {
			id := binary.BigEndian.Uint64(r.Data)
			if seen[id] {
				fmt.Printf("error record %d handed out again after it was acknowledged\n", id)
				return
			}
			seen[id] = true
		}
		switch err := b.Ack(ctx); {
		case errors.Is(err, ErrSettleDeferred):
			deferred++
		case err != nil:
			fmt.Printf("error ack: %v\n", err)
			return
		}
	}
	st := s.Stats()
	fmt.Printf("acked %d of %d, deferred %d, records left %d, segments %d\n", len(seen), appended, deferred, st.Records, st.Segments)
}

// TestDrainAtFileSizeLimit: the active segment hits RLIMIT_FSIZE, is
// sealed, and drains (every record acknowledged once, never handed out
// again), and the file goes.
func TestDrainAtFileSizeLimit(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "spool")
	cmd, sc := startChild(t, dir, 1, childEnvMode+"=settle-full")
	var lines []string
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("child: %v\n%s", err, strings.Join(lines, "\n"))
	}
	out := strings.Join(lines, "\n")
	var acked, appended, deferred, left, segments int
	for _, l := range lines {
		if strings.HasPrefix(l, "error") {
			t.Fatalf("child: %s", out)
		}
		if strings.HasPrefix(l, "acked ") {
			fmt.Sscanf(l, "acked %d of %d, deferred %d, records left %d, segments %d", &acked, &appended, &deferred, &left, &segments)
		}
	}
	if appended == 0 || acked != appended || left != 0 {
		t.Fatalf("want every appended record acknowledged once and none left:\n%s", out)
	}
	if segments > 1 {
		t.Fatalf("the full segment was not removed once drained:\n%s", out)
	}
	t.Logf("%s", out)
}

// openAtFileSizeLimit sets this process's RLIMIT_FSIZE to limit (with
// SIGXFSZ ignored, so that writes past it fail with EFBIG instead of
// killing the process) and opens a spool whose active segment would grow
// past it (4 MiB, not sealed by age: on a slow machine a segment sealed
// every 200 ms never reaches the limit). It returns the previous limit.
func openAtFileSizeLimit(ctx context.Context, dir string, limit uint64) (*Spool, syscall.Rlimit, error) {
	signal.Ignore(syscall.SIGXFSZ)
	var old syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_FSIZE, &old); err != nil {
		return nil, old, fmt.Errorf("getrlimit: %w", err)
	}
	if err := syscall.Setrlimit(syscall.RLIMIT_FSIZE, &syscall.Rlimit{Cur: limit, Max: old.Max}); err != nil {
		return nil, old, fmt.Errorf("setrlimit: %w", err)
	}
	o := childOptions()
	o.SegmentMaxBytes = 4 << 20
	o.SegmentMaxAge = time.Hour
	s, err := Open(ctx, dir, o)
	if err != nil {
		return nil, old, fmt.Errorf("open: %w", err)
	}
	return s, old, nil
}

// openFullChild opens a spool under an RLIMIT_FSIZE smaller than a new
// segment (the disk is "full" from the start), drains it, then raises the
// limit ("space returns") and waits for the spool to be ready by itself.
func openFullChild(dir string) {
	ctx := context.Background()
	signal.Ignore(syscall.SIGXFSZ)
	var old syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_FSIZE, &old); err != nil {
		fmt.Printf("error getrlimit: %v\n", err)
		return
	}
	if err := syscall.Setrlimit(syscall.RLIMIT_FSIZE, &syscall.Rlimit{Cur: 8 << 10, Max: old.Max}); err != nil {
		fmt.Printf("error setrlimit: %v\n", err)
		return
	}
	s, err := Open(ctx, dir, childOptions())
	if err != nil {
		fmt.Printf("error open: %v\n", err)
		return
	}
	defer s.Close()
	if err := s.Ready(); err == nil || !isNoSpace(err) {
		fmt.Printf("error Ready at the limit = %v, want the no-space error\n", err)
	}
	if err := s.Append(ctx, crashRecord(1<<40)); err == nil || !isNoSpace(err) {
		fmt.Printf("error Append at the limit = %v, want the no-space error\n", err)
	}
	seen := map[uint64]bool{}
	deferred := 0
	for range 10_000 {
		b, err := s.Lease(ctx, 500, 1<<20)
		if err != nil {
			fmt.Printf("error lease: %v\n", err)
			return
		}
		if b == nil {
			break
		}
		for _, r := range b.Records {
			id := binary.BigEndian.Uint64(r.Data)
			if seen[id] {
				fmt.Printf("error record %d handed out twice\n", id)
			}
			seen[id] = true
		}
		switch err := b.Ack(ctx); {
		case errors.Is(err, ErrSettleDeferred):
			deferred++
		case err != nil:
			fmt.Printf("error ack: %v\n", err)
			return
		}
	}
	fmt.Printf("acked %d deferred %d\n", len(seen), deferred)
	if err := syscall.Setrlimit(syscall.RLIMIT_FSIZE, &old); err != nil {
		fmt.Printf("error setrlimit: %v\n", err)
		return
	}
	start := time.Now()
	for s.Ready() != nil {
		if time.Since(start) > 10*time.Second {
			fmt.Printf("error not ready 10 s after the limit was raised: %v\n", s.Ready())
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	fmt.Printf("ready after %v\n", time.Since(start).Round(time.Millisecond))
	if err := s.Append(ctx, crashRecord(1<<40)); err != nil {
		fmt.Printf("error append once ready: %v\n", err)
	}
}

// TestOpenAtFileSizeLimit: under an RLIMIT_FSIZE too small for a new
// segment, Open succeeds all the same (what exists drains, appends are
// refused and Ready says why), and the spool is ready again by itself once
// the limit is raised.
func TestOpenAtFileSizeLimit(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "spool")
	const n = 3000
	for part := range 3 { // three producers, three sealed segments or more
		s, err := Open(context.Background(), dir, childOptions())
		if err != nil {
			t.Fatal(err)
		}
		for id := uint64(part * n / 3); id < uint64((part+1)*n/3); id += 50 {
			recs := make([][]byte, 50)
			for i := range recs {
				recs[i] = crashRecord(id + uint64(i))
			}
			if err := s.Append(context.Background(), recs...); err != nil {
				t.Fatal(err)
			}
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	}
	cmd, sc := startChild(t, dir, 0, childEnvMode+"=open-full")
	var lines []string
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("child: %v\n%s", err, strings.Join(lines, "\n"))
	}
	out := strings.Join(lines, "\n")
	var acked, deferred int
	ready := false
	for _, l := range lines {
		switch {
		case strings.HasPrefix(l, "error"):
			t.Fatalf("child: %s", out)
		case strings.HasPrefix(l, "acked "):
			fmt.Sscanf(l, "acked %d deferred %d", &acked, &deferred)
		case strings.HasPrefix(l, "ready after "):
			ready = true
		}
	}
	if acked != n || !ready {
		t.Fatalf("want %d records drained at the limit and the spool ready again:\n%s", n, out)
	}
	t.Logf("%s", out)
}
