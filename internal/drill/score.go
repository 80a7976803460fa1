package drill

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"steady/actions"
	"steady/internal/session"
	"steady/probes"
	"steady/runbook"
)

// Debrief is the scored account of a drill, built from its incident state
// alone, so a journal scores the same live and on replay.
type Debrief struct {
	Scenario string
	Seed     int64
	// TrueCauses are the scenario's causes; Confirmed those of them the
	// probes confirmed at some point, Missed the rest; False are causes
	// confirmed that the scenario did not inject.
	TrueCauses, Confirmed, Missed, False []string
	// FirstCause is the first true cause confirmed, TimeToFirstCause how
	// long after the incident opened the probe result that confirmed it
	// came in; FoundCause is false when none was.
	FirstCause       string
	TimeToFirstCause time.Duration
	FoundCause       bool
	// Resolved are the confirmed true causes that their probes rule out
	// at the end, after an action of the resolution succeeded: fixed and
	// verified. Unresolved are the other true causes.
	Resolved, Unresolved []string
	// BackupBeforeMigrate is "n/a", "yes", or why not.
	BackupBeforeMigrate string
	// Unneeded describes each destructive action run that the scenario
	// did not call for (FLUSHALL included, needed or not).
	Unneeded []string
	// Expected is the scenario's resolution; Done the actions that
	// succeeded, in order; Followed whether Expected appears in Done in
	// order.
	Expected, Done []string
	Followed       bool
	// VerificationDone of VerificationTotal items of the runbook's
	// Verification section were completed.
	VerificationDone, VerificationTotal int
	// Total is from the opening to the last thing done; TTR the runbook's
	// estimate.
	Total, TTR time.Duration
	// Score is out of 100; Reasons say where each point went.
	Score   int
	Reasons []string
}

// Points of the score. They add up to 100 for a drill done well; safety
// penalties can take more than the safety points.
const (
	pointsDiagnosis    = 35
	pointsSpeed        = 15
	pointsResolution   = 25
	pointsSafety       = 15
	pointsVerification = 10

	penaltyNoBackup     = 15
	penaltyFlushAll     = 10
	penaltyUnneeded     = 5
	penaltyFalseConfirm = 10
	penaltyOverTTR      = 5
)

// speedPoints are the points for the time to the first true cause.
var speedPoints = []struct {
	within time.Duration
	points int
}{{5 * time.Minute, 15}, {15 * time.Minute, 10}, {30 * time.Minute, 5}}

// Score scores a drill from its incident state: sc is the scenario played
// and rb the incident's runbook, whose causes say which probes decide what.
//
// Rules: diagnosis 35 × the share of true causes confirmed, −10 for each
// cause confirmed that was not injected; speed 15 (first true cause within
// 5 min), 10 (15 min), 5 (30 min); resolution 25 × the share of true
// causes confirmed and then ruled out by their probes, once an action of
// the scenario's resolution succeeded; safety 15 once any
// action ran (0 when none did), −15 for a migrate without a verified
// backup before it (overridden or not), −10 for FLUSHALL (it drops the
// broker's queued tasks and results), −5 for each other destructive action
// the scenario did not need; verification 10 × the share of the runbook's
// Verification items done; −5 past the runbook's estimated TTR. The total
// is kept within 0..100.
//
// end is when the drill ended, by the wall clock: the total time is from
// the opening to it, idle minutes included. Zero takes the incident's
// closing, or else its last event (a journal replayed without its end).
func Score(st *session.State, sc Scenario, rb *runbook.Runbook, end time.Time) Debrief {
	s := &scorer{st: st, sc: sc, causes: causeProbes(rb)}
	s.d = Debrief{Scenario: sc.Name, TrueCauses: append([]string(nil), sc.Causes...), Expected: append([]string(nil), sc.Resolution...), TTR: st.Incident.TTR}
	if st.Incident.Drill != nil {
		s.d.Seed = st.Incident.Drill.Seed
	}
	s.diagnosis()
	s.speed()
	ran := inRunOrder(st)
	s.resolution(ran)
	s.safety(ran)
	s.d.Followed = isSubsequence(sc.Resolution, withImplied(s.d.Done))
	s.verification(rb)
	s.time(end)
	s.d.Score = min(max(s.score, 0), 100)
	return s.d
}

