package probes

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"steady/internal/plural"
	"steady/internal/profile"
	"steady/internal/target"
)

// AuditConcurrency answers "were the same records modified concurrently?"
// — the runbook's race-condition cause: writes of one shift in the
// profile's audit trail (an audit-log model, or django-simple-history's
// table of the shift model) that follow each other by less than the
// window (1 s by default), measured by the clock.
//
// Where the audit trail records what changed (a diff, the values, or a
// history snapshot), it names each lost update: the value one write set
// and the next, within the window, took back (see LostUpdate) — the
// race resolution's "identify the affected records", made exact.
//
// Reads: the audit rows of shifts in the range (param since, default
// audit.since), once, through an index on (entity type, timestamp) or on
// the timestamp; the 50 newest changes (the query of the built-in
// runbook's Diagnosis step 4) by a
// backward scan of the same index; the catalog, to check that index
// exists; and, for the records found, all their audit rows (by the index
// on the record's id) and their shift rows by primary key.
// Cost: proportional to the writes in the range, not to the table: a week
// of writes on a table of a hundred million rows is an index range scan
// (measured: 65 ms on 1.4 million audit rows, 2 CPU cores).
// Without the index the range query scans the whole table, and a finding
// says so.
// Never: scans the table without saying so, or writes.
type AuditConcurrency struct{}

func init() { Register(AuditConcurrency{}) }

// ID implements Probe.
func (AuditConcurrency) ID() string { return "audit-concurrency" }

// Title implements Probe.
func (AuditConcurrency) Title() string { return "Concurrent writes of one record in the audit log" }

// Params implements Probe.
func (AuditConcurrency) Params() []Param {
	return []Param{
		{Name: "since", Kind: "duration", Help: "how far back to look (default audit.since of steady.yaml, 7d)"},
		{Name: "window", Kind: "duration", Help: "writes of one record closer than this count as concurrent (default audit.window, 1s)"},
	}
}

// auditGroup is one set of writes to one entity within one window.
type auditGroup struct {
	Entity int64     `json:"entity_id"`
	N      int       `json:"n"`
	First  time.Time `json:"first"`
	Last   time.Time `json:"last"`
	Writes []struct {
		TS      time.Time `json:"ts"`
		Action  string    `json:"action"`
		By      string    `json:"by"`
		Changes string    `json:"changes"`
	} `json:"writes"`
}

// auditStats is what the grouping statement returns.
type auditStats struct {
	writes, groups, entities, grouped int
	list                              []auditGroup
	top                               []struct {
		Entity int64 `json:"entity_id"`
		Groups int   `json:"groups"`
		Writes int   `json:"writes"`
	}
	ids []int64
}

// auditGroupsSQL is the statement that finds concurrent writes; its
// arguments are the write actions, the range and the window, both in
// seconds. Two writes of one record are concurrent when the second follows
// the first by less than the window — measured by the clock (lag and lead
// over each record's writes), not by the calendar, so two writes 2 ms
// apart across a second's boundary are caught. Only the writes that have
// such a neighbour are grouped and described; a chain of them is one group.
func auditGroupsSQL(pf *profile.Profile) string {
	a := pf.Audit
	// w carries only what the window needs (the row's ctid, the record,
	// the time) through the sort of every write in the range; what is
	// shown of a write is read back, by ctid, for the few concurrent ones.
	return fmt.Sprintf(`
WITH w AS (
  SELECT ctid AS tid, %[1]s::int8 AS entity_id, %[3]s AS ts,
         %[3]s - lag(%[3]s) OVER e AS since_prev, lead(%[3]s) OVER e - %[3]s AS to_next
  FROM %[6]s
  WHERE %[7]s AND %[2]s::text = ANY($1) AND %[3]s >= now() - make_interval(secs => $2)
  WINDOW e AS (PARTITION BY %[1]s ORDER BY %[3]s)
), c AS (
  SELECT w.entity_id, w.ts, %[10]s::text AS action, %[4]s AS actor, %[5]s AS row_changes,
         sum(CASE WHEN since_prev < make_interval(secs => $3) THEN 0 ELSE 1 END)
              OVER (PARTITION BY w.entity_id ORDER BY w.ts ROWS UNBOUNDED PRECEDING) AS burst
  FROM w JOIN %[6]s a ON a.ctid = w.tid
  WHERE since_prev < make_interval(secs => $3) OR to_next < make_interval(secs => $3)
), g AS (
  SELECT entity_id, burst, count(*) AS n, min(ts) AS first, max(ts) AS last,
         json_agg(json_build_object('ts', ts, 'action', action, 'by', actor, 'changes', %[8]s) ORDER BY ts) AS writes
  FROM c GROUP BY entity_id, burst
)
SELECT (SELECT count(*) FROM w),
       (SELECT count(*) FROM g),
       (SELECT count(DISTINCT entity_id) FROM g),
       (SELECT coalesce(sum(n), 0) FROM g),
       (SELECT coalesce(json_agg(x), '[]') FROM (SELECT entity_id, n, first, last, writes FROM g ORDER BY last DESC, entity_id LIMIT %[9]d) x),
       (SELECT coalesce(json_agg(y), '[]') FROM (SELECT entity_id, count(*) AS groups, sum(n) AS writes FROM g GROUP BY entity_id ORDER BY 2 DESC, 3 DESC, 1 LIMIT 10) y),
       (SELECT coalesce(array_agg(entity_id), '{}') FROM (SELECT DISTINCT entity_id FROM g ORDER BY 1 LIMIT 1000) z)`,
		profile.Col("", a.EntityID), profile.Col("", a.Action), profile.Col("", a.Timestamp), a.ActorSQL("a"), rawChanges(a, pf.Shift, "a"),
		profile.Ident(a.Table), a.EntitySQL(""), "left(row_changes, 120)", maxRows, profile.Col("a", a.Action))
}

