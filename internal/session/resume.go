package session

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"steady/actions"
	"steady/internal/plural"
	"steady/internal/target"
	"steady/probes"
	"steady/runbook"
)

// ResumeReport says what a resume found, for the operator.
type ResumeReport struct {
	Events int
	// Truncated: the journal ended mid-line; the incomplete event was dropped.
	Truncated    bool
	DroppedBytes int
	// Unknown are the actions that were running when steady stopped.
	Unknown []*ActionRun
	// Interrupted are probes that were running; they are recorded as errors.
	Interrupted []string
	// Recheck are the probes to re-run before anything else.
	Recheck        []string
	RunbookChanged bool
}

// Lines describes the report in sentences for the screen.
func (r ResumeReport) Lines() []string {
	var out []string
	out = append(out, fmt.Sprintf("Resumed from %d events.", r.Events))
	if r.Truncated {
		out = append(out, fmt.Sprintf("The journal ended in the middle of an event (%d bytes): steady was stopped while writing. It resumes from the last complete event.", r.DroppedBytes))
	}
	for _, a := range r.Unknown {
		line := fmt.Sprintf("Outcome unknown: %s was running when steady stopped (started %s). Check its effect before going on.", a.Action, a.Started.Format("15:04:05"))
		if pid, host, ok := lastStarted(a); ok {
			line += fmt.Sprintf(" Its last command may still be running: process group %d on %s (`pgrep -a -g %d` lists it, `kill -INT -%d` stops it).", pid, host, pid, pid)
		}
		out = append(out, line)
	}
	if len(r.Interrupted) > 0 {
		out = append(out, "Interrupted probes: "+strings.Join(r.Interrupted, ", ")+".")
	}
	if len(r.Recheck) > 0 {
		out = append(out, "Re-run these probes before anything else: "+strings.Join(r.Recheck, ", ")+".")
	}
	if r.RunbookChanged {
		out = append(out, "The runbook changed since the incident was opened; item ids may differ.")
	}
	return out
}

// ReadJournal reads a journal file. A journal damaged in the middle
// returns the events before the damage along with the error, so that its
// incident can still be named.
func ReadJournal(path string) ([]Event, ReadInfo, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, ReadInfo{}, fmt.Errorf("read journal: %w", err)
	}
	events, info, err := ReadEvents(bytes.NewReader(data))
	if len(events) == 0 || events[0].Type != TypeOpened {
		return nil, info, fmt.Errorf("%s is not an incident journal (it does not start with %s)", path, TypeOpened)
	}
	if err != nil {
		return events, info, fmt.Errorf("%s: %w", path, err)
	}
	return events, info, nil
}

// DamagedError is a journal that does not verify: steady appends nothing
// to it, since whatever it added would seem to vouch for what is there.
// The incident goes on in a new journal that links it.
type DamagedError struct {
	Path string
	// ID is the incident's id, when its first line can be read.
	ID           string
	Verification *Verification
}

func (e *DamagedError) Error() string {
	return fmt.Sprintf("%s does not verify (%s): steady appends nothing to a journal that does not verify", e.Path, e.where())
}

// where names the first problem, and how many follow.
func (e *DamagedError) where() string {
	v := e.Verification
	s := v.Problems[0].String()
	if n := v.Count(); n > 1 {
		s += fmt.Sprintf("; %d more problems after it", n-1)
	}
	return s
}

// Link is what a new incident that continues this one records.
func (e *DamagedError) Link() *Link {
	return &Link{ID: e.ID, Journal: filepath.Base(e.Path), Why: "its journal does not verify: " + e.where()}
}

// Damaged checks the journal at path and returns a *DamagedError when it
// does not verify, or nil.
func Damaged(path string) *DamagedError {
	v, err := VerifyFile(path, nil)
	if err != nil || v.OK() {
		return nil
	}
	return &DamagedError{Path: path, ID: incidentID(path), Verification: v}
}

// incidentID reads the id from a journal's first line, or "".
func incidentID(path string) string {
	events, _, _ := ReadJournal(path)
	if len(events) == 0 {
		return ""
	}
	var o Opened
	_ = events[0].Decode(&o)
	return o.ID
}

