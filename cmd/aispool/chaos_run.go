package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/aispool/aispool/chaos"
	"github.com/aispool/aispool/chaos/fakeingest"
	"github.com/aispool/aispool/sender"
)

// errChaosFailed is returned when a scenario ran and some check failed.
var errChaosFailed = errors.New("chaos: the scenario failed its checks")

func newChaosRunCommand(g *globals) *cobra.Command {
	var (
		sc         chaos.Scenario
		profile    string
		daemon     bool
		otlp       bool
		reportHTML string
		reportJSON string
		interval   time.Duration
		fileSize   int64
	)
	cmd := &cobra.Command{
		Use:   "run",
		Short: "Run a chaos scenario and verify that nothing acknowledged was lost",
		Long: `run starts the flaky endpoint with a fault profile, drives envelopes through a real shipper, and
checks at the end that every envelope the shipper acknowledged was delivered or dropped for a counted
reason, that duplicates have an explanation, that no request came before a Retry-After allowed it,
that no more requests were in flight than allowed, that the shipper's Prometheus counters agree
with what the endpoint saw, and that the pipe kept flowing: the delivery rate, the recovery after the
last fault and the longest stall, against the profile's liveness thresholds. It prints a summary and the verdict; the exit code is 0 when every check
passed, 1 when one failed.

The shipper's settings default to values that make faults show within a short run, not to run's:
--max-batch-items 100 (run: 5000) and --request-timeout 2s (run: 30s).

By default the shipper runs in this process: spans from the OpenTelemetry SDK through the exporter,
a spool and the sender. With --daemon (implied by --kill-every, --corrupt-after and --file-size-limit)
it is 'aispool run' in a child process, fed through its local ingestion endpoint, and --kill-every
SIGKILLs and restarts it at random moments.`,
		Example: `  aispool chaos run --profile hostile --envelopes 20000 --report chaos.html
  aispool chaos run --profile flaky --envelopes 50000 --kill-every 500ms --min-kills 20`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			p, err := loadProfile(profile)
			if err != nil {
				return err
			}
			sc.Profile = p
			sc.FileSizeLimit = fileSize
			if daemon || otlp || sc.KillEvery > 0 || sc.CorruptAfter > 0 || sc.FileSizeLimit > 0 {
				exe, err := os.Executable()
				if err != nil {
					return fmt.Errorf("find the aispool binary for --daemon: %w", err)
				}
				sc.Daemon = &chaos.Daemon{Path: exe, OTLP: otlp}
			}
			if g.logLevel == "debug" {
				log, err := g.logger()
				if err != nil {
					return err
				}
				sc.Logger = log
			}
			tty := isTerminal(g.stderr)
			var last time.Time
			sc.Progress = func(s chaos.Sample) {
				if tty || time.Since(last) >= interval {
					last = time.Now()
					printChaosProgress(g.stderr, s, sc.Envelopes, tty)
				}
			}
			mode := "in-process"
			if sc.Daemon != nil {
				mode = "daemon"
			}
			fmt.Fprintf(g.stderr, "chaos: profile %s, %d envelopes, shipper %s\n", p.Name, orInt(sc.Envelopes, chaos.DefaultScenarioEnvelopes), mode)
			res, err := sc.Run(cmd.Context())
			if tty {
				fmt.Fprintln(g.stderr)
			}
			if err != nil {
				if errors.Is(err, chaos.ErrScenario) {
					return usageError{err}
				}
				return err
			}
			printChaosResult(g.stdout, res)
			if reportHTML != "" {
				if err := writeFile(reportHTML, res.WriteHTML); err != nil {
					return err
				}
				fmt.Fprintf(g.stdout, "report: %s\n", reportHTML)
			}
			if reportJSON != "" {
				if err := writeFile(reportJSON, func(w io.Writer) error {
					enc := json.NewEncoder(w)
					enc.SetIndent("", "  ")
					return enc.Encode(res)
				}); err != nil {
					return err
				}
			}
			if !res.Passed() {
				return errChaosFailed
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&profile, "profile", "", "fault profile: a name ("+strings.Join(fakeingest.ProfileNames(), ", ")+") or a JSON file (required)")
	f.IntVar(&sc.Envelopes, "envelopes", chaos.DefaultScenarioEnvelopes, "envelopes to send")
	f.IntVar(&sc.Rate, "rate", 0, "envelopes offered per second (0: as fast as the shipper takes them)")
	f.Uint64Var(&sc.Seed, "seed", 0, "seed of the faults and kill moments (0: random; printed, to replay a run)")
	f.BoolVar(&daemon, "daemon", false, "run the shipper as 'aispool run' child processes")
	f.BoolVar(&otlp, "otlp", false, "feed the daemon's OTLP/HTTP intake (log records it converts into the same events) instead of its local ingestion endpoint; implies --daemon")
	f.DurationVar(&sc.KillEvery, "kill-every", 0, "SIGKILL and restart the daemon at random moments, on average this often")
	f.IntVar(&sc.MinKills, "min-kills", 0, "with --kill-every: keep killing after the last envelope until this many kills")
	f.DurationVar(&sc.CorruptAfter, "corrupt-after", 0, "kill the daemon once after this long, corrupt a spool segment, restart it")
	f.Int64Var(&fileSize, "file-size-limit", 0, "the daemon's RLIMIT_FSIZE in bytes: a full disk")
	f.IntVar(&sc.MaxInFlight, "max-in-flight", chaos.DefaultScenarioInFlight, "the shipper's concurrent requests")
	f.IntVar(&sc.BatchItems, "max-batch-items", chaos.DefaultScenarioBatch,
		fmt.Sprintf("envelopes per request (fewer than run's %d: many small requests give the profile's faults more chances to show)",
			sender.DefaultMaxBatchItems))
	f.DurationVar(&sc.RequestTimeout, "request-timeout", chaos.DefaultRequestTimeout,
		fmt.Sprintf("the shipper's request timeout (shorter than run's %v, so that a hang costs seconds; the profile's hangs are shortened to just past it)",
			sender.DefaultRequestTimeout))
	f.DurationVar(&sc.BackoffInitial, "backoff-initial", chaos.DefaultScenarioBackoffInitial, "the shipper's first back-off interval and per-record retry delay")
	f.DurationVar(&sc.BackoffMax, "backoff-max", time.Second, "the shipper's longest back-off interval")
	f.StringVar(&sc.Dir, "spool-dir", "", "working directory for the spool (default: a temporary one, removed at the end)")
	f.StringVar(&sc.Dir, "dir", "", "the former name of --spool-dir")
	_ = f.MarkDeprecated("dir", "use --spool-dir")
	f.DurationVar(&sc.Timeout, "timeout", chaos.DefaultScenarioTimeout, "give up after this long")
	f.StringVar(&reportHTML, "report", "", "write a self-contained HTML report with plots to this file")
	f.StringVar(&reportJSON, "json", "", "write the full result as JSON to this file")
	f.DurationVar(&interval, "progress-interval", 2*time.Second, "how often to print progress when not on a terminal")
	return cmd
}

func orInt(v, d int) int {
	if v == 0 {
		return d
	}
	return v
}

// writeFile writes a file through write, atomically enough for a report:
// a temporary file renamed into place.
func writeFile(path string, write func(io.Writer) error) error {
	tmp := path + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := write(f); err != nil {
		_ = f.Close()
		_ = os.Remove(tmp)
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

func printChaosProgress(w io.Writer, s chaos.Sample, total int, tty bool) {
	queued := "?"
	if s.Queued >= 0 {
		queued = fmt.Sprint(s.Queued)
	}
	line := fmt.Sprintf("%6.1fs acknowledged %d/%d, delivered %d, queued %s, requests %d (%d failed)",
		s.Offset.Seconds(), s.Acknowledged, orInt(total, chaos.DefaultScenarioEnvelopes), s.Delivered, queued, s.Requests, s.Failures)
	if tty {
		fmt.Fprintf(w, "\r\033[K%s", line)
		return
	}
	fmt.Fprintln(w, line)
}

func printChaosResult(out io.Writer, r *chaos.Result) {
	w := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	row := func(k string, v any) { fmt.Fprintf(w, "%s\t%v\n", k, v) }
	row("profile", fmt.Sprintf("%s (seed %d, %s)", r.Profile, r.Seed, r.Mode))
	row("envelopes offered", r.Envelopes)
	row("acknowledged by the shipper", r.Acknowledged)
	row("writes refused, offered again", r.Refused)
	row("delivered", r.Delivered)
	if r.DeliveredUnacked > 0 {
		row("delivered, never acknowledged", r.DeliveredUnacked)
	}
	for _, k := range slices.Sorted(maps.Keys(r.Dropped)) {
		row("dropped: "+k, r.Dropped[k])
	}
	row("lost", r.LostCount)
	row("duplicates", fmt.Sprintf("%d (%d with intact answers)", r.Duplicates, r.UnexplainedDuplicates))
	if len(r.Kills) > 0 {
		row("SIGKILLs", len(r.Kills))
	}
	if r.Corruption != nil {
		row("corrupted segment", fmt.Sprintf("%s: %d records, %d damaged", r.Corruption.Segment, r.Corruption.Records, r.Corruption.Damaged))
	}
	row("requests", r.Endpoint.Requests)
	row("time", r.Elapsed.Round(time.Millisecond))
	_ = w.Flush()
	fmt.Fprint(out, "endpoint answers:")
	for _, k := range slices.Sorted(maps.Keys(r.Endpoint.ByOutcome)) {
		fmt.Fprintf(out, " %s=%d", k, r.Endpoint.ByOutcome[k])
	}
	fmt.Fprintln(out)
	fmt.Fprintln(out)
	w = tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	for _, c := range r.Checks {
		mark := "PASS"
		if !c.Pass {
			mark = "FAIL"
		}
		fmt.Fprintf(w, "%s\t%s\t%s\n", mark, c.Name, c.Detail)
	}
	_ = w.Flush()
	if len(r.Lost) > 0 {
		fmt.Fprintf(out, "lost ids (first %d of %d):", min(len(r.Lost), 20), r.LostCount)
		for _, id := range r.Lost[:min(len(r.Lost), 20)] {
			fmt.Fprint(out, " ", id)
		}
		fmt.Fprintln(out)
	}
	verdict := "PASS: nothing acknowledged was lost"
	if !r.Passed() {
		verdict = "FAIL"
	}
	fmt.Fprintf(out, "\nverdict: %s\n", verdict)
}
