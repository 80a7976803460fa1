package report

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"steady/actions"
	"steady/internal/plural"
	"steady/internal/session"
	"steady/probes"
	"steady/runbook"
)

// Schema identifies the JSON document's shape; it changes only when a
// field is removed or changes meaning.
const Schema = "steady.report/v1"

// Report is the postmortem of one incident. Its JSON field names are the
// documented schema (see README, "Reports").
type Report struct {
	Schema    string    `json:"schema"`
	Incident  Header    `json:"incident"`
	Integrity Integrity `json:"integrity"`
	Symptoms  []Tick    `json:"symptoms"`
	Diagnosis []Step    `json:"diagnosis"`
	Causes    []Cause   `json:"causes"`
	Actions   []Action  `json:"actions"`
	// Verification is the checklist the postmortem verifies.
	Verification []Tick `json:"verification"`
	// FollowUps are the Prevention items, as open follow-ups.
	FollowUps   []string     `json:"follow_ups"`
	Escalations []Escalation `json:"escalations"`
	Notes       []Note       `json:"notes"`
	// Open lists what is not finished: unticked verification, actions
	// with unknown outcomes, unacknowledged escalations, skipped steps.
	Open     []string        `json:"open"`
	Timeline []TimelineEntry `json:"timeline"`
	Debrief  map[string]any  `json:"debrief,omitempty"`
}

// Header is the incident's identity and span.
type Header struct {
	ID          string    `json:"id"`
	Runbook     string    `json:"runbook"`
	Title       string    `json:"title"`
	RunbookHash string    `json:"runbook_hash"`
	Severity    string    `json:"severity"`
	Target      string    `json:"target"`
	Profile     string    `json:"profile,omitempty"`
	Start       time.Time `json:"start"`
	// End is when the incident was closed, or the last event when open.
	End        time.Time `json:"end"`
	Closed     bool      `json:"closed"`
	DurationS  int64     `json:"duration_s"`
	EstimatedS int64     `json:"ttr_estimate_s"`
	Operators  []string  `json:"operators"`
	Drill      string    `json:"drill,omitempty"`
	Summary    string    `json:"summary,omitempty"`
	Journal    string    `json:"journal"`
	// Follows is the earlier incident this one continues, whose journal
	// could not be resumed.
	Follows *session.Link `json:"follows,omitempty"`
}

// Integrity is the result of checking the journal's hash chain.
type Integrity struct {
	Events   int  `json:"events"`
	Verified bool `json:"verified"`
	// Head is the journal's last event, SEQ:HASH: quoted in the
	// postmortem, it pins down the journal the report was made from.
	Head string `json:"head,omitempty"`
	// Sealed is set when the journal ends with the seal written when the
	// incident closed: nothing was added after.
	Sealed bool `json:"sealed,omitempty"`
	// Problems are the first breaks found, each "line N: what"; More
	// counts the ones not listed.
	Problems []string `json:"problems,omitempty"`
	More     int      `json:"more_problems,omitempty"`
}

// IntegrityOf turns a journal's verification into the report's terms.
func IntegrityOf(v *session.Verification) Integrity {
	in := Integrity{Events: v.Events, Verified: v.OK(), More: v.More}
	if v.Events > 0 {
		in.Head = v.Head.String()
	}
	for _, p := range v.Problems {
		in.Problems = append(in.Problems, p.String())
	}
	in.Sealed = v.Sealed
	return in
}

// Tick is a checklist item and who ticked it.
type Tick struct {
	Item    string     `json:"item"`
	Text    string     `json:"text"`
	Done    bool       `json:"done"`
	By      string     `json:"by,omitempty"`
	At      *time.Time `json:"at,omitempty"`
	Skipped string     `json:"skipped,omitempty"`
	// Evidence is the latest result of the item's probe, if it has one.
	Evidence *Evidence `json:"evidence,omitempty"`
	// ProvedBy says what proved a verification item: the probe run that
	// passed (its id and time), and or the person who ticked it.
	ProvedBy string `json:"proved_by,omitempty"`
}

