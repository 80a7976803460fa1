package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"steady/internal/config"
	"steady/internal/plural"
	"steady/internal/secret"
	"steady/internal/session"
	"steady/internal/target"
	"steady/internal/visible"
	"steady/probes"
	"steady/runbook"
)

type checkFlags struct {
	runbook   string
	only      []string
	json      bool
	clinician string
	from, to  string
	since     string
	window    string
	parallel  int
	noJournal bool
	full      bool
}

func newCheckCmd() *cobra.Command {
	var f checkFlags
	cmd := &cobra.Command{
		Use:   "check",
		Short: "Run the runbook's probes headless and print what they found",
		Long: `Run every probe the runbook binds (read-only, concurrently) and print a
table, or with --json one JSON document, including each root cause's
verdict. Usable from cron as the runbook's regular data-integrity audit.

The per-clinician probes (shift-counts, source-data) run when --clinician,
--from and --to are given; otherwise they are reported as skipped. The
cache probe compares a sample of the cached figures (probes.sample_keys)
and says so; --full compares every one.

When an incident is open in the journal directory (an unfinished one, as
steady act leaves it), the results are recorded in it, as if the probes had
run on its screen: its report and the plans of later actions know them.
--no-journal leaves the incident alone.

Exit status: 0 when no probe fails, 1 when any probe fails or errors,
2 when steady itself could not run (bad flags, bad runbook) or nothing
could be checked (every probe skipped: nothing configured to check).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error { return runCheck(cmd, f) },
	}
	fl := cmd.Flags()
	fl.StringVar(&f.runbook, "runbook", "", "runbook name or file (default "+runbook.DefaultName+")")
	fl.StringSliceVar(&f.only, "only", nil, "run only these probes (comma-separated ids)")
	fl.BoolVar(&f.json, "json", false, "print one JSON document")
	fl.StringVar(&f.clinician, "clinician", "", "clinician id for shift-counts and source-data")
	fl.StringVar(&f.from, "from", "", "start date (YYYY-MM-DD) for shift-counts and source-data")
	fl.StringVar(&f.to, "to", "", "end date (YYYY-MM-DD) for shift-counts and source-data")
	fl.StringVar(&f.since, "since", "", "how far back audit-concurrency looks (e.g. 24h, 7d)")
	fl.StringVar(&f.window, "window", "", "what counts as concurrent for audit-concurrency (default 1s)")
	fl.IntVar(&f.parallel, "parallel", 4, "probes run at once")
	fl.BoolVar(&f.noJournal, "no-journal", false, "do not record the results in the open incident of the journal directory")
	fl.BoolVar(&f.full, "full", false, "the cache probe audits every cached worked count instead of a sample")
	return cmd
}

// checkReport is the JSON document of `steady check --json`.
type checkReport struct {
	Runbook   string          `json:"runbook"`
	Target    string          `json:"target"`
	StartedAt time.Time       `json:"started_at"`
	Probes    []probes.Result `json:"probes"`
	Causes    []causeVerdict  `json:"causes"`
	Failed    bool            `json:"failed"`
}

type causeVerdict struct {
	ID             string         `json:"id"`
	Title          string         `json:"title"`
	Likelihood     string         `json:"likelihood"`
	Verdict        probes.Verdict `json:"verdict"`
	EvidenceProbes []string       `json:"evidence_probes"`
}

func runCheck(cmd *cobra.Command, f checkFlags) error {
	l, err := loadConfig(cmd)
	if err != nil {
		return err
	}
	rb, err := runbook.Load(f.runbook, l.Runbooks, known())
	if err != nil {
		return exitf(exitUsage, "%v", err)
	}
	ids, input, err := checkInput(rb, f)
	if err != nil {
		return err
	}

	ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt)
	defer stop()
	t := target.New(&l.Config)
	defer t.Close()
	// One check is one look at the systems: a server that did not answer
	// is not asked again by every probe.
	t.RetryAfter = 0
	started := time.Now().UTC()
	// Every system at once, before learning the profile asks the database
	// alone: two silent servers cost one timeout, not one each in turn.
	t.Reach(ctx)
	learnProfile(ctx, l, t, cmd.ErrOrStderr())
	results := runProbes(ctx, t, rb, ids, input, max(f.parallel, 1))

	rep := newCheckReport(rb, t.String(), started, results)
	if f.json {
		enc := json.NewEncoder(cmd.OutOrStdout())
		enc.SetIndent("", "  ")
		if err := enc.Encode(rep); err != nil {
			return err
		}
	} else {
		printCheck(cmd.OutOrStdout(), rep)
	}
	if ctx.Err() != nil {
		return silentExit(exitAborted)
	}
	if !f.noJournal {
		journalCheck(l, results, cmd.ErrOrStderr())
	}
	if rep.Failed {
		return silentExit(exitFound)
	}
	return nothingChecked(results)
}

// checkInput is the probes to run and their parameters, checked before
// anything is touched: known probes, dates in order, a clinician's id.
func checkInput(rb *runbook.Runbook, f checkFlags) ([]string, map[string]string, error) {
	ids := rb.Probes("")
	if len(f.only) > 0 {
		for _, id := range f.only {
			if _, ok := probes.Get(id); !ok {
				return nil, nil, exitf(exitUsage, "--only: unknown probe %q (known: %s)", id, strings.Join(probes.IDs(), ", "))
			}
		}
		ids = f.only
	}
	input := map[string]string{}
	if f.full {
		input["full"] = "true"
	}
	for k, v := range map[string]string{"clinician": f.clinician, "from": f.from, "to": f.to, "since": f.since, "window": f.window} {
		if v != "" {
			input[k] = v
		}
	}
	// Reject a reversed or malformed range before touching anything.
	for _, k := range []string{"from", "to"} {
		if v := input[k]; v != "" {
			if err := probes.ValidateValue("date", v); err != nil {
				return nil, nil, exitf(exitUsage, "--%s: %v", k, err)
			}
		}
	}
	if input["from"] != "" && input["to"] != "" && input["from"] > input["to"] {
		return nil, nil, exitf(exitUsage, "the date range is reversed: --from %s is after --to %s", input["from"], input["to"])
	}
	if f.clinician != "" {
		if err := probes.ValidateValue("int", f.clinician); err != nil {
			return nil, nil, exitf(exitUsage, "--clinician: %v", err)
		}
	}
	return ids, input, nil
}

// newCheckReport gathers the probes' results and decides each cause.
func newCheckReport(rb *runbook.Runbook, targetName string, started time.Time, results []probes.Result) checkReport {
	rep := checkReport{Runbook: rb.Name, Target: targetName, StartedAt: started, Probes: results}
	byID := map[string]*probes.Result{}
	for i := range results {
		r := &results[i]
		byID[r.Probe] = r
		if r.Status == probes.Fail || r.Status == probes.Error {
			rep.Failed = true
		}
	}
	for _, c := range rb.Causes {
		var rs []*probes.Result
		for _, p := range c.Probes {
			rs = append(rs, byID[p])
		}
		rep.Causes = append(rep.Causes, causeVerdict{ID: c.ID, Title: c.Title, Likelihood: c.Likelihood, Verdict: probes.Decide(rs), EvidenceProbes: c.Probes})
	}
	return rep
}

// nothingChecked is a usage error when every probe was skipped: a cron job
// must not read "nothing checked" as healthy.
func nothingChecked(results []probes.Result) error {
	var why []string
	for _, r := range results {
		if r.Status != probes.Skipped {
			return nil
		}
		why = append(why, r.Probe+": "+strings.TrimPrefix(r.Summary, "skipped: "))
	}
	return exitf(exitUsage, "nothing was checked: every probe was skipped (%s)", strings.Join(why, "; "))
}

// journalCheck records the results in the open incident of the journal
// directory, if there is one and no other steady holds it; it says on w
// where they went, or why not.
func journalCheck(l *config.Loaded, results []probes.Result, w io.Writer) {
	inf, ok := session.LatestUnfinished(l.JournalDir)
	if !ok {
		return
	}
	rb, err := session.LoadRunbookFor(inf.Path, l.Runbooks, known())
	if err != nil {
		fmt.Fprintf(w, "steady: results not recorded in %s: %v\n", inf.Path, err)
		return
	}
	actor := session.Actor{Name: operatorName(&l.Config), Via: "cli", Role: session.Operator}
	t := target.New(&l.Config)
	defer t.Close()
	s, _, err := session.Resume(inf.Path, session.Options{Runbook: rb, Target: t, Dir: l.JournalDir, Actor: actor, Version: version, Runbooks: l.Runbooks})
	if err != nil {
		fmt.Fprintf(w, "steady: results not recorded in incident %s: %v\n", inf.ID, err)
		return
	}
	defer s.Shutdown()
	n := 0
	for _, r := range results {
		if r.Status == probes.Skipped {
			continue
		}
		if err := s.RecordProbe(actor, r); err != nil {
			fmt.Fprintf(w, "steady: results not recorded in incident %s: %v\n", inf.ID, err)
			return
		}
		n++
	}
	fmt.Fprintf(w, "steady: %s recorded in incident %s (--no-journal leaves it alone)\n", plural.Count(n, "result", "results"), s.ID())
}

// runProbes runs the probes concurrently, at most parallel at a time, and
// returns their results in the order given. A probe whose parameters are
// missing is skipped with the reason. Connectivity goes first, alone: it
// reaches every system at once, and a system it cannot reach is one
// failure, the probes needing it being skipped with its reason rather than
// each waiting out a connect timeout of its own.
func runProbes(ctx context.Context, t *target.Target, rb *runbook.Runbook, ids []string, input map[string]string, parallel int) []probes.Result {
	results := make([]probes.Result, len(ids))
	run := func(i int, p probes.Probe, params probes.Params) {
		r := p.Run(ctx, t, params)
		r.Probe, r.Params = ids[i], params
		r.Summary, r.Error = secret.RedactText(r.Summary), secret.RedactText(r.Error)
		results[i] = r
	}
	type job struct {
		i      int
		p      probes.Probe
		params probes.Params
	}
	var first, rest []job
	for i, id := range ids {
		p, _ := probes.Get(id)
		params, err := probes.Resolve(p, bindingParams(rb, id), input)
		if err != nil {
			results[i] = probes.Result{Probe: id, Status: probes.Skipped, Summary: "skipped: " + err.Error() + " (give --clinician, --from and --to)", Started: time.Now().UTC()}
			continue
		}
		if id == "connectivity" {
			first = append(first, job{i, p, params})
		} else {
			rest = append(rest, job{i, p, params})
		}
	}
	for _, j := range first {
		run(j.i, j.p, j.params)
	}
	sem := make(chan struct{}, parallel)
	var wg sync.WaitGroup
	for _, j := range rest {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			run(j.i, j.p, j.params)
		})
	}
	wg.Wait()
	return results
}

// bindingParams returns the parameters the runbook's first diagnosis
// binding of a probe gives, without the ones it leaves to the operator.
func bindingParams(rb *runbook.Runbook, probe string) map[string]string {
	for _, it := range rb.Items() {
		if b := it.Binding; b != nil && b.Probe == probe && it.Section == runbook.Diagnosis {
			out := map[string]string{}
			for k, v := range b.Params {
				if v != runbook.Ask {
					out[k] = v
				}
			}
			return out
		}
	}
	return nil
}

func printCheck(w io.Writer, rep checkReport) {
	fmt.Fprintf(w, "steady check — runbook %s — %s\n\n", rep.Runbook, rep.Target)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "PROBE\tSTATUS\tTIME\tSUMMARY")
	for _, r := range rep.Probes {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", r.Probe, statusWord(r.Status), r.Duration.Round(time.Millisecond), visible.Text(r.Summary))
	}
	tw.Flush()
	var lines []string
	for _, r := range rep.Probes {
		for _, fd := range r.Findings {
			if fd.Status == probes.OK {
				continue
			}
			lines = append(lines, fmt.Sprintf("  %-18s %-5s %s", r.Probe, statusWord(fd.Status), visible.Text(fd.Message)))
		}
		if r.Error != "" && r.Status == probes.Error {
			lines = append(lines, fmt.Sprintf("  %-18s %-5s %s", r.Probe, "ERROR", visible.Text(r.Error)))
		}
	}
	if len(lines) > 0 {
		fmt.Fprintln(w, "\nFindings:")
		fmt.Fprintln(w, strings.Join(lines, "\n"))
	}
	if len(rep.Causes) > 0 {
		fmt.Fprintln(w, "\nRoot causes:")
		causes := append([]causeVerdict(nil), rep.Causes...)
		rank := map[probes.Verdict]int{probes.Confirmed: 0, probes.Unknown: 1, probes.RuledOut: 2}
		sort.SliceStable(causes, func(i, j int) bool { return rank[causes[i].Verdict] < rank[causes[j].Verdict] })
		tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		for _, c := range causes {
			fmt.Fprintf(tw, "  %s\t%s\t%s\t(%s)\n", strings.ToUpper(string(c.Verdict)), c.Title, c.Likelihood, strings.Join(c.EvidenceProbes, ", "))
		}
		tw.Flush()
	}
	if rep.Failed {
		fmt.Fprintln(w, "\nResult: problems found (exit 1).")
	} else {
		fmt.Fprintln(w, "\nResult: no probe failed (exit 0).")
	}
}

func statusWord(s probes.Status) string {
	switch s {
	case probes.Fail:
		return "FAIL"
	case probes.Error:
		return "ERROR"
	case probes.Warn:
		return "warn"
	}
	return string(s)
}
