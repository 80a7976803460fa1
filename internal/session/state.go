package session

import (
	"sort"
	"strings"
	"time"

	"steady/actions"
	"steady/internal/visible"
	"steady/probes"
	"steady/runbook"
)

// ItemStatus is where a checklist item stands.
type ItemStatus string

// Item statuses.
const (
	Todo        ItemStatus = "todo"
	Running     ItemStatus = "running"
	ItemOK      ItemStatus = "ok"
	Warned      ItemStatus = "warn"
	Failed      ItemStatus = "fail"
	Errored     ItemStatus = "error"
	ItemSkipped ItemStatus = "skipped"
	Done        ItemStatus = "done"
	// Unknown marks an action whose outcome was lost when steady stopped.
	Unknown ItemStatus = "unknown"
)

// State is the whole incident as folded from its events. Values reached
// through it are never modified after the fold creates them, so a copy
// from Session.State may be read without locks.
type State struct {
	Incident Opened
	Started  time.Time
	// Ended is set once the incident is closed; Closed holds the closing
	// summary and ClosedBy who closed it.
	Ended    *time.Time
	Closed   *Closed
	ClosedBy Actor
	// Sealed is set once the journal's seal is written.
	Sealed bool
	// LastSeq is the sequence number of the last event folded.
	LastSeq int64
	// Operators are everyone who joined, in order of first arrival.
	Operators []Actor
	// Online are the actors currently connected, by name.
	Online map[string]Actor
	Items  map[string]ItemState
	// Probes are every probe run, in start order.
	Probes []*ProbeRun
	// Actions are every action run, in plan order.
	Actions []*ActionRun
	Notes   []Note
	// Verdicts is each cause's standing from its probes' latest results:
	// a cause confirmed earlier whose probes pass now is resolved.
	Verdicts    map[string]probes.Verdict
	Escalations []Escalation
	// Resumes records every rebuild from the journal.
	Resumes []ResumeInfo
	// Recheck lists probes the operator must re-run before any action,
	// because an action's outcome is unknown.
	Recheck []string
	// Drill holds the debrief once a drill is scored.
	Debrief map[string]any
	// Access holds the journaled changes of keys' standing, by
	// fingerprint: the latest one of each key wins.
	Access map[string]Access
	// Approval is the incident's two-person rule.
	Approval Approval

	// latest indexes Probes: the position of each probe's latest finished
	// run, so verdicts stay cheap in a long incident.
	latest map[string]int
	// confirmed holds the causes confirmed at some point of the incident.
	confirmed map[string]bool
}

// ItemState is one checklist item's state.
type ItemState struct {
	Status  ItemStatus
	Checked bool
	// By and At say who last changed the item, and when.
	By         Actor
	At         time.Time
	SkipReason string
	// LastRun is the id of the latest probe or action run of the item.
	LastRun string
}

// Note is an operator's note.
type Note struct {
	Item string
	Text string
	By   Actor
	At   time.Time
}

// ProbeRun is one run of a probe.
type ProbeRun struct {
	ID     string
	Probe  string
	Item   string
	Params map[string]string
	By     Actor
	// Action is the action run that ran the probe, if one did.
	Action  string
	Started time.Time
	// Result is nil while the probe runs.
	Result *probes.Result
}

// ActionRun is one planned (and perhaps executed) action.
type ActionRun struct {
	ID          string
	Action      string
	Item        string
	Plan        actions.Plan
	PlannedBy   Actor
	PlannedAt   time.Time
	ConfirmedBy *Actor
	ConfirmedAt time.Time
	Override    string
	Started     time.Time
	Output      []OutputLine
	// OutputCut counts bytes cut from over-long lines.
	OutputCut int
	Progress  *ActionProgress
	// CancelRequested is who asked to cancel, if anyone did.
	CancelRequested *Actor
	// Outcome is nil until the action ends.
	Outcome  *actions.Outcome
	Finished time.Time
	// SupersededBy is the plan made again for this stale one; Changes (on
	// the new one) what differed.
	SupersededBy string
	Replaces     string
	Changes      []string
	// DiscardedBy put the plan aside without running it.
	DiscardedBy *Actor
	// NeedsApproval is set when the confirmed plan waits for a second
	// operator; ApprovedBy approved it, or RejectedBy rejected it and why.
	NeedsApproval bool
	ApprovedBy    *Actor
	ApprovedAt    time.Time
	RejectedBy    *Actor
	RejectReason  string
}