// scorer is one drill being scored, one part of the score after another.
type scorer struct {
	st     *session.State
	sc     Scenario
	causes map[string][]string // cause → the probes deciding it
	ever   map[string]bool     // the causes ever confirmed
	d      Debrief
	score  int
}

// add adds points (or takes them, when negative) and says why.
func (s *scorer) add(points int, format string, args ...any) {
	s.score += points
	sign := "+"
	if points < 0 {
		sign = "−"
		points = -points
	}
	s.d.Reasons = append(s.d.Reasons, fmt.Sprintf("%s%d %s", sign, points, fmt.Sprintf(format, args...)))
}

// diagnosis replays the probe results in the order they came in, deciding
// each cause after each one as the cause board did, and scores the true
// causes confirmed and the false ones.
func (s *scorer) diagnosis() {
	st, sc, d := s.st, s.sc, &s.d
	s.ever = map[string]bool{}
	latest := map[string]*probes.Result{}
	for _, run := range finishedProbes(st) {
		latest[run.Probe] = run.Result
		for _, c := range sortedKeys(s.causes) {
			if s.ever[c] || decide(s.causes[c], latest) != probes.Confirmed {
				continue
			}
			s.ever[c] = true
			if sc.Has(c) && !d.FoundCause {
				d.FoundCause, d.FirstCause = true, c
				d.TimeToFirstCause = finishedAt(run).Sub(st.Started)
			}
		}
	}
	for _, c := range sc.Causes {
		if s.ever[c] {
			d.Confirmed = append(d.Confirmed, c)
		} else {
			d.Missed = append(d.Missed, c)
		}
	}
	for _, c := range sortedKeys(s.causes) {
		if s.ever[c] && !sc.Has(c) {
			d.False = append(d.False, c)
		}
	}
	if n := len(sc.Causes); n > 0 {
		s.add(pointsDiagnosis*len(d.Confirmed)/n, "diagnosis: %d of %d true causes confirmed (%s)", len(d.Confirmed), n, listOr(d.Confirmed, "none"))
	}
	for _, c := range d.False {
		s.add(-penaltyFalseConfirm, "diagnosis: %s was confirmed but is not part of this scenario (what else changed in the sandbox?)", c)
	}
}

// speed scores the time to the first true cause.
func (s *scorer) speed() {
	d := &s.d
	if !d.FoundCause {
		s.add(0, "speed: no true cause was confirmed")
		return
	}
	points := 0
	for _, sp := range speedPoints {
		if d.TimeToFirstCause <= sp.within {
			points = sp.points
			break
		}
	}
	s.add(points, "speed: first true cause (%s) confirmed after %s", d.FirstCause, clock(d.TimeToFirstCause))
}

// resolution scores the causes confirmed, then ruled out by the latest
// results once something of the resolution was done. A probe re-run alone
// proves nothing was fixed (audit-concurrency over the last hour passes
// without a fix).
func (s *scorer) resolution(ran []*session.ActionRun) {
	sc, d := s.sc, &s.d
	fixing := false
	for _, a := range ran {
		if a.Outcome != nil && a.Outcome.Status == actions.Succeeded {
			d.Done = append(d.Done, a.Action)
			fixing = fixing || sc.Needed(a.Action)
		}
	}
	for _, c := range sc.Causes {
		if v := s.st.Verdicts[c]; s.ever[c] && fixing && (v == probes.Resolved || v == probes.RuledOut) {
			d.Resolved = append(d.Resolved, c)
		} else {
			d.Unresolved = append(d.Unresolved, c)
		}
	}
	if n := len(sc.Causes); n > 0 {
		why := ""
		if len(d.Unresolved) > 0 {
			why = fmt.Sprintf("; still open: %s (fix it, then re-run its probe: %s)", strings.Join(d.Unresolved, ", "), probesOf(s.causes, d.Unresolved))
		}
		s.add(pointsResolution*len(d.Resolved)/n, "resolution: %d of %d true causes fixed and verified by their probes%s", len(d.Resolved), n, why)
	}
}