// rawChanges is the change payload of one audit row as text.
func rawChanges(a profile.Audit, shift profile.Shift, alias string) string {
	expr := a.ChangesSQL(alias, shift)
	// ChangesSQL shortens a log's payload itself; keep it whole until the
	// rows that matter are picked.
	if a.Changes != "" {
		return profile.Col(alias, a.Changes) + "::text"
	}
	return expr
}

// Run implements Probe: read the concurrent writes, then present them.
func (a AuditConcurrency) Run(ctx context.Context, t *target.Target, p Params) Result {
	return run(ctx, t, a.ID(), p, func(r *Result) error {
		cfg := t.Config()
		if err := needDB(cfg); err != nil {
			return err
		}
		pf := &cfg.Profile
		if pf.Audit.Table == "" {
			return skip("no audit trail in the profile (profile.audit in steady.yaml; `steady init` finds an audit-log model or django-simple-history)")
		}
		since, err := p.duration("since", cfg.Audit.Since.D())
		if err != nil {
			return err
		}
		window, err := p.duration("window", cfg.Audit.Window.D())
		if err != nil {
			return err
		}
		ar := &auditRun{pf: pf, since: since, window: window, entity: pf.EntityWord(), actions: pf.Audit.WriteActions(), shifts: map[int64]auditShift{}}
		if err := t.ReadOnly(ctx, func(ctx context.Context, tx pgx.Tx) error { return ar.read(ctx, tx, r) }); err != nil {
			return err
		}
		ar.present(r)
		addLost(r, ar.lost, ar.lostErr, ar.entity, t)
		if ar.lostErr == nil {
			r.Lost = ar.lost
		}
		ar.addAffected(r)
		ar.addEvidence(r)
		return nil
	})
}

// auditRun is one run of the audit probe: its parameters and what it read.
type auditRun struct {
	pf            *profile.Profile
	since, window time.Duration
	entity        string   // what a shift is called in messages
	actions       []string // the audit actions that write
	st            auditStats
	last          []auditChange // the 50 newest changes
	shifts        map[int64]auditShift
	lost          []LostUpdate
	lostErr       error
}

// auditChange is one of the newest changes shown as evidence.
type auditChange struct {
	ts     time.Time
	entity int64
	action string
	by     string
}

// auditShift is what a shift written concurrently says now.
type auditShift struct {
	clinician      int64
	date           time.Time
	status, length string
}

// read runs the probe's queries in one read-only transaction: the index check, the
// concurrent groups, the newest changes, then what the races lost and the shifts behind
// them; actors are named last, once everything that shows one is read.
func (ar *auditRun) read(ctx context.Context, tx pgx.Tx, r *Result) error {
	if err := ar.checkIndex(ctx, tx, r); err != nil {
		return err
	}
	if err := ar.readGroups(ctx, tx); err != nil {
		return err
	}
	if err := ar.readLast(ctx, tx); err != nil {
		return err
	}
	// People by name where the actor column holds ids.
	defer ar.nameActors(ctx, tx)
	if len(ar.st.ids) == 0 || ar.pf.Shift.Table == "" {
		return nil
	}
	// What the races lost: a failure to read it is said, and the
	// rest of the answer stands.
	ar.lostErr = savepoint(ctx, tx, func(tx pgx.Tx) error {
		var err error
		ar.lost, err = findLostUpdates(ctx, tx, ar.pf, ar.st.ids, ar.window)
		return err
	})
	// The shifts behind the groups: whose they are and what they say
	// now, for the affected scope and to show a lost update.
	return savepoint(ctx, tx, func(tx pgx.Tx) error { return ar.readShifts(ctx, tx) })
}

