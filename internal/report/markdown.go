package report

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"steady/actions"
	"steady/internal/plural"
	"steady/internal/visible"
	"steady/probes"
)

// EvidenceRows is how many evidence rows per probe the Markdown shows.
const EvidenceRows = 15

// Markdown writes the report as a postmortem checklist.
func (r *Report) Markdown() string {
	var b strings.Builder
	r.writeHeader(&b)
	r.writeIntegrity(&b)
	if len(r.Open) > 0 {
		b.WriteString("## Open items\n\n")
		for _, o := range r.Open {
			fmt.Fprintf(&b, "- [ ] %s\n", esc(o))
		}
		b.WriteString("\n")
	}

	b.WriteString("## Symptoms observed\n\n")
	for _, t := range r.Symptoms {
		writeTick(&b, t)
	}
	r.writeCauses(&b)

	b.WriteString("\n## Diagnosis\n\n")
	for i, s := range r.Diagnosis {
		writeStep(&b, i+1, s)
	}

	b.WriteString("## Actions\n\n")
	if len(r.Actions) == 0 {
		b.WriteString("No action was carried out.\n\n")
	}
	for _, a := range r.Actions {
		writeAction(&b, a, r.Incident.Journal)
	}

	b.WriteString("## Verification\n\n")
	for _, t := range r.Verification {
		writeTick(&b, t)
	}
	if len(r.FollowUps) > 0 {
		b.WriteString("\n## Follow-ups (prevention)\n\n")
		for _, f := range r.FollowUps {
			fmt.Fprintf(&b, "- [ ] %s\n", esc(f))
		}
	}
	r.writeEscalations(&b)
	r.writeNotes(&b)
	if len(r.Debrief) > 0 {
		b.WriteString("\n## Drill debrief\n\n")
		writeDebrief(&b, r.Debrief)
	}
	b.WriteString("\n## Timeline\n\n| # | Time (UTC) | Who | What |\n| --- | --- | --- | --- |\n")
	for _, t := range r.Timeline {
		fmt.Fprintf(&b, "| %d | %s | %s | %s |\n", t.Seq, t.At.UTC().Format("15:04:05"), cell(t.By), cell(t.What))
	}
	return b.String()
}

// writeHeader writes the title and the table of what the incident was.
func (r *Report) writeHeader(b *strings.Builder) {
	h := r.Incident
	title := h.Title
	if title == "" {
		title = h.Runbook
	}
	fmt.Fprintf(b, "# Postmortem checklist: %s\n\n", esc(title))
	if h.Drill != "" {
		fmt.Fprintf(b, "> **Drill** — scenario `%s`. This incident was a practice run in a sandbox.\n\n", h.Drill)
	}
	b.WriteString("| | |\n| --- | --- |\n")
	row := func(k, v string) { fmt.Fprintf(b, "| %s | %s |\n", k, cell(v)) }
	row("Incident", "`"+h.ID+"`")
	if f := h.Follows; f != nil {
		row("Continues", fmt.Sprintf("`%s` (`%s`), not resumed: %s", f.ID, f.Journal, f.Why))
	}
	row("Runbook", fmt.Sprintf("%s (`%s`, sha256 %s)", h.Title, h.Runbook, short(h.RunbookHash)))
	row("Severity", strings.ToUpper(h.Severity))
	row("Target", h.Target)
	if h.Profile != "" {
		row("Application profile", h.Profile)
	}
	row("Start", ts(h.Start))
	if h.Closed {
		row("End", ts(h.End))
	} else {
		row("End", "still open (last event "+ts(h.End)+")")
	}
	dur := time.Duration(h.DurationS) * time.Second
	ttr := time.Duration(h.EstimatedS) * time.Second
	if ttr > 0 {
		row("Duration", fmt.Sprintf("%s (estimated TTR %s)", human(dur), human(ttr)))
	} else {
		row("Duration", human(dur))
	}
	row("Operators", strings.Join(h.Operators, ", "))
	r.writeJournalRows(row)
	if h.Summary != "" {
		row("Summary", h.Summary)
	}
	b.WriteString("\n")
}