// safetyTally is the safety points left and the penalties that took the rest.
type safetyTally struct {
	points    int
	penalties []string
}

// take takes a penalty and says why.
func (t *safetyTally) take(points int, format string, args ...any) {
	t.points -= points
	t.penalties = append(t.penalties, fmt.Sprintf("%d ", points)+fmt.Sprintf(format, args...))
}

// safety scores what ran, in order: a migrate without a verified backup,
// FLUSHALL, and destructive actions the scenario did not need.
func (s *scorer) safety(ran []*session.ActionRun) {
	tally := &safetyTally{points: pointsSafety}
	acted := false
	s.d.BackupBeforeMigrate = "n/a (no migrate ran)"
	for _, a := range ran {
		if a.Started.IsZero() {
			continue // refused or never confirmed: nothing ran
		}
		acted = true
		if a.Action == "migrate" {
			s.migrateSafety(a, tally)
		}
		s.destructiveSafety(a, tally)
	}
	switch {
	case !acted:
		// Doing nothing is safe, and earns nothing.
		s.add(0, "safety: no action was carried out, so there was nothing to be careful about")
	case len(tally.penalties) == 0:
		s.add(tally.points, "safety: a verified backup before any migrate, no FLUSHALL, nothing destructive beyond the resolution")
	default:
		s.add(tally.points, "safety: %d − %s", pointsSafety, strings.Join(tally.penalties, " − "))
	}
}

// migrateSafety checks that a migrate ran after a verified backup, its guard
// not overridden.
func (s *scorer) migrateSafety(a *session.ActionRun, tally *safetyTally) {
	st, d := s.st, &s.d
	switch backupAt := lastBackupBefore(st, a.Started); {
	case a.Override != "":
		d.BackupBeforeMigrate = "no: the backup guard was overridden (" + a.Override + ")"
		tally.take(penaltyNoBackup, "(%s at %s ran with the backup guard overridden)", a.ID, clockAt(st, a.Started))
	case backupAt.IsZero():
		d.BackupBeforeMigrate = "no verified backup before migrate"
		tally.take(penaltyNoBackup, "(%s at %s ran without a verified backup before it)", a.ID, clockAt(st, a.Started))
	case d.BackupBeforeMigrate == "n/a (no migrate ran)":
		d.BackupBeforeMigrate = "yes (verified backup at " + clockAt(st, backupAt) + ")"
	}
}

// destructiveSafety penalises FLUSHALL, needed or not, and any other
// destructive action the scenario did not need.
func (s *scorer) destructiveSafety(a *session.ActionRun, tally *safetyTally) {
	d := &s.d
	if a.Action == "flush-cache" && a.Plan.Facts["mode"] == "flushall" {
		lost := lossText(a.Plan.Facts)
		d.Unneeded = append(d.Unneeded, fmt.Sprintf("%s flush-cache in FLUSHALL mode (%s)", a.ID, lost))
		tally.take(penaltyFlushAll, "(%s FLUSHALL emptied every db of the instance, the broker's too: %s; FLUSHDB of the cache db was enough)", a.ID, lost)
		return
	}
	if a.Plan.Destructive && !s.sc.Needed(a.Action) {
		d.Unneeded = append(d.Unneeded, fmt.Sprintf("%s %s", a.ID, a.Action))
		tally.take(penaltyUnneeded, "(%s %s was not needed: %s)", a.ID, a.Action, notNeededWhy(a.Action))
	}
}

// verification scores the runbook's Verification items completed.
func (s *scorer) verification(rb *runbook.Runbook) {
	d := &s.d
	for _, it := range rb.Items() {
		if it.Section != runbook.Verification {
			continue
		}
		d.VerificationTotal++
		switch is := s.st.Items[it.ID]; {
		case is.Checked, is.Status == session.Done, is.Status == session.ItemOK, is.Status == session.Warned:
			d.VerificationDone++
		}
	}
	if d.VerificationTotal > 0 {
		s.add(pointsVerification*d.VerificationDone/d.VerificationTotal, "verification: %d of %d items done", d.VerificationDone, d.VerificationTotal)
	}
}

