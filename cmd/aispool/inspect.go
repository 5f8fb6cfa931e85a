package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/aispool/aispool/internal/daemon"
	"github.com/aispool/aispool/spool"
)

// inspectOutput is the JSON contract of `aispool inspect --json`.
type inspectOutput = daemon.InspectReport

func newInspectCommand(g *globals) *cobra.Command {
	var (
		dir    string
		asJSON bool
		peek   int
		admin  string
	)
	cmd := &cobra.Command{
		Use:   "inspect",
		Short: "Show what a spool holds (read-only, safe while a daemon runs)",
		Long: `inspect lists a spool's segments, records, bytes, oldest record and quarantine. With --peek N it
shows the first N envelopes' type, time and name. It changes nothing.

Segments that a running process holds cannot be read from their files. When that process is the aispool
daemon, inspect asks it instead, through its admin endpoint (the address is in the spool directory's
aispool-daemon.json, or --admin), so the report is exact while the daemon runs. Segments that another
process holds (an application's exporter) are listed as in use, their records not counted.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if dir == "" {
				return configError("--spool-dir: required")
			}
			if peek < 0 {
				return usageError{fmt.Errorf("--peek %d: must not be negative", peek)}
			}
			r, note, err := inspectSpool(cmd.Context(), dir, peek, admin)
			if err != nil {
				return err
			}
			if asJSON {
				enc := json.NewEncoder(g.stdout)
				enc.SetIndent("", "  ")
				return enc.Encode(r)
			}
			return printInspect(g, r, note, peek)
		},
	}
	cmd.Flags().StringVar(&dir, "spool-dir", "", "spool directory (required)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON (the documented contract for scripts)")
	cmd.Flags().IntVar(&peek, "peek", 0, "show the first N envelopes")
	cmd.Flags().StringVar(&admin, "admin", "", "the daemon's admin endpoint (host:port or URL) to ask when segments are in use (default: from the spool directory's "+daemon.AdminFile+")")
	return withConfig(g, cmd)
}

// inspectSpool reads the spool's directory, and when some segment is held
// by a process, asks the daemon. note says why the report is not exact
// when the daemon could not be asked.
func inspectSpool(ctx context.Context, dir string, peek int, admin string) (r inspectOutput, note string, err error) {
	rep, err := spool.Inspect(ctx, dir, peek)
	if err != nil {
		return r, "", err
	}
	r = daemon.NewInspectReport(rep, "files")
	if rep.RecordsExact && admin == "" {
		return r, "", nil
	}
	url, pid := admin, 0
	if url == "" {
		ai, err := daemon.ReadAdminInfo(dir)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			return r, "no aispool daemon serves this spool with an admin endpoint (" + daemon.AdminFile + " is absent): the segments in use belong to another process", nil
		case err != nil:
			return r, fmt.Sprintf("cannot read %s: %v", daemon.AdminFile, err), nil
		}
		url, pid = ai.AdminURL, ai.PID
	}
	if !strings.Contains(url, "://") {
		url = "http://" + url
	}
	fromDaemon, err := askDaemon(ctx, url, peek)
	if err != nil {
		return r, fmt.Sprintf("the daemon (pid %d) did not answer at %s: %v", pid, url, err), nil
	}
	if !sameDir(fromDaemon.Dir, dir) {
		return r, fmt.Sprintf("the daemon at %s serves the spool %s, not this one", url, fromDaemon.Dir), nil
	}
	fromDaemon.Dir = r.Dir
	return fromDaemon, "", nil
}

// askDaemon gets GET /spool of a daemon's admin endpoint.
func askDaemon(ctx context.Context, base string, peek int) (inspectOutput, error) {
	var r inspectOutput
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, fmt.Sprintf("%s/spool?peek=%d", strings.TrimRight(base, "/"), peek), nil)
	if err != nil {
		return r, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return r, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return r, err
	}
	if resp.StatusCode != http.StatusOK {
		return r, fmt.Errorf("%s: %s", resp.Status, strings.TrimSpace(string(body)))
	}
	if err := json.Unmarshal(body, &r); err != nil {
		return r, fmt.Errorf("not an inspect report: %w", err)
	}
	return r, nil
}

// sameDir reports whether two paths name the same directory.
func sameDir(a, b string) bool {
	ea, err1 := filepath.EvalSymlinks(a)
	eb, err2 := filepath.EvalSymlinks(b)
	if err1 != nil || err2 != nil {
		return filepath.Clean(a) == filepath.Clean(b)
	}
	aa, _ := filepath.Abs(ea)
	ab, _ := filepath.Abs(eb)
	return aa == ab
}

func printInspect(g *globals, o inspectOutput, note string, peek int) error {
	w := tabwriter.NewWriter(g.stdout, 0, 4, 2, ' ', 0)
	records := fmt.Sprint(o.Records)
	inUse := 0
	for _, s := range o.Segments {
		if s.InUse {
			inUse++
		}
	}
	if !o.RecordsExact {
		records += fmt.Sprintf("+ (at least: %d segments in use by another process are not counted)", inUse)
	}
	fmt.Fprintf(w, "spool\t%s\n", o.Dir)
	if o.Source == "daemon" {
		fmt.Fprintf(w, "read by\tthe aispool daemon holding it (pid %d)\n", o.PID)
	}
	fmt.Fprintf(w, "records\t%s\n", records)
	fmt.Fprintf(w, "bytes on disk\t%d\n", o.Bytes)
	if o.Oldest != nil {
		fmt.Fprintf(w, "oldest record\t%s (%s ago)\n", o.Oldest.UTC().Format(time.RFC3339), time.Since(*o.Oldest).Round(time.Second))
	} else {
		fmt.Fprintf(w, "oldest record\t-\n")
	}
	fmt.Fprintf(w, "quarantine\t%d files, %d bytes\n", len(o.Quarantine), o.QuarantineBytes)
	for _, reason := range slices.Sorted(maps.Keys(o.Dropped)) {
		fmt.Fprintf(w, "dropped: %s\t%d\n", reason, o.Dropped[reason])
	}
	fmt.Fprintf(w, "\nSEGMENT\tSTATE\tBYTES\tRECORDS\tNOTE\n")
	for _, s := range o.Segments {
		recs, note := fmt.Sprint(s.Records), s.Error
		if s.InUse {
			recs, note = "?", "in use by another process"
		}
		fmt.Fprintf(w, "%s\t%s\t%d\t%s\t%s\n", s.Name, s.State, s.Bytes, recs, note)
	}
	if len(o.Peek) > 0 {
		fmt.Fprintf(w, "\nTYPE\tTIME\tNAME\tATTEMPTS\n")
		for _, p := range o.Peek {
			fmt.Fprintf(w, "%s\t%s\t%s\t%d\n", p.Type, p.Time, p.Name, p.Attempts)
		}
	}
	if err := w.Flush(); err != nil {
		return err
	}
	if peek > 0 && len(o.Peek) < peek {
		why := "the spool holds no more"
		if inUse > 0 {
			why = fmt.Sprintf("the records of the %d segments in use by another process cannot be read", inUse)
		}
		fmt.Fprintf(g.stdout, "\npeek: %d of %d envelopes shown: %s\n", len(o.Peek), peek, why)
	}
	if note != "" && !o.RecordsExact {
		fmt.Fprintf(g.stdout, "\nnote: %s\n", note)
	}
	return nil
}