// writeJournalRows writes the header's rows about the journal: where it is,
// whether its hash chain holds, and its head.
func (r *Report) writeJournalRows(row func(k, v string)) {
	in := r.Integrity
	integrity := fmt.Sprintf("hash chain verified over %d events", in.Events)
	if !in.Verified {
		integrity = fmt.Sprintf("**NOT VERIFIED**: %s, see Journal integrity below", plural.Count(len(in.Problems)+in.More, "problem", "problems"))
	}
	row("Journal", fmt.Sprintf("`%s` — %s", r.Incident.Journal, integrity))
	if in.Head != "" {
		head := "`" + in.Head + "`"
		if in.Sealed {
			head += " (sealed when the incident closed)"
		}
		row("Journal head", head+"; `steady report verify --head` holds a copy of the journal against it")
	}
}

// writeIntegrity lists what is wrong with a journal that does not verify.
func (r *Report) writeIntegrity(b *strings.Builder) {
	in := r.Integrity
	if in.Verified {
		return
	}
	b.WriteString("## Journal integrity\n\n")
	b.WriteString("The journal does not hold together as steady wrote it: what follows may not be what happened.\n\n")
	for _, p := range in.Problems {
		fmt.Fprintf(b, "- %s\n", esc(p))
	}
	if in.More > 0 {
		fmt.Fprintf(b, "- and %d more (`steady report verify %s` lists them)\n", in.More, r.Incident.Journal)
	}
	b.WriteString("\n")
}

// writeCauses writes the table of causes and their verdicts.
func (r *Report) writeCauses(b *strings.Builder) {
	b.WriteString("\n## Root causes\n\n| Cause | Likelihood | Verdict | Evidence |\n| --- | --- | --- | --- |\n")
	for _, c := range r.Causes {
		v := string(c.Verdict)
		if c.Verdict == probes.Confirmed {
			v = "**confirmed**"
		}
		fmt.Fprintf(b, "| %s | %s | %s | %s |\n", cell(c.Title), cell(c.Likelihood), v, cell(strings.Join(c.Probes, ", ")))
	}
}

// writeStep writes diagnosis step n with its evidence.
func writeStep(b *strings.Builder, n int, s Step) {
	fmt.Fprintf(b, "%d. **%s** — %s\n", n, esc(s.Text), statusText(s.Status))
	if s.Skipped != "" {
		fmt.Fprintf(b, "   Skipped: %s\n", esc(s.Skipped))
	}
	if s.FirstFailed != nil {
		// Before and after, in time order: what failed first, what was
		// done about it, and what the probe says now.
		e := s.FirstFailed
		fmt.Fprintf(b, "   First failed: probe `%s` %s (%s, %s by %s): %s\n", e.Probe, e.Run, e.Status, ts(e.At), e.By, esc(e.Summary))
		for _, tch := range s.Touched {
			fmt.Fprintf(b, "   Then: action `%s` %s %s (%s by %s): %s\n", tch.Action, tch.Run, tch.Status, ts(tch.At), tch.By, esc(tch.Summary))
		}
		b.WriteString("   Now: ")
	}
	if s.Evidence != nil {
		indent := "   "
		if s.FirstFailed != nil {
			indent = ""
		}
		writeEvidence(b, s.Evidence, indent)
	}
	b.WriteString("\n")
}

// writeEscalations writes the table of escalations, if any.
func (r *Report) writeEscalations(b *strings.Builder) {
	if len(r.Escalations) == 0 {
		return
	}
	b.WriteString("\n## Escalations\n\n| To | Why | Raised | Acknowledged |\n| --- | --- | --- | --- |\n")
	for _, e := range r.Escalations {
		ack := "—"
		if e.AckedAt != nil {
			ack = e.AckedBy + ", " + ts(*e.AckedAt)
		}
		why := e.When
		if e.Auto {
			why += " (time threshold)"
		}
		fmt.Fprintf(b, "| %s | %s | %s | %s |\n", cell(e.To), cell(why), ts(e.Raised), cell(ack))
	}
}

// writeNotes writes the operators' notes, if any.
func (r *Report) writeNotes(b *strings.Builder) {
	if len(r.Notes) == 0 {
		return
	}
	b.WriteString("\n## Notes\n\n")
	for _, n := range r.Notes {
		where := ""
		if n.Item != "" {
			where = " on `" + n.Item + "`"
		}
		fmt.Fprintf(b, "- %s, %s%s: %s\n", n.By, ts(n.At), where, esc(n.Text))
	}
}

