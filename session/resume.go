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
	"steady/probes"
	"steady/runbook"
	"steady/target"
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

// ReadJournal reads a journal file.
func ReadJournal(path string) ([]Event, ReadInfo, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, ReadInfo{}, fmt.Errorf("read journal: %w", err)
	}
	events, info, err := ReadEvents(bytes.NewReader(data))
	if err != nil {
		return events, info, fmt.Errorf("%s: %w", path, err)
	}
	if len(events) == 0 || events[0].Type != TypeOpened {
		return nil, info, fmt.Errorf("%s is not an incident journal (it does not start with %s)", path, TypeOpened)
	}
	return events, info, nil
}

// Resume rebuilds an incident from its journal and reopens it for
// appending. Actions that were running are recorded as "outcome unknown",
// probes that were running as interrupted, and the probes that check the
// unknown actions must be re-run before any other action.
func Resume(path string, o Options) (*Session, ResumeReport, error) {
	events, info, err := ReadJournal(path)
	if err != nil {
		return nil, ResumeReport{}, err
	}
	var opened Opened
	if err := events[0].Decode(&opened); err != nil {
		return nil, ResumeReport{}, fmt.Errorf("%s: line 1: %w", path, err)
	}
	if o.Runbook == nil {
		return nil, ResumeReport{}, errors.New("resume: no runbook")
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
	var unknownIDs []string
	for _, a := range rep.Unknown {
		unknownIDs = append(unknownIDs, a.ID)
	}
	if _, err := s.Append(o.Actor, TypeResumed, Resumed{Truncated: rep.Truncated, DroppedBytes: rep.DroppedBytes,
		Unknown: unknownIDs, Recheck: rep.Recheck, RunbookChanged: rep.RunbookChanged}); err != nil {
		j.Close()
		return nil, rep, err
	}
	if p := stricter(st.Approval, o.Approval); p != stricter(st.Approval, "") {
		if _, err := s.Append(o.Actor, TypeApprovalPolicy, ApprovalPolicy{Approval: p}); err != nil {
			j.Close()
			return nil, rep, err
		}
	}
	for _, a := range rep.Unknown {
		_, err := s.Append(System, TypeActionFinished, ActionFinished{Run: a.ID, Outcome: actions.Outcome{
			Status: actions.OutcomeUnknown, ExitCode: -1,
			Summary: "steady stopped while this action ran; its outcome is unknown — re-run its probes (" + strings.Join(a.Plan.Recheck, ", ") + ") to see where things stand",
		}})
		if err != nil {
			j.Close()
			return nil, rep, err
		}
	}
	for _, p := range st.RunningProbes() {
		res := probes.Result{Probe: p.Probe, Status: probes.Error, Summary: "interrupted: steady stopped while this probe ran", Error: "interrupted", Params: p.Params, Started: p.Started}
		if _, err := s.Append(System, TypeProbeFinished, ProbeFinished{Run: p.ID, Result: res}); err != nil {
			j.Close()
			return nil, rep, err
		}
	}
	return s, rep, nil
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
}

// List returns the journals in dir, newest first. Unreadable files are
// skipped.
func List(dir string) ([]Info, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.jsonl"))
	if err != nil {
		return nil, err
	}
	var out []Info
	for _, f := range files {
		events, _, err := ReadJournal(f)
		if err != nil {
			continue
		}
		var o Opened
		_ = events[0].Decode(&o)
		inf := Info{Path: f, ID: o.ID, Runbook: o.Runbook, Title: o.Title, Started: events[0].Time, Events: len(events), Drill: o.Drill != nil}
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
	sort.Slice(out, func(i, j int) bool { return out[i].Started.After(out[j].Started) })
	return out, nil
}

// LatestUnfinished returns the newest journal in dir that was not closed
// (drills excluded), or ok=false.
func LatestUnfinished(dir string) (Info, bool) {
	all, err := List(dir)
	if err != nil {
		return Info{}, false
	}
	for _, inf := range all {
		if !inf.Closed && !inf.Drill {
			return inf, true
		}
	}
	return Info{}, false
}

// LoadRunbookFor finds the runbook an incident was opened with: its file
// if it still exists, else a built-in or --runbooks one of the same name.
func LoadRunbookFor(path, dir string, k runbook.Known) (*runbook.Runbook, error) {
	events, _, err := ReadJournal(path)
	if err != nil {
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