// Step is a diagnosis step and its evidence, before and after: the first
// result of its probe that failed, the actions that re-ran it since, and
// its latest result (Evidence).
type Step struct {
	Item     string    `json:"item"`
	Text     string    `json:"text"`
	Status   string    `json:"status"`
	Probe    string    `json:"probe,omitempty"`
	Evidence *Evidence `json:"evidence,omitempty"`
	Skipped  string    `json:"skipped,omitempty"`
	// FirstFailed is the probe's first failing result in the incident,
	// when the latest is another; Touched are the actions since that
	// re-ran the probe, in time order.
	FirstFailed *Evidence `json:"first_failed,omitempty"`
	Touched     []Touch   `json:"touched,omitempty"`
}

// Touch is an action that changed what a diagnosis step measures.
type Touch struct {
	Run     string                `json:"run"`
	Action  string                `json:"action"`
	Status  actions.OutcomeStatus `json:"status"`
	Summary string                `json:"summary"`
	At      time.Time             `json:"at"`
	By      string                `json:"by"`
}

// evidenceOf is a probe run's result as the report shows it.
func evidenceOf(p *session.ProbeRun) *Evidence {
	res := p.Result
	return &Evidence{Run: p.ID, Probe: p.Probe, Status: res.Status, Summary: res.Summary, Findings: nonNil(res.Findings),
		Table: res.Evidence, At: p.Started, By: p.By.String(), Params: p.Params}
}

// Evidence is a probe result as the report shows it.
type Evidence struct {
	// Run is the probe run's id in the journal.
	Run      string            `json:"run,omitempty"`
	Probe    string            `json:"probe"`
	Status   probes.Status     `json:"status"`
	Summary  string            `json:"summary"`
	Findings []probes.Finding  `json:"findings"`
	Table    probes.Table      `json:"table"`
	At       time.Time         `json:"at"`
	By       string            `json:"by"`
	Params   map[string]string `json:"params,omitempty"`
}

// Cause is a root cause's verdict.
type Cause struct {
	ID         string         `json:"id"`
	Title      string         `json:"title"`
	Likelihood string         `json:"likelihood"`
	Verdict    probes.Verdict `json:"verdict"`
	Probes     []string       `json:"evidence_probes"`
}

// Action is one planned action: what was shown, who confirmed, what ran.
type Action struct {
	Run         string       `json:"run"`
	Action      string       `json:"action"`
	Item        string       `json:"item,omitempty"`
	Plan        actions.Plan `json:"plan"`
	PlannedBy   string       `json:"planned_by"`
	ConfirmedBy string       `json:"confirmed_by,omitempty"`
	ConfirmedAt *time.Time   `json:"confirmed_at,omitempty"`
	// ConfirmedKey and ApprovedKey are the SSH key fingerprints, when the
	// decisions were made over SSH.
	ConfirmedKey string `json:"confirmed_key,omitempty"`
	// ApprovedBy is the second operator of the two-person rule; RejectedBy
	// one who rejected the plan, and why.
	ApprovedBy   string           `json:"approved_by,omitempty"`
	ApprovedAt   *time.Time       `json:"approved_at,omitempty"`
	ApprovedKey  string           `json:"approved_key,omitempty"`
	RejectedBy   string           `json:"rejected_by,omitempty"`
	RejectReason string           `json:"reject_reason,omitempty"`
	Override     string           `json:"override,omitempty"`
	Outcome      *actions.Outcome `json:"outcome,omitempty"`
	// Started is when the action started; with no Outcome, it was
	// running when the journal ends.
	Started *time.Time `json:"started,omitempty"`
	// Output is the end of the output; OutputLines counts all of it.
	Output      []string `json:"output"`
	OutputLines int      `json:"output_lines"`
}

// Escalation is one raised escalation.
type Escalation struct {
	To      string     `json:"to"`
	When    string     `json:"when"`
	Auto    bool       `json:"auto"`
	Raised  time.Time  `json:"raised"`
	AckedBy string     `json:"acknowledged_by,omitempty"`
	AckedAt *time.Time `json:"acknowledged_at,omitempty"`
}

// Note is an operator's note.
type Note struct {
	Item string    `json:"item,omitempty"`
	Text string    `json:"text"`
	By   string    `json:"by"`
	At   time.Time `json:"at"`
}