// pending reports whether the plan has neither run nor been set aside.
func (a *ActionRun) pending() bool {
	return a.Started.IsZero() && a.Outcome == nil && a.SupersededBy == "" && a.DiscardedBy == nil
}

// Open reports whether the plan may still be confirmed: not confirmed,
// run, discarded or made again.
func (a *ActionRun) Open() bool { return a.pending() && a.ConfirmedBy == nil }

// AwaitingApproval reports whether a second operator's approval is what
// the confirmed plan waits for.
func (a *ActionRun) AwaitingApproval() bool {
	return a.pending() && a.ConfirmedBy != nil && a.NeedsApproval
}

// StateText says where a planned action stands, for messages.
func (a *ActionRun) StateText() string {
	switch {
	case a.SupersededBy != "":
		return "it was made again as " + a.SupersededBy
	case a.DiscardedBy != nil:
		return "it was discarded by " + a.DiscardedBy.String()
	case a.AwaitingApproval():
		return "confirmed by " + a.ConfirmedBy.String() + ", awaiting approval by a second operator"
	case a.Outcome != nil:
		return "it ended: " + string(a.Outcome.Status)
	case !a.Started.IsZero():
		return "it is running"
	}
	return "planned, not confirmed"
}

// Running reports whether the action has started and not ended.
func (a *ActionRun) Running() bool { return !a.Started.IsZero() && a.Outcome == nil }

// Escalation is one raised escalation.
type Escalation struct {
	Rule     int
	To       string
	When     string
	Auto     bool
	RaisedAt time.Time
	RaisedBy Actor
	// AckedBy is nil until someone acknowledges it.
	AckedBy *Actor
	AckedAt time.Time
}

// ResumeInfo is one resume of the incident.
type ResumeInfo struct {
	At   time.Time
	By   Actor
	Info Resumed
}

// newState returns the state before any event.
func newState(rb *runbook.Runbook) *State {
	s := &State{Items: map[string]ItemState{}, Online: map[string]Actor{}, Verdicts: map[string]probes.Verdict{}, latest: map[string]int{}, confirmed: map[string]bool{}}
	if rb != nil {
		for _, it := range rb.Items() {
			st := ItemState{Status: Todo}
			if it.Task && it.Checked {
				st.Status, st.Checked = Done, true
			}
			s.Items[it.ID] = st
		}
		for _, c := range rb.Causes {
			s.Verdicts[c.ID] = probes.Unknown
		}
	}
	return s
}

// clone copies the maps and slices of s, so the copy can be handed out
// while s keeps changing. Pointed-to runs are replaced, never modified, by
// the fold, so they are shared.
func (s *State) clone() *State {
	c := *s
	c.Operators = append([]Actor(nil), s.Operators...)
	c.Online = make(map[string]Actor, len(s.Online))
	for k, v := range s.Online {
		c.Online[k] = v
	}
	c.Items = make(map[string]ItemState, len(s.Items))
	for k, v := range s.Items {
		c.Items[k] = v
	}
	c.Probes = append([]*ProbeRun(nil), s.Probes...)
	c.Actions = append([]*ActionRun(nil), s.Actions...)
	c.Notes = append([]Note(nil), s.Notes...)
	c.Verdicts = make(map[string]probes.Verdict, len(s.Verdicts))
	for k, v := range s.Verdicts {
		c.Verdicts[k] = v
	}
	c.Escalations = append([]Escalation(nil), s.Escalations...)
	c.Resumes = append([]ResumeInfo(nil), s.Resumes...)
	c.Recheck = append([]string(nil), s.Recheck...)
	c.latest = make(map[string]int, len(s.latest))
	for k, v := range s.latest {
		c.latest[k] = v
	}
	if s.Access != nil {
		c.Access = make(map[string]Access, len(s.Access))
		for k, v := range s.Access {
			c.Access[k] = v
		}
	}
	c.confirmed = make(map[string]bool, len(s.confirmed))
	for k, v := range s.confirmed {
		c.confirmed[k] = v
	}
	return &c
}

// Probe returns the probe run with the given id, or nil.
func (s *State) Probe(id string) *ProbeRun {
	for i := len(s.Probes) - 1; i >= 0; i-- {
		if s.Probes[i].ID == id {
			return s.Probes[i]
		}
	}
	return nil
}

// Action returns the action run with the given id, or nil.
func (s *State) Action(id string) *ActionRun {
	for i := len(s.Actions) - 1; i >= 0; i-- {
		if s.Actions[i].ID == id {
			return s.Actions[i]
		}
	}
	return nil
}

