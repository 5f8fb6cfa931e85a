package main

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/aispool/aispool/spool"
)

func newInspectCommand(g *globals) *cobra.Command {
	var (
		dir    string
		asJSON bool
		peek   int
	)
	cmd := &cobra.Command{
		Use:   "inspect",
		Short: "Show what a spool holds (read-only, safe while a daemon runs)",
		Long: `inspect lists a spool's segments, records, bytes, oldest record and quarantine. With --peek N it
shows the first N envelopes' type, time and name. It changes nothing; segments that another process
holds are listed as in use.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if dir == "" {
				return configError("--spool-dir: required")
			}
			if peek < 0 {
				return usageError{fmt.Errorf("--peek %d: must not be negative", peek)}
			}
			r, err := spool.Inspect(cmd.Context(), dir, peek)
			if err != nil {
				return err
			}
			if asJSON {
				enc := json.NewEncoder(g.stdout)
				enc.SetIndent("", "  ")
				return enc.Encode(inspectJSON(r))
			}
			return printInspect(g, r)
		},
	}
	cmd.Flags().StringVar(&dir, "spool-dir", "", "spool directory (required)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON (the documented contract for scripts)")
	cmd.Flags().IntVar(&peek, "peek", 0, "show the first N envelopes")
	return withConfig(g, cmd)
}

// inspectOutput is the JSON contract of `aispool inspect --json`.
type inspectOutput struct {
	Dir             string            `json:"dir"`
	Records         int64             `json:"records"`
	RecordsExact    bool              `json:"records_exact"`
	Bytes           int64             `json:"bytes"`
	Oldest          *time.Time        `json:"oldest,omitempty"`
	Segments        []segmentOutput   `json:"segments"`
	Quarantine      []string          `json:"quarantine"`
	QuarantineBytes int64             `json:"quarantine_bytes"`
	Dropped         map[string]uint64 `json:"dropped"`
	Peek            []envelopeOutput  `json:"peek,omitempty"`
}

type segmentOutput struct {
	Name    string `json:"name"`
	State   string `json:"state"`
	Bytes   int64  `json:"bytes"`
	InUse   bool   `json:"in_use"`
	Records int64  `json:"records"` // -1: unknown (in use or unreadable)
	Error   string `json:"error,omitempty"`
}

type envelopeOutput struct {
	Segment  string    `json:"segment"`
	Seq      uint64    `json:"seq"`
	Spooled  time.Time `json:"spooled"`
	Attempts int       `json:"attempts"`
	Type     string    `json:"type"`
	Time     string    `json:"time"`
	Name     string    `json:"name"`
}

func inspectJSON(r *spool.Report) inspectOutput {
	out := inspectOutput{Dir: r.Dir, Records: r.Records, RecordsExact: r.RecordsExact, Bytes: r.Bytes,
		Quarantine: r.Quarantine, QuarantineBytes: r.QuarantineBytes, Segments: []segmentOutput{}, Dropped: r.Dropped}
	if out.Quarantine == nil {
		out.Quarantine = []string{}
	}
	if !r.Oldest.IsZero() {
		out.Oldest = &r.Oldest
	}
	for _, s := range r.Segments {
		out.Segments = append(out.Segments, segmentOutput{s.Name, s.State, s.Bytes, s.InUse, s.Records, s.Error})
	}
	for _, p := range r.Peek {
		typ, at, name := describeEnvelope(p.Data)
		out.Peek = append(out.Peek, envelopeOutput{p.Segment, p.Seq, p.Time, p.Attempts, typ, at, name})
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

func printInspect(g *globals, r *spool.Report) error {
	o := inspectJSON(r)
	w := tabwriter.NewWriter(g.stdout, 0, 4, 2, ' ', 0)
	records := fmt.Sprint(o.Records)
	if !o.RecordsExact {
		records += "+ (some segments in use by another process)"
	}
	fmt.Fprintf(w, "spool\t%s\n", o.Dir)
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
	return w.Flush()
}