func writeTick(b *strings.Builder, t Tick) {
	box := " "
	if t.Done {
		box = "x"
	}
	line := fmt.Sprintf("- [%s] %s", box, esc(t.Text))
	switch {
	case t.Skipped != "":
		line += fmt.Sprintf(" — skipped by %s: %s", t.By, esc(t.Skipped))
	case t.At != nil:
		line += fmt.Sprintf(" — %s, %s", t.By, ts(*t.At))
	}
	b.WriteString(line + "\n")
	if t.Evidence != nil {
		fmt.Fprintf(b, "  - evidence: `%s` %s %s at %s — %s\n", t.Evidence.Probe, t.Evidence.Run, t.Evidence.Status, ts(t.Evidence.At), esc(t.Evidence.Summary))
	}
	if t.ProvedBy != "" {
		fmt.Fprintf(b, "  - proved by: %s\n", esc(t.ProvedBy))
	}
}

func writeEvidence(b *strings.Builder, e *Evidence, indent string) {
	fmt.Fprintf(b, "%sProbe `%s` %s (%s, %s by %s): %s\n", indent, e.Probe, e.Run, e.Status, ts(e.At), e.By, esc(e.Summary))
	for _, f := range e.Findings {
		if f.Status == probes.OK {
			continue
		}
		fmt.Fprintf(b, "%s- %s: %s\n", indent, f.Status, esc(f.Message))
	}
	if len(e.Table.Columns) == 0 || len(e.Table.Rows) == 0 {
		return
	}
	b.WriteString("\n")
	fmt.Fprintf(b, "%s| %s |\n", indent, strings.Join(cells(e.Table.Columns), " | "))
	fmt.Fprintf(b, "%s|%s\n", indent, strings.Repeat(" --- |", len(e.Table.Columns)))
	n := min(len(e.Table.Rows), EvidenceRows)
	for _, r := range e.Table.Rows[:n] {
		fmt.Fprintf(b, "%s| %s |\n", indent, strings.Join(cells(r), " | "))
	}
	if more := len(e.Table.Rows) - n + e.Table.Omitted; more > 0 {
		fmt.Fprintf(b, "\n%s(%d more rows in the journal)\n", indent, more)
	}
}

// writeAction writes one action: who decided it, its plan exactly as run,
// its outcome and the tail of its output.
func writeAction(b *strings.Builder, a Action, journal string) {
	status := "not run"
	switch {
	case a.Outcome != nil:
		status = string(a.Outcome.Status)
	case a.Started != nil:
		status = "running when the journal ends, outcome unknown"
	}
	fmt.Fprintf(b, "### %s — %s\n\n", a.Plan.Title, status)
	writeDecisions(b, a)
	if a.Override != "" {
		fmt.Fprintf(b, "> **Precondition overridden**: %s\n\n", esc(a.Override))
	}
	writePlan(b, a.Plan)
	if a.Outcome != nil {
		writeOutcome(b, a.Outcome)
	}
	if a.OutputLines > 0 {
		if a.OutputLines > len(a.Output) {
			fmt.Fprintf(b, "Output (last %d of %d lines; the whole output: `steady report %s --output %s`):\n\n", len(a.Output), a.OutputLines, journal, a.Run)
		} else {
			b.WriteString("Output:\n\n")
		}
		b.WriteString("```\n")
		for _, l := range a.Output {
			b.WriteString(strings.ReplaceAll(visible.Text(l), "```", "'''") + "\n")
		}
		b.WriteString("```\n\n")
	}
	if a.Outcome != nil && a.Outcome.Status == actions.OutcomeUnknown {
		b.WriteString("> The outcome of this action is unknown: steady stopped while it ran.\n\n")
	}
}