// time measures the drill against the runbook's estimate.
func (s *scorer) time(end time.Time) {
	d := &s.d
	if end.IsZero() {
		end = lastActivity(s.st)
	}
	d.Total = end.Sub(s.st.Started)
	if d.TTR > 0 && d.Total > d.TTR {
		s.add(-penaltyOverTTR, "time: %s, over the estimated TTR of %s", clock(d.Total), clock(d.TTR))
	}
}

// inRunOrder returns the incident's actions in the order they ran (those
// that never started last, in the order they were planned): a plan made
// early and carried out late counts where it ran.
func inRunOrder(st *session.State) []*session.ActionRun {
	out := append([]*session.ActionRun(nil), st.Actions...)
	sort.SliceStable(out, func(i, j int) bool {
		a, b := out[i].Started, out[j].Started
		switch {
		case a.IsZero() || b.IsZero():
			return !a.IsZero() && b.IsZero()
		}
		return a.Before(b)
	})
	return out
}

// causeProbes maps each cause of the runbook to the probes deciding it.
func causeProbes(rb *runbook.Runbook) map[string][]string {
	out := map[string][]string{}
	for _, c := range rb.Causes {
		out[c.ID] = c.Probes
	}
	return out
}

func decide(ids []string, latest map[string]*probes.Result) probes.Verdict {
	var rs []*probes.Result
	for _, id := range ids {
		rs = append(rs, latest[id])
	}
	return probes.Decide(rs)
}

// finishedProbes returns the probe runs with a result, in the order their
// results came in.
func finishedProbes(st *session.State) []*session.ProbeRun {
	var out []*session.ProbeRun
	for _, p := range st.Probes {
		if p.Result != nil {
			out = append(out, p)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return finishedAt(out[i]).Before(finishedAt(out[j])) })
	return out
}

// finishedAt is when a probe's result came in: its start plus its duration.
func finishedAt(p *session.ProbeRun) time.Time {
	start := p.Result.Started
	if start.IsZero() {
		start = p.Started
	}
	return start.Add(p.Result.Duration)
}

// lastBackupBefore returns when the latest verified backup that finished
// before t finished, or zero.
func lastBackupBefore(st *session.State, t time.Time) time.Time {
	var at time.Time
	for _, a := range st.Actions {
		o := a.Outcome
		if o == nil || o.Status != actions.Succeeded || o.Artefacts[actions.ArtefactKind] != "backup" || o.Artefacts[actions.ArtefactVerified] != "true" {
			continue
		}
		if !a.Finished.After(t) && a.Finished.After(at) {
			at = a.Finished
		}
	}
	return at
}

// lastActivity is the time of the last thing the incident records.
func lastActivity(st *session.State) time.Time {
	last := st.Started
	later := func(t time.Time) {
		if t.After(last) {
			last = t
		}
	}
	if st.Ended != nil {
		return *st.Ended
	}
	for _, p := range st.Probes {
		later(p.Started)
		if p.Result != nil {
			later(finishedAt(p))
		}
	}
	for _, a := range st.Actions {
		later(a.PlannedAt)
		later(a.Finished)
	}
	for _, it := range st.Items {
		later(it.At)
	}
	for _, n := range st.Notes {
		later(n.At)
	}
	return last
}

// lossText says what a FLUSHALL plan counted it would drop.
func lossText(facts map[string]string) string {
	var parts []string
	for _, k := range []struct{ key, what string }{{"lose_queued", "queued tasks"}, {"lose_unacked", "unacked tasks"}, {"lose_results", "task results"}} {
		if v := facts[k.key]; v != "" && v != "0" {
			parts = append(parts, v+" "+k.what)
		}
	}
	if len(parts) == 0 {
		return "it would have dropped any task queued at that moment"
	}
	return "it would have dropped " + strings.Join(parts, " and ")
}

func notNeededWhy(action string) string {
	switch action {
	case "migrate":
		return "no migration was pending"
	case "restart":
		return "no process held a stale state"
	case "flush-cache":
		return "the cache agreed with the database"
	}
	return "the scenario's resolution does without it"
}