// TimelineEntry is one event in words.
type TimelineEntry struct {
	Seq  int64     `json:"seq"`
	At   time.Time `json:"at"`
	By   string    `json:"by"`
	What string    `json:"what"`
}

// OutputTail is how many output lines of an action the report keeps.
const OutputTail = 40

// Build makes the report of a journal's events. rb is the incident's
// runbook; integrity is the result of session.Verify on the same file.
func Build(rb *runbook.Runbook, events []session.Event, integrity Integrity, journal string) *Report {
	st := session.Fold(rb, events)
	b := &builder{rb: rb, st: st, r: &Report{Schema: Schema, Integrity: integrity, Symptoms: []Tick{}, Diagnosis: []Step{}, Causes: []Cause{},
		Actions: []Action{}, Verification: []Tick{}, FollowUps: []string{}, Escalations: []Escalation{}, Notes: []Note{},
		Open: []string{}, Timeline: []TimelineEntry{}, Debrief: st.Debrief}}
	b.header(events, journal)
	b.sections()
	r := b.r
	for _, c := range rb.Causes {
		r.Causes = append(r.Causes, Cause{ID: c.ID, Title: c.Title, Likelihood: c.Likelihood, Verdict: st.Verdicts[c.ID], Probes: c.Probes})
	}
	for _, a := range st.Actions {
		b.action(a)
	}
	b.escalations()
	for _, n := range st.Notes {
		r.Notes = append(r.Notes, Note{Item: n.Item, Text: n.Text, By: n.By.String(), At: n.At})
	}
	r.Timeline = timeline(rb, events)
	return r
}

// builder is a report in the making from the incident's folded state.
type builder struct {
	rb *runbook.Runbook
	st *session.State
	r  *Report
}

// header is who ran the incident, on what, when and for how long.
func (b *builder) header(events []session.Event, journal string) {
	st := b.st
	inc := st.Incident
	end := st.Started
	if n := len(events); n > 0 {
		end = events[n-1].Time
	}
	if st.Ended != nil {
		end = *st.Ended
	}
	h := Header{ID: inc.ID, Runbook: inc.Runbook, Title: inc.Title, RunbookHash: inc.RunbookHash, Severity: inc.Severity,
		Target: inc.Target, Profile: inc.Profile, Start: st.Started, End: end, Closed: st.Ended != nil, DurationS: int64(end.Sub(st.Started).Seconds()),
		EstimatedS: int64(inc.TTR.Seconds()), Journal: journal, Follows: inc.Follows}
	for _, o := range st.Operators {
		h.Operators = append(h.Operators, fmt.Sprintf("%s (%s, %s)", o, o.Role, o.Via))
	}
	if inc.Drill != nil {
		h.Drill = inc.Drill.Scenario
	}
	if st.Closed != nil {
		h.Summary = st.Closed.Summary
	}
	b.r.Incident = h
}

// evidence is the probe result an item shows: its latest run's, or, when
// that run was an action, its probe's latest result.
func (b *builder) evidence(item string) *Evidence {
	st := b.st
	is := st.Items[item]
	p := st.Probe(is.LastRun)
	if p == nil || p.Result == nil {
		it := b.rb.Item(item)
		if it == nil || it.Binding == nil || it.Binding.Probe == "" {
			return nil
		}
		for i := len(st.Probes) - 1; i >= 0; i-- {
			if q := st.Probes[i]; q.Probe == it.Binding.Probe && q.Result != nil {
				p = q
				break
			}
		}
		if p == nil || p.Result == nil {
			return nil
		}
	}
	return evidenceOf(p)
}

// history fills a step's before and after: its probe's first failing
// result, and each action that re-ran the probe after it.
func (b *builder) history(s *Step) {
	if s.Probe == "" || s.Evidence == nil {
		return
	}
	var first *session.ProbeRun
	for _, q := range b.st.Probes {
		if q.Probe == s.Probe && q.Result != nil && (q.Result.Status == probes.Fail || q.Result.Status == probes.Error) {
			first = q
			break
		}
	}
	if first == nil || first.ID == s.Evidence.Run {
		return
	}
	s.FirstFailed = evidenceOf(first)
	for _, a := range b.st.Actions {
		if a.Outcome == nil || a.Finished.Before(first.Started) || !slices.Contains(a.Plan.Recheck, s.Probe) {
			continue
		}
		by := a.PlannedBy.String()
		if a.ConfirmedBy != nil {
			by = a.ConfirmedBy.String()
		}
		s.Touched = append(s.Touched, Touch{Run: a.ID, Action: a.Action, Status: a.Outcome.Status, Summary: a.Outcome.Summary, At: a.Finished, By: by})
	}
}