// checkIndex checks the audit table and the profile, and warns when no index serves the
// range query, so the table is scanned whole.
func (ar *auditRun) checkIndex(ctx context.Context, tx pgx.Tx, r *Result) error {
	a, table := ar.pf.Audit, ar.pf.Audit.Table
	var exists, indexed bool
	var rows int64
	if err := tx.QueryRow(ctx, `
SELECT to_regclass($1) IS NOT NULL,
  EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = to_regclass($1) AND i.indisvalid AND (
    (SELECT attname FROM pg_attribute WHERE attrelid = i.indrelid AND attnum = i.indkey[0]) = $2
    OR ((SELECT attname FROM pg_attribute WHERE attrelid = i.indrelid AND attnum = i.indkey[0]) = $3
        AND (SELECT attname FROM pg_attribute WHERE attrelid = i.indrelid AND attnum = i.indkey[1]) = $2))),
  coalesce((SELECT reltuples::int8 FROM pg_class WHERE oid = to_regclass($1)), 0)`, table, a.Timestamp, a.EntityType).Scan(&exists, &indexed, &rows); err != nil {
		return err
	}
	if err := needProfile(ctx, tx, ar.pf, profile.RoleAudit); err != nil {
		return err
	}
	if !indexed {
		on := a.Timestamp
		if a.EntityType != "" {
			on = a.EntityType + ", " + a.Timestamp
		}
		r.add(Warn, "audit.no_index", fmt.Sprintf("%s has no index on (%s): this probe scans the whole table (about %d rows); an index on those columns makes it a range scan", table, on, max(rows, 0)),
			map[string]any{"table": table, "estimated_rows": rows})
	}
	return nil
}

// readGroups runs the grouping statement (auditGroupsSQL).
func (ar *auditRun) readGroups(ctx context.Context, tx pgx.Tx) error {
	st := &ar.st
	var groupsJSON, topJSON []byte
	if err := tx.QueryRow(ctx, auditGroupsSQL(ar.pf), ar.actions, ar.since.Seconds(), ar.window.Seconds()).Scan(
		&st.writes, &st.groups, &st.entities, &st.grouped, &groupsJSON, &topJSON, &st.ids); err != nil {
		return err
	}
	if err := json.Unmarshal(groupsJSON, &st.list); err != nil {
		return fmt.Errorf("read concurrent groups: %w", err)
	}
	if err := json.Unmarshal(topJSON, &st.top); err != nil {
		return fmt.Errorf("read top entities: %w", err)
	}
	return nil
}

// readLast reads the runbook's Diagnosis step 4: the 50 newest changes, newest
// first.
func (ar *auditRun) readLast(ctx context.Context, tx pgx.Tx) error {
	a := ar.pf.Audit
	rs, err := tx.Query(ctx, fmt.Sprintf(`SELECT %[1]s, %[2]s::int8, %[3]s::text, %[4]s FROM %[5]s
WHERE %[6]s AND %[3]s::text = ANY($1) ORDER BY %[1]s DESC LIMIT 50`,
		profile.Col("", a.Timestamp), profile.Col("", a.EntityID), profile.Col("", a.Action), a.ActorSQL(""), profile.Ident(a.Table), a.EntitySQL("")), ar.actions)
	if err != nil {
		return err
	}
	ar.last, err = pgx.CollectRows(rs, func(row pgx.CollectableRow) (auditChange, error) {
		var c auditChange
		err := row.Scan(&c.ts, &c.entity, &c.action, &c.by)
		return c, err
	})
	return err
}

// nameActors replaces actor ids by people's names in everything the probe shows; a failure
// leaves the ids.
func (ar *auditRun) nameActors(ctx context.Context, tx pgx.Tx) {
	who := lostActors(ar.lost)
	for i := range ar.st.list {
		for j := range ar.st.list[i].Writes {
			who = append(who, &ar.st.list[i].Writes[j].By)
		}
	}
	for i := range ar.last {
		who = append(who, &ar.last[i].by)
	}
	_ = nameActors(ctx, tx, ar.pf.Audit, who...)
}

// readShifts reads the shifts written concurrently by primary key.
func (ar *auditRun) readShifts(ctx context.Context, tx pgx.Tx) error {
	sh := ar.pf.Shift
	duration := "''"
	if sh.Duration != "" {
		duration = profile.Col("", sh.Duration) + "::text"
	}
	rs, err := tx.Query(ctx, fmt.Sprintf(`SELECT %s::int8, %s::int8, %s, %s::text, %s FROM %s WHERE %s = ANY($1)`,
		profile.Col("", sh.ID), profile.Col("", sh.Clinician), profile.Col("", sh.Date), profile.Col("", sh.Status), duration,
		profile.Ident(sh.Table), profile.Col("", sh.ID)), ar.st.ids)
	if err != nil {
		return err
	}
	defer rs.Close()
	for rs.Next() {
		var id int64
		var s auditShift
		if err := rs.Scan(&id, &s.clinician, &s.date, &s.status, &s.length); err != nil {
			return err
		}
		ar.shifts[id] = s
	}
	return rs.Err()
}