// Resume rebuilds an incident from its journal and reopens it for
// appending. The journal is verified first (its chain and its head file):
// one that does not verify is refused with a *DamagedError, one sealed
// when its incident closed with ErrSealed. Actions that were running are
// recorded as "outcome unknown", probes that were running as interrupted,
// and the probes that check the unknown actions must be re-run before any
// other action.
func Resume(path string, o Options) (*Session, ResumeReport, error) {
	if o.Runbook == nil {
		return nil, ResumeReport{}, errors.New("resume: no runbook")
	}
	v, events, info, err := verifyFile(path, nil, true)
	if err != nil {
		return nil, ResumeReport{}, fmt.Errorf("read journal: %w", err)
	}
	opened, err := resumable(path, v, events)
	if err != nil {
		return nil, ResumeReport{}, err
	}
	j, err := reopen(path, events, info)
	if err != nil {
		return nil, ResumeReport{}, err
	}
	s := newSession(o, j)
	for _, e := range events {
		s.state.apply(e, s.rb)
	}
	rep := ResumeReport{Events: len(events), Truncated: info.Truncated && info.DroppedBytes > 0, DroppedBytes: info.DroppedBytes,
		RunbookChanged: opened.RunbookHash != "" && opened.RunbookHash != o.Runbook.Hash}
	st := s.state.clone()
	var recheck []string
	for _, a := range st.Actions {
		if a.Running() {
			rep.Unknown = append(rep.Unknown, a)
			recheck = append(recheck, a.Plan.Recheck...)
		}
	}
	for _, p := range st.RunningProbes() {
		rep.Interrupted = append(rep.Interrupted, p.Probe)
	}
	rep.Recheck = mergeUnique(nil, recheck)
	if err := s.recordResume(o, st, rep); err != nil {
		j.Close()
		return nil, rep, err
	}
	return s, rep, nil
}

// resumable checks that a journal holds an incident that may go on: it
// opens one, holds together, and is not sealed.
func resumable(path string, v *Verification, events []Event) (Opened, error) {
	var opened Opened
	if len(events) == 0 || events[0].Type != TypeOpened {
		if !v.OK() {
			return opened, &DamagedError{Path: path, Verification: v}
		}
		return opened, fmt.Errorf("%s is not an incident journal (it does not start with %s)", path, TypeOpened)
	}
	if err := events[0].Decode(&opened); err != nil {
		return opened, fmt.Errorf("%s: line 1: %w", path, err)
	}
	if !v.OK() {
		return opened, &DamagedError{Path: path, ID: opened.ID, Verification: v}
	}
	if v.Sealed {
		return opened, fmt.Errorf("incident %s: %w", opened.ID, ErrSealed)
	}
	return opened, nil
}

// recordResume journals the resume, the stricter approval policy if the
// new one is, and the end of whatever was running when steady stopped:
// actions with an unknown outcome, probes interrupted.
func (s *Session) recordResume(o Options, st *State, rep ResumeReport) error {
	var unknownIDs []string
	for _, a := range rep.Unknown {
		unknownIDs = append(unknownIDs, a.ID)
	}
	if _, err := s.Append(o.Actor, TypeResumed, Resumed{Truncated: rep.Truncated, DroppedBytes: rep.DroppedBytes,
		Unknown: unknownIDs, Recheck: rep.Recheck, RunbookChanged: rep.RunbookChanged}); err != nil {
		return err
	}
	if p := stricter(st.Approval, o.Approval); p != stricter(st.Approval, "") {
		if _, err := s.Append(o.Actor, TypeApprovalPolicy, ApprovalPolicy{Approval: p}); err != nil {
			return err
		}
	}
	for _, a := range rep.Unknown {
		_, err := s.Append(System, TypeActionFinished, ActionFinished{Run: a.ID, Outcome: actions.Outcome{
			Status: actions.OutcomeUnknown, ExitCode: -1,
			Summary: unknownOutcome(a.Plan.Recheck),
		}})
		if err != nil {
			return err
		}
	}
	for _, p := range st.RunningProbes() {
		res := probes.Result{Probe: p.Probe, Status: probes.Error, Summary: "interrupted: steady stopped while this probe ran", Error: "interrupted", Params: p.Params, Started: p.Started}
		if _, err := s.Append(System, TypeProbeFinished, ProbeFinished{Run: p.ID, Result: res}); err != nil {
			return err
		}
	}
	return nil
}