// writeDecisions writes who planned, confirmed, approved or rejected an
// action, with their keys.
func writeDecisions(b *strings.Builder, a Action) {
	fmt.Fprintf(b, "Run `%s`, planned by %s. Risk: %s.", a.Run, a.PlannedBy, a.Plan.Risk)
	if a.ConfirmedBy != "" {
		fmt.Fprintf(b, " Confirmed by %s at %s", a.ConfirmedBy, ts(*a.ConfirmedAt))
		if a.Plan.Destructive {
			fmt.Fprintf(b, " (typed `%s`)", a.Plan.ConfirmPhrase)
		}
		if a.ConfirmedKey != "" {
			fmt.Fprintf(b, " with key `%s`", a.ConfirmedKey)
		}
		b.WriteString(".")
	}
	if a.ApprovedBy != "" {
		fmt.Fprintf(b, " Approved by %s at %s", a.ApprovedBy, ts(*a.ApprovedAt))
		if a.ApprovedKey != "" {
			fmt.Fprintf(b, " with key `%s`", a.ApprovedKey)
		}
		b.WriteString(" (two-person rule).")
	}
	if a.RejectedBy != "" {
		fmt.Fprintf(b, " Rejected by %s: %s.", a.RejectedBy, esc(a.RejectReason))
	}
	b.WriteString("\n\n")
}

// writePlan writes a plan's summary, preconditions, warnings and steps.
func writePlan(b *strings.Builder, plan actions.Plan) {
	if plan.Summary != "" {
		b.WriteString(esc(plan.Summary) + "\n\n")
	}
	for _, p := range plan.Preconditions {
		mark := "x"
		if !p.Holds {
			mark = " "
		}
		fmt.Fprintf(b, "- [%s] precondition %s: %s\n", mark, esc(p.Name), esc(p.Detail))
	}
	for _, w := range plan.Warnings {
		fmt.Fprintf(b, "- warning: %s\n", esc(w))
	}
	if len(plan.Preconditions)+len(plan.Warnings) > 0 {
		b.WriteString("\n")
	}
	if len(plan.Steps) > 0 {
		b.WriteString("Plan, exactly as run:\n\n```\n")
		for _, s := range plan.Steps {
			fmt.Fprintf(b, "%s\n", visible.Text(s.Text))
		}
		b.WriteString("```\n\n")
	}
}

// writeOutcome writes how an action ended and what it left behind.
func writeOutcome(b *strings.Builder, o *actions.Outcome) {
	fmt.Fprintf(b, "Outcome: **%s** — %s (exit status %d, took %s)\n", o.Status, esc(o.Summary), o.ExitCode, o.Duration.Round(time.Millisecond))
	if o.Error != "" {
		fmt.Fprintf(b, "\nError: %s\n", esc(o.Error))
	}
	if lines := o.ArtefactLines(); len(lines) > 0 {
		b.WriteString("\n")
		for _, l := range lines {
			name, value, _ := strings.Cut(l, ": ")
			fmt.Fprintf(b, "- %s: `%s`\n", name, visible.Text(value))
		}
	}
	b.WriteString("\n")
}

func writeDebrief(b *strings.Builder, d map[string]any) {
	keys := make([]string, 0, len(d))
	for k := range d {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	b.WriteString("| | |\n| --- | --- |\n")
	for _, k := range keys {
		fmt.Fprintf(b, "| %s | %s |\n", cell(strings.ReplaceAll(k, "_", " ")), cell(fmt.Sprint(d[k])))
	}
}

func statusText(s string) string {
	switch s {
	case "fail":
		return "**FAIL**"
	case "todo":
		return "not run"
	}
	return s
}

// human writes 2h0m0s as 2h and 11m30s as it is.
func human(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

func ts(t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	return t.UTC().Format("2006-01-02 15:04:05 UTC")
}

func short(h string) string {
	if len(h) > 12 {
		return h[:12]
	}
	return h
}

// esc keeps text from being read as Markdown markup where it matters, and
// from driving the terminal or viewer that shows the report.
func esc(s string) string {
	s = visible.Text(strings.ReplaceAll(s, "\n", " "))
	return strings.NewReplacer("<", "&lt;", ">", "&gt;").Replace(s)
}

func cell(s string) string { return strings.ReplaceAll(esc(s), "|", `\|`) }

func cells(in []string) []string {
	out := make([]string, len(in))
	for i, s := range in {
		out[i] = cell(s)
	}
	return out
}