// LastResult returns the latest finished result of a probe, or nil.
func (s *State) LastResult(probe string) *probes.Result {
	if s.latest != nil {
		if i, ok := s.latest[probe]; ok {
			return s.Probes[i].Result
		}
		return nil
	}
	for i := len(s.Probes) - 1; i >= 0; i-- {
		if p := s.Probes[i]; p.Probe == probe && p.Result != nil {
			return p.Result
		}
	}
	return nil
}

// LastFix returns when the incident's latest fix finished: an action
// that changed things (not a backup or a check) and succeeded; the
// incident's start when none has.
func (s *State) LastFix() time.Time {
	at := s.Started
	for _, a := range s.Actions {
		if a.Outcome != nil && a.Outcome.Status == actions.Succeeded && a.Plan.Risk != actions.Low && a.Finished.After(at) {
			at = a.Finished
		}
	}
	return at
}

// RunningActions returns the actions executing now.
func (s *State) RunningActions() []*ActionRun {
	var out []*ActionRun
	for _, a := range s.Actions {
		if a.Running() {
			out = append(out, a)
		}
	}
	return out
}

// RunningProbes returns the probe runs without a result.
func (s *State) RunningProbes() []*ProbeRun {
	var out []*ProbeRun
	for _, p := range s.Probes {
		if p.Result == nil {
			out = append(out, p)
		}
	}
	return out
}

// NotesOf returns the notes of an item ("" for incident notes).
func (s *State) NotesOf(item string) []Note {
	var out []Note
	for _, n := range s.Notes {
		if n.Item == item {
			out = append(out, n)
		}
	}
	return out
}

// VerifiedBackups returns the verified backups of a database taken in this
// incident, newest last.
func (s *State) VerifiedBackups(database string) []actions.Backup {
	var out []actions.Backup
	for _, a := range s.Actions {
		if a.Outcome == nil || a.Outcome.Status != actions.Succeeded {
			continue
		}
		art := a.Outcome.Artefacts
		if art[actions.ArtefactKind] != "backup" || art[actions.ArtefactVerified] != "true" ||
			(database != "" && art[actions.ArtefactDatabase] != database) {
			continue
		}
		b := actions.Backup{Database: art[actions.ArtefactDatabase], Path: art[actions.ArtefactPath], SHA256: art[actions.ArtefactSHA256], At: a.Finished,
			Method: art[actions.ArtefactMethod], Label: art[actions.ArtefactLabel], Format: art[actions.ArtefactFormat],
			Migrations: splitList(art[actions.ArtefactMigrations]), Tables: splitList(art[actions.ArtefactTables]), Took: a.Outcome.Duration}
		if b.Method == "" {
			b.Method = "pg_dump" // journals from before backups had methods
		}
		if n, ok := parseInt64(art[actions.ArtefactSize]); ok {
			b.Size = n
		}
		if n, ok := parseInt64(art[actions.ArtefactSourceBytes]); ok {
			b.SourceBytes = n
		}
		out = append(out, b)
	}
	return out
}

// splitList reads a comma-separated artefact list.
func splitList(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, ",")
}

func parseInt64(s string) (int64, bool) {
	var n int64
	if s == "" {
		return 0, false
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return 0, false
		}
		n = n*10 + int64(r-'0')
	}
	return n, true
}

// maxOutputLines bounds the output kept in memory per action; the journal
// keeps all of it.
const maxOutputLines = 5000

// apply folds one event into s. It is the only place state changes, so a
// replay of the journal rebuilds exactly the live state. Unknown event
// types are ignored, so newer journals still load.
func (s *State) apply(e Event, rb *runbook.Runbook) {
	s.LastSeq = e.Seq
	if fn, ok := appliers[e.Type]; ok {
		fn(s, e, rb)
	}
}

// applier folds one type of event into the state.
type applier func(s *State, e Event, rb *runbook.Runbook)