// Info summarises a journal for listings.
type Info struct {
	Path     string
	ID       string
	Runbook  string
	Title    string
	Started  time.Time
	Closed   bool
	Events   int
	Drill    bool
	Modified time.Time
	// Damaged is set when a line of the journal cannot be read; Events
	// then counts the events before it.
	Damaged bool
	// FollowedBy names the incident that continues this one.
	FollowedBy string
}

// List returns the journals in dir, newest first. Files that are not
// incident journals are skipped; a journal damaged past its first line is
// listed, so that it is never mistaken for no incident at all.
func List(dir string) ([]Info, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.jsonl"))
	if err != nil {
		return nil, err
	}
	var out []Info
	followed := map[string]string{}
	for _, f := range files {
		events, _, err := ReadJournal(f)
		if len(events) == 0 {
			continue
		}
		var o Opened
		_ = events[0].Decode(&o)
		if o.Follows != nil {
			followed[o.Follows.ID] = o.ID
		}
		inf := Info{Path: f, ID: o.ID, Runbook: o.Runbook, Title: o.Title, Started: events[0].Time, Events: len(events), Drill: o.Drill != nil, Damaged: err != nil}
		for _, e := range events {
			if e.Type == TypeClosed {
				inf.Closed = true
			}
		}
		if fi, err := os.Stat(f); err == nil {
			inf.Modified = fi.ModTime()
		}
		out = append(out, inf)
	}
	for i := range out {
		out[i].FollowedBy = followed[out[i].ID]
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Started.After(out[j].Started) })
	return out, nil
}

// LatestUnfinished returns the newest journal in dir that was not closed
// (drills, and incidents a later one continues, excluded), or ok=false.
func LatestUnfinished(dir string) (Info, bool) {
	all, err := List(dir)
	if err != nil {
		return Info{}, false
	}
	for _, inf := range all {
		if !inf.Closed && !inf.Drill && inf.FollowedBy == "" {
			return inf, true
		}
	}
	return Info{}, false
}

// LoadRunbookFor finds the runbook an incident was opened with: its file
// if it still exists, else a built-in or --runbooks one of the same name.
func LoadRunbookFor(path, dir string, k runbook.Known) (*runbook.Runbook, error) {
	events, _, err := ReadJournal(path)
	if len(events) == 0 {
		return nil, err
	}
	var o Opened
	if err := events[0].Decode(&o); err != nil {
		return nil, err
	}
	ref := o.Runbook
	if f := o.RunbookFile; f != "" && !strings.HasPrefix(f, "embedded:") {
		if _, err := os.Stat(f); err == nil {
			ref = f
		}
	}
	return runbook.Load(ref, dir, k)
}

// lastStarted returns the process group of the last command an action
// started, from its output.
func lastStarted(a *ActionRun) (pid int, host string, ok bool) {
	for i := len(a.Output) - 1; i >= 0; i-- {
		if l := a.Output[i]; l.Stream == actions.StreamSteady {
			if pid, host, ok = target.ParseStartedLine(l.Text); ok {
				return pid, host, true
			}
		}
	}
	return 0, "", false
}

// unknownOutcome is the outcome's summary of an action that was running
// when steady stopped: what to re-run, or, when no probe tells, to look.
func unknownOutcome(recheck []string) string {
	const stopped = "steady stopped while this action ran; its outcome is unknown — "
	if len(recheck) == 0 {
		return stopped + "no probe tells its effect: check it by hand"
	}
	return stopped + "re-run " + plural.Word(len(recheck), "its probe ", "its probes ") + plural.List(recheck) + " to see where things stand"
}