// tick is a checklist item as done or not, and what proves it.
func (b *builder) tick(it *runbook.Item) Tick {
	is := b.st.Items[it.ID]
	t := Tick{Item: it.ID, Text: it.Title, Done: is.Status == session.Done || is.Checked}
	if !is.At.IsZero() && (t.Done || is.Status == session.ItemSkipped) {
		at := is.At
		t.By, t.At = is.By.String(), &at
	}
	if is.Status == session.ItemSkipped {
		t.Skipped = is.SkipReason
	}
	if it.Binding != nil && it.Binding.Probe != "" {
		t.Evidence = b.evidence(it.ID)
	}
	var proof []string
	if e := t.Evidence; e != nil && (e.Status == probes.OK || e.Status == probes.Warn) {
		proof = append(proof, fmt.Sprintf("probe %s (%s %s at %s)", e.Run, e.Probe, e.Status, e.At.UTC().Format("15:04:05 UTC")))
	}
	if is.Checked && t.At != nil {
		proof = append(proof, fmt.Sprintf("ticked by %s at %s", t.By, t.At.UTC().Format("15:04:05 UTC")))
	}
	t.ProvedBy = strings.Join(proof, "; ")
	return t
}

// step is a diagnosis item with its evidence and history.
func (b *builder) step(it *runbook.Item) Step {
	is := b.st.Items[it.ID]
	s := Step{Item: it.ID, Text: it.Title, Status: string(is.Status)}
	if it.Binding != nil {
		s.Probe = it.Binding.Probe
		s.Evidence = b.evidence(it.ID)
		b.history(&s)
	}
	if is.Status == session.ItemSkipped {
		s.Skipped = is.SkipReason
	}
	return s
}

// sections files each runbook item under its section, noting what was
// skipped or left unticked.
func (b *builder) sections() {
	r := b.r
	for _, sec := range b.rb.Sections {
		for _, it := range sec.Items {
			switch sec.Kind {
			case runbook.Symptoms:
				r.Symptoms = append(r.Symptoms, b.tick(it))
			case runbook.Diagnosis:
				r.Diagnosis = append(r.Diagnosis, b.step(it))
			case runbook.Verification:
				t := b.tick(it)
				r.Verification = append(r.Verification, t)
				if !t.Done {
					r.Open = append(r.Open, "verification not ticked: "+it.Title)
				}
			case runbook.Prevention:
				r.FollowUps = append(r.FollowUps, it.Title)
			}
			if is := b.st.Items[it.ID]; is.Status == session.ItemSkipped && sec.Kind != runbook.Verification {
				r.Open = append(r.Open, fmt.Sprintf("skipped %s (%s): %s", it.ID, it.Title, is.SkipReason))
			}
		}
	}
}