// appliers are the event types the state folds, each with its own step.
var appliers = map[string]applier{
	TypeOpened:           (*State).applyOpened,
	TypeApprovalPolicy:   decoded(func(s *State, _ Event, d ApprovalPolicy) { s.Approval = d.Approval }),
	TypeJoined:           func(s *State, e Event, _ *runbook.Runbook) { s.join(e.Actor) },
	TypeLeft:             func(s *State, e Event, _ *runbook.Runbook) { delete(s.Online, e.Actor.Name) },
	TypeResumed:          (*State).applyResumed,
	TypeClosed:           decoded((*State).applyClosed),
	TypeSealed:           func(s *State, _ Event, _ *runbook.Runbook) { s.Sealed = true },
	TypeTicked:           decoded((*State).applyTicked),
	TypeSkipped:          decoded((*State).applySkipped),
	TypeNoted:            decoded((*State).applyNoted),
	TypeProbeStarted:     decoded((*State).applyProbeStarted),
	TypeProbeFinished:    (*State).applyProbeFinished,
	TypeActionPlanned:    decoded((*State).applyActionPlanned),
	TypeAccessChanged:    decoded((*State).applyAccessChanged),
	TypeActionDiscarded:  decoded((*State).applyActionDiscarded),
	TypeActionConfirmed:  decoded((*State).applyActionConfirmed),
	TypeActionApproved:   decoded((*State).applyActionApproved),
	TypeActionRejected:   decoded((*State).applyActionRejected),
	TypeActionStarted:    decoded((*State).applyActionStarted),
	TypeActionOutput:     decoded((*State).applyActionOutput),
	TypeActionProgress:   decoded((*State).applyActionProgress),
	TypeActionCancel:     decoded((*State).applyActionCancel),
	TypeActionFinished:   decoded((*State).applyActionFinished),
	TypeEscalationRaised: decoded((*State).applyEscalationRaised),
	TypeEscalationAcked:  decoded((*State).applyEscalationAcked),
	TypeDrillScored:      decoded(func(s *State, _ Event, d map[string]any) { s.Debrief = d }),
}

// decoded is an applier for events whose data decodes as D; an event whose
// data does not is ignored.
func decoded[D any](fn func(s *State, e Event, d D)) applier {
	return func(s *State, e Event, _ *runbook.Runbook) {
		var d D
		if e.Decode(&d) == nil {
			fn(s, e, d)
		}
	}
}

// applyOpened starts the incident; its opener joins even when the data does
// not decode.
func (s *State) applyOpened(e Event, _ *runbook.Runbook) {
	var d Opened
	if e.Decode(&d) == nil {
		s.Incident = d
		s.Started = e.Time
		s.Approval = d.Approval
	}
	s.join(e.Actor)
}

// applyResumed records a resume: whoever was online before is gone, the one
// resuming joins.
func (s *State) applyResumed(e Event, _ *runbook.Runbook) {
	var d Resumed
	if e.Decode(&d) == nil {
		s.Resumes = append(s.Resumes, ResumeInfo{At: e.Time, By: e.Actor, Info: d})
		s.Recheck = mergeUnique(s.Recheck, d.Recheck)
	}
	s.Online = map[string]Actor{}
	s.join(e.Actor)
}

func (s *State) applyClosed(e Event, d Closed) {
	t := e.Time
	d.Summary = visible.Text(d.Summary)
	s.Ended, s.Closed, s.ClosedBy = &t, &d, e.Actor
}

func (s *State) applyTicked(e Event, d Ticked) {
	st := s.Items[d.Item]
	st.Checked, st.By, st.At = d.Checked, e.Actor, e.Time
	if d.Checked {
		st.Status = Done
	} else {
		st.Status = Todo
	}
	st.SkipReason = ""
	s.Items[d.Item] = st
}

func (s *State) applySkipped(e Event, d Skipped) {
	st := s.Items[d.Item]
	st.Status, st.SkipReason, st.By, st.At = ItemSkipped, visible.Text(d.Reason), e.Actor, e.Time
	st.Checked = false
	s.Items[d.Item] = st
}

func (s *State) applyNoted(e Event, d Noted) {
	s.Notes = append(s.Notes, Note{Item: d.Item, Text: visible.Text(d.Text), By: e.Actor, At: e.Time})
}

func (s *State) applyProbeStarted(e Event, d ProbeStarted) {
	s.Probes = append(s.Probes, &ProbeRun{ID: d.Run, Probe: d.Probe, Item: d.Item, Params: d.Params, By: e.Actor, Action: d.Action, Started: e.Time})
	if d.Item != "" {
		s.markRunning(d.Item, d.Run)
	}
}

func (s *State) applyProbeFinished(e Event, rb *runbook.Runbook) {
	var d ProbeFinished
	if e.Decode(&d) == nil {
		showable(&d.Result)
		s.finishProbe(d, e.Time, rb)
	}
}

// markRunning shows an item running the probe or action run.
func (s *State) markRunning(item, run string) {
	st := s.Items[item]
	st.Status, st.LastRun = Running, run
	s.Items[item] = st
}