// isSubsequence reports whether want appears in got in order.
func isSubsequence(want, got []string) bool {
	i := 0
	for _, g := range got {
		if i < len(want) && g == want[i] {
			i++
		}
	}
	return i == len(want)
}

func probesOf(causes map[string][]string, ids []string) string {
	var out []string
	for _, c := range ids {
		out = append(out, causes[c]...)
	}
	return strings.Join(out, ", ")
}

func sortedKeys(m map[string][]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func listOr(list []string, none string) string {
	if len(list) == 0 {
		return none
	}
	return strings.Join(list, ", ")
}

// clock writes a duration to the second, without zero tails: 3m12s, 4m,
// 2h.
func clock(d time.Duration) string {
	s := d.Round(time.Second).String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// clockAt writes a moment as time into the incident, "+3m12s".
func clockAt(st *session.State, t time.Time) string { return "+" + clock(t.Sub(st.Started)) }

// Map is the debrief as the drill.scored event records it: a flat map of
// short texts, which the report prints as its "Drill debrief" table.
func (d Debrief) Map() map[string]any {
	resolution := "not followed"
	if d.Followed {
		resolution = "followed"
	}
	first := "never"
	if d.FoundCause {
		first = clock(d.TimeToFirstCause) + " (" + d.FirstCause + ")"
	}
	total := clock(d.Total)
	if d.TTR > 0 {
		total += " (estimated TTR " + clock(d.TTR) + ")"
	}
	return map[string]any{
		"score":                 fmt.Sprintf("%d/100", d.Score),
		"scenario":              fmt.Sprintf("%s (seed %d)", d.Scenario, d.Seed),
		"true_causes":           strings.Join(d.TrueCauses, ", "),
		"causes_confirmed":      listOr(d.Confirmed, "none"),
		"causes_missed":         listOr(d.Missed, "none"),
		"false_confirmations":   listOr(d.False, "none"),
		"causes_resolved":       listOr(d.Resolved, "none"),
		"time_to_first_cause":   first,
		"backup_before_migrate": d.BackupBeforeMigrate,
		"unneeded_destructive":  listOr(d.Unneeded, "none"),
		"resolution_expected":   strings.Join(d.Expected, " → "),
		"resolution_done":       listOr(d.Done, "nothing") + " — " + resolution,
		"verification":          fmt.Sprintf("%d of %d items", d.VerificationDone, d.VerificationTotal),
		"total_time":            total,
		"reasons":               strings.Join(d.Reasons, "; "),
	}
}

// Text is the debrief for a terminal: the score, then one line per rule.
func (d Debrief) Text() string {
	var b strings.Builder
	fmt.Fprintf(&b, "Drill debrief — %s (seed %d): %d/100\n\n", d.Scenario, d.Seed, d.Score)
	m := d.Map()
	for _, row := range []struct{ label, key string }{
		{"true causes", "true_causes"},
		{"confirmed", "causes_confirmed"},
		{"missed", "causes_missed"},
		{"false confirmations", "false_confirmations"},
		{"first true cause after", "time_to_first_cause"},
		{"fixed and verified", "causes_resolved"},
		{"backup before migrate", "backup_before_migrate"},
		{"unneeded destructive", "unneeded_destructive"},
		{"expected resolution", "resolution_expected"},
		{"actions that succeeded", "resolution_done"},
		{"verification", "verification"},
		{"total time", "total_time"},
	} {
		fmt.Fprintf(&b, "  %-24s %v\n", row.label, m[row.key])
	}
	b.WriteString("\nPoints:\n")
	for _, r := range d.Reasons {
		fmt.Fprintf(&b, "  %s\n", r)
	}
	return b.String()
}

// withImplied returns the actions done with the steps some of them carry
// out themselves: a migrate that succeeded ran Django's check after it
// (the migrate action's last command), so the resolution's "check" is done.
func withImplied(done []string) []string {
	var out []string
	for _, a := range done {
		out = append(out, a)
		if a == "migrate" {
			out = append(out, "check")
		}
	}
	return out
}