// action reports one action carried out (confirmed or finished), who
// decided it, and what it leaves open.
func (b *builder) action(a *session.ActionRun) {
	r := b.r
	ra := Action{Run: a.ID, Action: a.Action, Item: a.Item, Plan: a.Plan, PlannedBy: a.PlannedBy.String(), Override: a.Override,
		Outcome: a.Outcome, OutputLines: len(a.Output), Output: []string{}}
	if a.ConfirmedBy != nil {
		at := a.ConfirmedAt
		ra.ConfirmedBy, ra.ConfirmedAt, ra.ConfirmedKey = a.ConfirmedBy.String(), &at, a.ConfirmedBy.Fingerprint
	}
	if a.ApprovedBy != nil {
		at := a.ApprovedAt
		ra.ApprovedBy, ra.ApprovedAt, ra.ApprovedKey = a.ApprovedBy.String(), &at, a.ApprovedBy.Fingerprint
	}
	if a.RejectedBy != nil {
		ra.RejectedBy, ra.RejectReason = a.RejectedBy.String(), a.RejectReason
	}
	if !a.Started.IsZero() {
		at := a.Started
		ra.Started = &at
		if a.Outcome == nil {
			r.Open = append(r.Open, fmt.Sprintf("outcome unknown: %s (%s) was running when the journal ends — resume the incident to have steady say what it finds, and check its effect", a.Action, a.ID))
		}
	}
	if a.AwaitingApproval() {
		r.Open = append(r.Open, fmt.Sprintf("%s (%s) confirmed by %s, never approved by a second operator", a.Action, a.ID, a.ConfirmedBy))
	}
	start := max(0, len(a.Output)-OutputTail)
	for _, l := range a.Output[start:] {
		ra.Output = append(ra.Output, l.Text)
	}
	if a.ConfirmedBy == nil && a.Outcome == nil {
		// Plans that were looked at and not carried out stay in the
		// timeline but are not actions taken.
		return
	}
	r.Actions = append(r.Actions, ra)
	if a.Outcome != nil && a.Outcome.Status == actions.OutcomeUnknown {
		r.Open = append(r.Open, fmt.Sprintf("outcome unknown: %s (%s) — check its effect", a.Action, a.ID))
	}
}

// escalations reports each escalation, those not acknowledged left open.
func (b *builder) escalations() {
	r := b.r
	for _, e := range b.st.Escalations {
		re := Escalation{To: e.To, When: e.When, Auto: e.Auto, Raised: e.RaisedAt}
		if e.AckedBy != nil {
			at := e.AckedAt
			re.AckedBy, re.AckedAt = e.AckedBy.String(), &at
		} else {
			r.Open = append(r.Open, "escalation to "+e.To+" not acknowledged")
		}
		r.Escalations = append(r.Escalations, re)
	}
}

func nonNil(f []probes.Finding) []probes.Finding {
	if f == nil {
		return []probes.Finding{}
	}
	return f
}

// timeline describes every event in words; a run of output events of one
// action is folded into one entry.
func timeline(rb *runbook.Runbook, events []session.Event) []TimelineEntry {
	var out []TimelineEntry
	outputs := map[string]int{} // run -> index of its output entry
	for _, e := range events {
		what := describe(rb, e)
		if e.Type == session.TypeActionOutput {
			var d session.ActionOutput
			_ = e.Decode(&d)
			if i, ok := outputs[d.Run]; ok && i == len(out)-1 {
				n := 0
				fmt.Sscanf(out[i].What, "%d", &n)
				out[i].What = outputLines(n+len(d.Lines), d.Run)
				continue
			}
			outputs[d.Run] = len(out)
		}
		if e.Type == session.TypeActionProgress {
			continue
		}
		out = append(out, TimelineEntry{Seq: e.Seq, At: e.Time, By: e.Actor.String(), What: what})
	}
	return out
}

// describe says in a line what an event did, for the timeline.
func describe(rb *runbook.Runbook, e session.Event) string {
	if fn, ok := describers[e.Type]; ok {
		return fn(e, itemTitle(rb))
	}
	return e.Type
}

// itemTitle names a runbook item by its id and shortened title.
func itemTitle(rb *runbook.Runbook) func(item string) string {
	return func(item string) string {
		if it := rb.Item(item); it != nil {
			return fmt.Sprintf("%s %q", item, shorten(it.Title, 60))
		}
		return item
	}
}

// describer says in a line what one type of event did; title names an item.
type describer func(e session.Event, title func(item string) string) string

// describing is a describer of events whose data decodes as D; data that
// does not decode is described as the zero D.
func describing[D any](fn func(d D, title func(item string) string) string) describer {
	return func(e session.Event, title func(string) string) string {
		var d D
		_ = e.Decode(&d)
		return fn(d, title)
	}
}

// saying is a describer of events whose data says nothing more.
func saying(text string) describer {
	return func(session.Event, func(string) string) string { return text }
}