func (s *State) applyActionPlanned(e Event, d ActionPlanned) {
	s.Actions = append(s.Actions, &ActionRun{ID: d.Run, Action: d.Action, Item: d.Item, Plan: d.Plan, PlannedBy: e.Actor, PlannedAt: e.Time,
		Replaces: d.Replaces, Changes: d.Changes})
	if d.Replaces != "" {
		s.updateAction(d.Replaces, func(a *ActionRun) { a.SupersededBy = d.Run })
	}
}

func (s *State) applyAccessChanged(_ Event, d Access) {
	if d.Fingerprint == "" {
		return
	}
	if s.Access == nil {
		s.Access = map[string]Access{}
	}
	s.Access[d.Fingerprint] = d
}

func (s *State) applyActionDiscarded(e Event, d ActionDiscarded) {
	by := e.Actor
	s.updateAction(d.Run, func(a *ActionRun) { a.DiscardedBy = &by })
}

func (s *State) applyActionConfirmed(e Event, d ActionConfirmed) {
	s.updateAction(d.Run, func(a *ActionRun) {
		by := e.Actor
		a.ConfirmedBy, a.ConfirmedAt, a.Override, a.NeedsApproval = &by, e.Time, visible.Text(d.Override), d.AwaitingApproval
	})
}

func (s *State) applyActionApproved(e Event, d ActionApproved) {
	s.updateAction(d.Run, func(a *ActionRun) {
		by := e.Actor
		a.ApprovedBy, a.ApprovedAt = &by, e.Time
	})
}

func (s *State) applyActionRejected(e Event, d ActionRejected) {
	s.updateAction(d.Run, func(a *ActionRun) {
		by := e.Actor
		a.RejectedBy, a.RejectReason = &by, visible.Text(d.Reason)
	})
}

func (s *State) applyActionStarted(e Event, d ActionStarted) {
	var item string
	s.updateAction(d.Run, func(a *ActionRun) { a.Started, item = e.Time, a.Item })
	if item != "" {
		s.markRunning(item, d.Run)
	}
}

// applyActionOutput appends output lines, keeping the last maxOutputLines.
func (s *State) applyActionOutput(_ Event, d ActionOutput) {
	for i := range d.Lines {
		d.Lines[i].Text = visible.Text(d.Lines[i].Text)
	}
	s.updateAction(d.Run, func(a *ActionRun) {
		a.Output = append(append([]OutputLine(nil), a.Output...), d.Lines...)
		if over := len(a.Output) - maxOutputLines; over > 0 {
			a.Output = a.Output[over:]
		}
		a.OutputCut += d.Cut
	})
}

func (s *State) applyActionProgress(_ Event, d ActionProgress) {
	s.updateAction(d.Run, func(a *ActionRun) { p := d; a.Progress = &p })
}

func (s *State) applyActionCancel(e Event, d ActionCancel) {
	s.updateAction(d.Run, func(a *ActionRun) { by := e.Actor; a.CancelRequested = &by })
}

func (s *State) applyActionFinished(e Event, d ActionFinished) {
	var item string
	s.updateAction(d.Run, func(a *ActionRun) {
		o := d.Outcome
		o.Summary, o.Error = visible.Text(o.Summary), visible.Text(o.Error)
		a.Outcome, a.Finished, item = &o, e.Time, a.Item
	})
	if item != "" {
		st := s.Items[item]
		st.Status, st.LastRun, st.At = outcomeStatus(d.Outcome.Status), d.Run, e.Time
		s.Items[item] = st
	}
}

func (s *State) applyEscalationRaised(e Event, d EscalationRaised) {
	s.Escalations = append(s.Escalations, Escalation{Rule: d.Rule, To: d.To, When: d.When, Auto: d.Auto, RaisedAt: e.Time, RaisedBy: e.Actor})
}

// applyEscalationAcked acknowledges every open escalation of the rule.
func (s *State) applyEscalationAcked(e Event, d EscalationAcked) {
	for i := range s.Escalations {
		if s.Escalations[i].Rule == d.Rule && s.Escalations[i].AckedBy == nil {
			by := e.Actor
			s.Escalations[i].AckedBy, s.Escalations[i].AckedAt = &by, e.Time
		}
	}
}

// showable makes a probe result's text safe to show. Probes do so as
// they finish; a journal written before they did, or edited since, is
// made safe as it is read.
func showable(r *probes.Result) {
	r.Summary, r.Error = visible.Text(r.Summary), visible.Text(r.Error)
	for i := range r.Findings {
		r.Findings[i].Message = visible.Text(r.Findings[i].Message)
	}
	for _, row := range r.Evidence.Rows {
		for i := range row {
			row[i] = visible.Text(row[i])
		}
	}
}