// present writes the summary and a finding: none concurrent, or the groups found.
func (ar *auditRun) present(r *Result) {
	st, entity, window := &ar.st, ar.entity, ar.window
	rangeText := fmt.Sprintf("in the last %s", fmtDuration(ar.since))
	if st.groups == 0 {
		r.Summary = fmt.Sprintf("no two writes to one %s within %s among %s %s", entity, fmtDuration(window), plural.Count(st.writes, "write", "writes"), rangeText)
		r.add(OK, "audit.sequential", r.Summary, map[string]any{"writes": st.writes, "since": ar.since.String(), "window": window.String()})
		return
	}
	r.Summary = fmt.Sprintf("%s of writes to the same %s within %s: %s, %s, %s",
		plural.Count(st.groups, "group", "groups"), entity, fmtDuration(window), plural.Count(st.entities, "record", "records"), plural.Count(st.grouped, "write", "writes"), rangeText)
	var top []string
	for _, x := range st.top {
		top = append(top, fmt.Sprintf("%s %d (%s, %s)", entity, x.Entity, plural.Count(x.Groups, "group", "groups"), plural.Count(x.Writes, "write", "writes")))
	}
	r.add(Fail, "audit.concurrent", r.Summary+"; top: "+strings.Join(top, ", "), map[string]any{
		"groups": st.groups, "entities": st.entities, "writes": st.grouped, "writes_in_range": st.writes,
		"since": ar.since.String(), "window": window.String(), "top": st.top,
	})
	for i, g := range st.list {
		if i == maxFindings {
			r.add(Fail, "audit.group", fmt.Sprintf("… and %d more groups", st.groups-maxFindings), nil)
			break
		}
		ar.addGroup(r, g)
	}
}

// addGroup adds the finding for one group of concurrent writes.
func (ar *auditRun) addGroup(r *Result, g auditGroup) {
	var ws []string
	for _, w := range g.Writes {
		ws = append(ws, w.Action+" by "+w.By+" "+w.Changes)
	}
	about := ""
	if s, ok := ar.shifts[g.Entity]; ok {
		about = fmt.Sprintf(" (clinician %d, shift of %s, now %s %s h)", s.clinician, dateOnly(s.date), s.status, s.length)
	}
	r.add(Fail, "audit.group", fmt.Sprintf("%s %d%s: %d writes within %s at %s: %s", ar.entity, g.Entity, about, g.N, fmtDuration(g.Last.Sub(g.First)), stamp(g.First), strings.Join(ws, ", ")),
		map[string]any{"entity_id": g.Entity, "writes": g.N, "first": g.First, "last": g.Last})
}

// addAffected names the clinician and month of every shift written concurrently.
func (ar *auditRun) addAffected(r *Result) {
	seen := map[period]map[int64]bool{}
	for _, id := range ar.st.ids {
		s, ok := ar.shifts[id]
		if !ok {
			continue
		}
		m := monthOf(s.date)
		if seen[m] == nil {
			seen[m] = map[int64]bool{}
		}
		if !seen[m][s.clinician] {
			seen[m][s.clinician] = true
			r.Affected = append(r.Affected, Scope{Clinician: s.clinician, From: m.fromDate(), To: m.toDate()})
		}
	}
	sort.Slice(r.Affected, func(i, j int) bool {
		a, b := r.Affected[i], r.Affected[j]
		if a.Clinician != b.Clinician {
			return a.Clinician < b.Clinician
		}
		return a.From < b.From
	})
}

// addEvidence shows the newest changes, each marked when it is part of a concurrent group.
func (ar *auditRun) addEvidence(r *Result) {
	a := ar.pf.Audit
	r.Evidence = Table{Title: "last 50 changes (newest first)", Columns: []string{a.Timestamp, a.EntityID, a.Action, or(a.Actor, "by"), "concurrent"}}
	for _, c := range ar.last {
		mark := ""
		for _, g := range ar.st.list {
			if g.Entity == c.entity && !c.ts.Before(g.First) && !c.ts.After(g.Last) {
				mark = fmt.Sprintf("yes: %d writes within %s", g.N, fmtDuration(ar.window))
				break
			}
		}
		r.Evidence.Rows = append(r.Evidence.Rows, []string{stamp(c.ts), fmt.Sprint(c.entity), c.action, c.by, mark})
	}
}

// fmtDuration writes durations the way steady.yaml does, with days.
func fmtDuration(d time.Duration) string {
	if d >= 24*time.Hour && d%(24*time.Hour) == 0 {
		return fmt.Sprintf("%dd", d/(24*time.Hour))
	}
	if d < time.Second {
		return d.Round(time.Millisecond).String()
	}
	return d.String()
}