// describers are the event types the timeline describes.
var describers = map[string]describer{
	session.TypeOpened:  describing(describeOpened),
	session.TypeResumed: describing(describeResumed),
	session.TypeClosed: describing(func(d session.Closed, _ func(string) string) string {
		return "closed the incident: " + d.Summary
	}),
	session.TypeSealed: saying("sealed the journal: nothing may follow"),
	session.TypeJoined: saying("joined"),
	session.TypeLeft:   saying("left"),
	session.TypeTicked: describing(func(d session.Ticked, title func(string) string) string {
		if d.Checked {
			return "ticked " + title(d.Item)
		}
		return "unticked " + title(d.Item)
	}),
	session.TypeSkipped: describing(func(d session.Skipped, title func(string) string) string {
		return fmt.Sprintf("skipped %s: %s", title(d.Item), d.Reason)
	}),
	session.TypeNoted: describing(func(d session.Noted, _ func(string) string) string {
		if d.Item == "" {
			return "noted: " + d.Text
		}
		return fmt.Sprintf("noted on %s: %s", d.Item, d.Text)
	}),
	session.TypeProbeStarted: describing(func(d session.ProbeStarted, _ func(string) string) string {
		line := "ran probe " + d.Probe
		if p := runbook.ParamText(d.Params); p != "" {
			line += " (" + p + ")"
		}
		if d.Action != "" {
			line += " for " + d.Action
		}
		return line
	}),
	session.TypeProbeFinished: describing(func(d session.ProbeFinished, _ func(string) string) string {
		return fmt.Sprintf("probe %s: %s — %s", d.Result.Probe, d.Result.Status, d.Result.Summary)
	}),
	session.TypeActionPlanned: describing(func(d session.ActionPlanned, _ func(string) string) string {
		return fmt.Sprintf("planned %s (%s): %s", d.Action, d.Run, d.Plan.Summary)
	}),
	session.TypeActionConfirmed: describing(func(d session.ActionConfirmed, _ func(string) string) string {
		if d.Override != "" {
			return fmt.Sprintf("confirmed %s, overriding a precondition: %s", d.Run, d.Override)
		}
		return "confirmed " + d.Run
	}),
	session.TypeActionStarted: describing(func(d session.ActionStarted, _ func(string) string) string {
		return "started " + d.Run
	}),
	session.TypeActionOutput: describing(func(d session.ActionOutput, _ func(string) string) string {
		return outputLines(len(d.Lines), d.Run)
	}),
	session.TypeActionCancel: describing(func(d session.ActionCancel, _ func(string) string) string {
		return "asked to cancel " + d.Run
	}),
	session.TypeActionFinished: describing(func(d session.ActionFinished, _ func(string) string) string {
		return fmt.Sprintf("%s %s: %s", d.Run, d.Outcome.Status, d.Outcome.Summary)
	}),
	session.TypeEscalationRaised: describing(func(d session.EscalationRaised, _ func(string) string) string {
		if d.Auto {
			return fmt.Sprintf("escalation due: %s (%s)", d.To, d.When)
		}
		return fmt.Sprintf("declared an escalation to %s: %s", d.To, d.When)
	}),
	session.TypeEscalationAcked: saying("acknowledged the escalation"),
	session.TypeDrillScored:     saying("scored the drill"),
}

// describeOpened names the incident, its runbook and target, and what it
// continues.
func describeOpened(d session.Opened, _ func(string) string) string {
	s := fmt.Sprintf("opened incident %s on runbook %s against %s", d.ID, d.Runbook, d.Target)
	if d.Drill != nil {
		s += " (drill: " + d.Drill.Scenario + ")"
	}
	if d.Follows != nil {
		s += fmt.Sprintf(", continuing incident %s (%s)", d.Follows.ID, d.Follows.Why)
	}
	return s
}

// describeResumed says what the resume found wrong with the journal.
func describeResumed(d session.Resumed, _ func(string) string) string {
	s := "resumed the incident from its journal"
	if d.Truncated {
		s += fmt.Sprintf("; an incomplete last event (%d bytes) was dropped", d.DroppedBytes)
	}
	if len(d.Unknown) > 0 {
		s += "; outcome unknown for " + strings.Join(d.Unknown, ", ")
	}
	return s
}

// outputLines is the timeline's entry for a run of output lines; the
// count comes first, so that folding the next run of lines can read it.
func outputLines(n int, run string) string {
	return plural.Count(n, "line", "lines") + " of output from " + run
}

func shorten(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}