func (s *State) join(a Actor) {
	if a.Name == "" || a.Via == "steady" {
		return
	}
	s.Online[a.Name] = a
	for _, o := range s.Operators {
		if o.Name == a.Name && o.Fingerprint == a.Fingerprint {
			return
		}
	}
	s.Operators = append(s.Operators, a)
}

// finishProbe records a probe's result: on its run, on the items it shows
// in, on the re-checks asked for, and on the verdict of every cause.
func (s *State) finishProbe(d ProbeFinished, at time.Time, rb *runbook.Runbook) {
	item := s.setProbeResult(d)
	if item != "" {
		st := s.Items[item]
		if st.LastRun == d.Run {
			st.Status = resultStatus(d.Result.Status)
			st.At = at
			s.Items[item] = st
		}
	} else if rb != nil {
		s.showRecheck(d, at, rb)
	}
	// Re-running a probe the operator was asked to re-run clears it.
	for i, p := range s.Recheck {
		if p == d.Result.Probe && d.Result.Status != probes.Error && d.Result.Status != probes.Skipped {
			s.Recheck = append(append([]string(nil), s.Recheck[:i]...), s.Recheck[i+1:]...)
			break
		}
	}
	if rb != nil {
		s.decideCauses(rb)
	}
}

// setProbeResult puts the result on its run and says the run's item.
func (s *State) setProbeResult(d ProbeFinished) (item string) {
	for i := len(s.Probes) - 1; i >= 0; i-- {
		if p := s.Probes[i]; p.ID == d.Run {
			np := *p
			r := d.Result
			np.Result = &r
			s.Probes[i] = &np
			if j, ok := s.latest[p.Probe]; !ok || j < i {
				s.latest[p.Probe] = i
			}
			return p.Item
		}
	}
	return ""
}

// showRecheck shows a re-check's result on the items it is news for. A
// re-check after an action belongs to no item; it is newer evidence for
// every item that ran the same probe the same way, so those items show it
// instead of their stale status.
func (s *State) showRecheck(d ProbeFinished, at time.Time, rb *runbook.Runbook) {
	for _, it := range rb.Items() {
		b := it.Binding
		if b == nil || b.Probe != d.Result.Probe || len(b.Params) > 0 {
			continue
		}
		st := s.Items[it.ID]
		switch st.Status {
		case ItemOK, Warned, Failed, Errored:
			st.Status, st.LastRun, st.At = resultStatus(d.Result.Status), d.Run, at
			s.Items[it.ID] = st
		}
	}
}

// decideCauses decides every cause from its probes' latest results; a cause
// once confirmed and now ruled out is resolved.
func (s *State) decideCauses(rb *runbook.Runbook) {
	for _, c := range rb.Causes {
		var results []*probes.Result
		for _, id := range c.Probes {
			results = append(results, s.LastResult(id))
		}
		v := probes.Decide(results)
		switch {
		case v == probes.Confirmed:
			s.confirmed[c.ID] = true
		case v == probes.RuledOut && s.confirmed[c.ID]:
			v = probes.Resolved
		}
		s.Verdicts[c.ID] = v
	}
}

func (s *State) updateAction(run string, fn func(*ActionRun)) {
	for i := len(s.Actions) - 1; i >= 0; i-- {
		if s.Actions[i].ID == run {
			na := *s.Actions[i]
			fn(&na)
			s.Actions[i] = &na
			return
		}
	}
}

func resultStatus(st probes.Status) ItemStatus {
	switch st {
	case probes.OK:
		return ItemOK
	case probes.Warn:
		return Warned
	case probes.Fail:
		return Failed
	case probes.Skipped:
		return ItemSkipped
	}
	return Errored
}

func outcomeStatus(st actions.OutcomeStatus) ItemStatus {
	switch st {
	case actions.Succeeded:
		return Done
	case actions.OutcomeUnknown:
		return Unknown
	case actions.Refused, actions.Cancelled:
		return Warned
	}
	return Failed
}

func mergeUnique(a, b []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, s := range append(append([]string(nil), a...), b...) {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	sort.Strings(out)
	return out
}

// Fold rebuilds a state from events, as Resume and reports do.
func Fold(rb *runbook.Runbook, events []Event) *State {
	s := newState(rb)
	for _, e := range events {
		s.apply(e, rb)
	}
	return s
}
