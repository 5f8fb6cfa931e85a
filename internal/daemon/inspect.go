package daemon

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/aispool/aispool/spool"
)

// InspectReport is the JSON contract of "aispool inspect --json" and of
// the admin endpoint's GET /spool (docs/operations.md).
type InspectReport struct {
	Dir             string            `json:"dir"`
	Records         int64             `json:"records"`
	RecordsExact    bool              `json:"records_exact"`
	Bytes           int64             `json:"bytes"`
	Oldest          *time.Time        `json:"oldest,omitempty"`
	Segments        []InspectSegment  `json:"segments"`
	Quarantine      []string          `json:"quarantine"`
	QuarantineBytes int64             `json:"quarantine_bytes"`
	Dropped         map[string]uint64 `json:"dropped"`
	Peek            []InspectEnvelope `json:"peek,omitempty"`
	// Source says who read the spool: "daemon" (the daemon holding it
	// answered, through its admin endpoint) or "files" (read from the
	// directory; segments another process holds are in use).
	Source string `json:"source"`
	// PID is the daemon's process id when Source is "daemon".
	PID int `json:"pid,omitempty"`
}

// InspectSegment is one segment file of an [InspectReport].
type InspectSegment struct {
	Name    string `json:"name"`
	State   string `json:"state"`
	Bytes   int64  `json:"bytes"`
	InUse   bool   `json:"in_use"`
	Records int64  `json:"records"` // -1: unknown (in use or unreadable)
	Error   string `json:"error,omitempty"`
}

// InspectEnvelope is one of the first envelopes of an [InspectReport].
type InspectEnvelope struct {
	Segment  string    `json:"segment"`
	Seq      uint64    `json:"seq"`
	Spooled  time.Time `json:"spooled"`
	Attempts int       `json:"attempts"`
	Type     string    `json:"type"`
	Time     string    `json:"time"`
	Name     string    `json:"name"`
}

// NewInspectReport converts what spool.Inspect (or Spool.Inspect) found.
func NewInspectReport(r *spool.Report, source string) InspectReport {
	out := InspectReport{Dir: r.Dir, Records: r.Records, RecordsExact: r.RecordsExact, Bytes: r.Bytes,
		Quarantine: r.Quarantine, QuarantineBytes: r.QuarantineBytes, Segments: []InspectSegment{}, Dropped: r.Dropped, Source: source}
	if out.Quarantine == nil {
		out.Quarantine = []string{}
	}
	if out.Dropped == nil {
		out.Dropped = map[string]uint64{}
	}
	if !r.Oldest.IsZero() {
		out.Oldest = &r.Oldest
	}
	for _, s := range r.Segments {
		out.Segments = append(out.Segments, InspectSegment{s.Name, s.State, s.Bytes, s.InUse, s.Records, s.Error})
	}
	for _, p := range r.Peek {
		typ, at, name := describeEnvelope(p.Data)
		out.Peek = append(out.Peek, InspectEnvelope{p.Segment, p.Seq, p.Time, p.Attempts, typ, at, name})
	}
	return out
}

// describeEnvelope extracts an envelope's type, time and name for display.
func describeEnvelope(raw []byte) (typ, at, name string) {
	var e struct {
		Time string `json:"time"`
		Data struct {
			BaseType string `json:"baseType"`
			BaseData struct {
				Name    string `json:"name"`
				Message string `json:"message"`
			} `json:"baseData"`
		} `json:"data"`
	}
	if err := json.Unmarshal(raw, &e); err != nil {
		return "?", "?", "(not JSON)"
	}
	name = e.Data.BaseData.Name
	if name == "" {
		name = e.Data.BaseData.Message
	}
	if len(name) > 60 {
		name = name[:57] + "..."
	}
	return e.Data.BaseType, e.Time, name
}

// maxInspectPeek bounds the envelopes GET /spool returns.
const maxInspectPeek = 1000

// spoolHandler serves GET /spool[?peek=N]: the spool as the daemon sees
// it, exact for the segments it holds. Envelopes (peek) go only to
// clients on loopback, the same machine as the spool: the admin endpoint
// may listen wider, for Prometheus, and envelope names are telemetry.
func spoolHandler(sp *spool.Spool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		peek := 0
		if v := r.URL.Query().Get("peek"); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 || n > maxInspectPeek {
				http.Error(w, fmt.Sprintf("peek %q: want 0 to %d", v, maxInspectPeek), http.StatusBadRequest)
				return
			}
			peek = n
		}
		if peek > 0 && !fromLoopback(r) {
			http.Error(w, "peek: only for clients on this machine (loopback)", http.StatusForbidden)
			return
		}
		rep, err := sp.Inspect(r.Context(), peek)
		if err != nil {
			http.Error(w, "inspect: "+err.Error(), http.StatusServiceUnavailable)
			return
		}
		out := NewInspectReport(rep, "daemon")
		out.PID = os.Getpid()
		w.Header().Set("Content-Type", "application/json")
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		_ = enc.Encode(out)
	}
}

func fromLoopback(r *http.Request) bool {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return false
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// AdminFile is the file in the spool directory where a running daemon
// says where its admin endpoint is, for "aispool inspect". It is removed at
// a graceful shutdown; after a crash it stays, and names an address nobody
// (or another process) answers: readers check the answer's dir and pid.
const AdminFile = "aispool-daemon.json"

// AdminInfo is the content of [AdminFile].
type AdminInfo struct {
	PID      int       `json:"pid"`
	AdminURL string    `json:"admin_url"`
	Version  string    `json:"version"`
	Started  time.Time `json:"started"`
}

// ReadAdminInfo reads the [AdminFile] of a spool directory;
// fs.ErrNotExist when no daemon wrote one.
func ReadAdminInfo(dir string) (AdminInfo, error) {
	var ai AdminInfo
	b, err := os.ReadFile(filepath.Join(dir, AdminFile))
	if err != nil {
		return ai, err
	}
	if err := json.Unmarshal(b, &ai); err != nil {
		return ai, fmt.Errorf("%s: %w", AdminFile, err)
	}
	return ai, nil
}

// writeAdminFile writes the [AdminFile] (atomically: a temporary file
// renamed into place).
func (d *Daemon) writeAdminFile() error {
	ai := AdminInfo{PID: os.Getpid(), AdminURL: d.AdminURL(), Version: d.cfg.Version, Started: time.Now().UTC()}
	b, err := json.Marshal(ai)
	if err != nil {
		return err
	}
	path := filepath.Join(d.sp.Dir(), AdminFile)
	tmp := path + ".new"
	if err := os.WriteFile(tmp, append(b, '\n'), 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// removeAdminFile removes the [AdminFile] if it is still this process's.
func (d *Daemon) removeAdminFile() {
	dir := d.sp.Dir()
	if ai, err := ReadAdminInfo(dir); err == nil && ai.PID == os.Getpid() {
		if err := os.Remove(filepath.Join(dir, AdminFile)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			d.log.Warn("remove the admin address file", "err", err)
		}
	}
}
