package probes

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/big"
	"sort"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"steady/internal/plural"
	"steady/internal/profile"
	"steady/internal/target"
)

// A lost update is a value one write set and the next write, within the
// window, silently took back: the later writer saved a copy read before
// the earlier write. The audit trail says so in one of three ways:
//
//   - the later write records the field going back to the value it had
//     before the earlier write (an application that diffs against the
//     stored row, or a history table's snapshot);
//   - the later write's before-image of the field contradicts the
//     earlier write's after-image (it diffed against its stale copy and
//     changed the field itself: which value is right cannot be known);
//   - the later write does not record the field at all, no write after it
//     does, and the row holds the value from before the earlier write
//     (it diffed against its stale copy and saved every column).
//
// Only writes of one record closer than the window are compared: a value
// changed back minutes later is as likely an operator's undo.

// Lost-update states.
const (
	// LostRestorable: the row still holds the value written back; the lost
	// value is known and can be restored.
	LostRestorable = "lost"
	// LostConflict: both writers set the field; which is right cannot be
	// known from the trail.
	LostConflict = "conflict"
	// LostChanged: the field was set again, or the row changed without a
	// record, after the loss; a person decides.
	LostChanged = "changed"
	// LostRestored: the row holds the lost value again.
	LostRestored = "restored"
)

// Value is one field's value as the audit trail or the row gives it.
type Value struct {
	Text string `json:"text"`
	Null bool   `json:"null,omitempty"`
}

// String shows a value the way a person reads it.
func (v Value) String() string {
	if v.Null {
		return "NULL"
	}
	return "'" + v.Text + "'"
}

// Equal compares two values: numbers by value (12.0 is 12.00), instants
// by time, everything else by text.
func (v Value) Equal(w Value) bool {
	if v.Null || w.Null {
		return v.Null == w.Null
	}
	if v.Text == w.Text {
		return true
	}
	a, okA := new(big.Rat).SetString(v.Text)
	b, okB := new(big.Rat).SetString(w.Text)
	if okA && okB {
		return a.Cmp(b) == 0
	}
	ta, errA := time.Parse(time.RFC3339Nano, v.Text)
	tb, errB := time.Parse(time.RFC3339Nano, w.Text)
	return errA == nil && errB == nil && ta.Equal(tb)
}

// LostUpdate is one value a race took back.
type LostUpdate struct {
	State  string `json:"state"`
	Entity int64  `json:"entity_id"`
	// Field is the name the audit trail gives the field (a column of the
	// record's table, as a rule).
	Field string `json:"field"`
	// Before is the value before the lost write; Lost the value it wrote.
	Before Value `json:"before"`
	Lost   Value `json:"lost"`
	// LostBy and LostAt are the lost write's author and time.
	LostBy string    `json:"lost_by"`
	LostAt time.Time `json:"lost_at"`
	// By and At are the later write's; Wrote what it recorded for the
	// field (Silent: it recorded nothing for it).
	By     string    `json:"by"`
	At     time.Time `json:"at"`
	Wrote  Value     `json:"wrote"`
	Silent bool      `json:"silent,omitempty"`
	// Current is the row's value now (Known false: the row is gone or the
	// field is not one of its columns).
	Current Value `json:"current"`
	Known   bool  `json:"known"`
	// Why says, for every state but LostRestorable, why it is not restored.
	Why string `json:"why,omitempty"`
}

// Restorable says whether the lost value can be written back safely.
func (l LostUpdate) Restorable() bool { return l.State == LostRestorable }

// Describe is one line for the operator.
func (l LostUpdate) Describe(entity string) string {
	gap := fmtDuration(l.At.Sub(l.LostAt))
	how := fmt.Sprintf("%s's save %s later wrote back %s", or(l.By, "an unnamed writer"), gap, l.Wrote)
	if l.Silent {
		how = fmt.Sprintf("%s's save %s later did not record %s, and the row went back to %s", or(l.By, "an unnamed writer"), gap, l.Field, l.Before)
	}
	line := fmt.Sprintf("%s %d: %s %s → %s written by %s at %s was lost: %s", entity, l.Entity, l.Field, l.Before, l.Lost, or(l.LostBy, "an unnamed writer"), stamp(l.LostAt), how)
	if l.State == LostConflict {
		line = fmt.Sprintf("%s %d: %s %s → %s written by %s at %s, then %s %s later set %s from %s (a copy read before)",
			entity, l.Entity, l.Field, l.Before, l.Lost, or(l.LostBy, "an unnamed writer"), stamp(l.LostAt), or(l.By, "an unnamed writer"), gap, l.Wrote, l.Before)
	}
	if l.Known {
		line += fmt.Sprintf("; now %s", l.Current)
	}
	if l.Why != "" {
		line += " — " + l.Why
	}
	return line
}

// auditWrite is one audit row of a record, with the fields it recorded.
type auditWrite struct {
	ts      time.Time
	action  string
	actor   string
	payload string
	// changes are the fields this write recorded: from the payload's
	// before-image where it has one, else from what was known before it.
	changes map[string]fieldChange
}

type fieldChange struct {
	old, new Value
	hasOld   bool
}

// findLostUpdates reads every audit row of the records ids (through the
// index on the record's id) and their rows now (by primary key), and names
// the values lost to a write within window of the one that set them.
func findLostUpdates(ctx context.Context, tx pgx.Tx, pf *profile.Profile, ids []int64, window time.Duration) ([]LostUpdate, error) {
	if len(ids) == 0 || pf.Shift.Table == "" {
		return nil, nil
	}
	a, sh := pf.Audit, pf.Shift
	payload := "row_to_json(a)::text"
	if a.Kind != profile.AuditHistory {
		payload = "coalesce(" + profile.Col("a", a.Changes) + "::text, '{}')"
		if a.Changes == "" {
			// Nothing recorded but who and when: no loss can be named.
			return nil, nil
		}
	}
	rs, err := tx.Query(ctx, fmt.Sprintf(`SELECT %[1]s::int8, %[2]s, %[3]s::text, %[4]s, %[5]s FROM %[6]s a
WHERE %[7]s AND %[3]s::text = ANY($1) AND %[1]s = ANY($2) ORDER BY %[1]s, %[2]s`,
		profile.Col("a", a.EntityID), profile.Col("a", a.Timestamp), profile.Col("a", a.Action), a.ActorSQL("a"), payload,
		profile.Ident(a.Table), a.EntitySQL("a")), a.WriteActions(), ids)
	if err != nil {
		return nil, err
	}
	writes := map[int64][]*auditWrite{}
	for rs.Next() {
		var id int64
		w := &auditWrite{}
		if err := rs.Scan(&id, &w.ts, &w.action, &w.actor, &w.payload); err != nil {
			rs.Close()
			return nil, err
		}
		writes[id] = append(writes[id], w)
	}
	rs.Close()
	if err := rs.Err(); err != nil {
		return nil, err
	}
	rows := map[int64]map[string]Value{}
	rs, err = tx.Query(ctx, fmt.Sprintf(`SELECT %[1]s::int8, row_to_json(s)::text FROM %[2]s s WHERE %[1]s = ANY($1)`,
		profile.Col("s", sh.ID), profile.Ident(sh.Table)), ids)
	if err != nil {
		return nil, err
	}
	for rs.Next() {
		var id int64
		var row string
		if err := rs.Scan(&id, &row); err != nil {
			rs.Close()
			return nil, err
		}
		if rows[id], err = jsonValues(row); err != nil {
			rs.Close()
			return nil, fmt.Errorf("read %s %d: %w", sh.Table, id, err)
		}
	}
	rs.Close()
	if err := rs.Err(); err != nil {
		return nil, err
	}
	var out []LostUpdate
	for _, id := range ids {
		out = append(out, lostIn(a, id, writes[id], rows[id], window)...)
	}
	return out, nil
}

// lostIn names the lost updates among one record's writes, in time order.
func lostIn(a profile.Audit, id int64, writes []*auditWrite, row map[string]Value, window time.Duration) []LostUpdate {
	known := map[string]Value{}
	for _, w := range writes {
		w.changes = recorded(a, w, known, row)
		for f, c := range w.changes {
			known[f] = c.new
		}
	}
	var out []LostUpdate
	for i := 0; i+1 < len(writes); i++ {
		w1, w2 := writes[i], writes[i+1]
		if w2.ts.Sub(w1.ts) >= window {
			continue
		}
		fields := make([]string, 0, len(w1.changes))
		for f := range w1.changes {
			fields = append(fields, f)
		}
		sort.Strings(fields)
		for _, f := range fields {
			if l, ok := lostField(a, id, f, w1, w2, writes[i+2:], row); ok {
				out = append(out, l)
			}
		}
	}
	return out
}

// lostField says whether the value w1 set in field f was lost to w2, the
// write that followed it within the window, and how it may be restored;
// after are the writes after w2.
func lostField(a profile.Audit, id int64, f string, w1, w2 *auditWrite, after []*auditWrite, row map[string]Value) (LostUpdate, bool) {
	c1 := w1.changes[f]
	if !c1.hasOld || c1.old.Equal(c1.new) {
		return LostUpdate{}, false
	}
	l := LostUpdate{Entity: id, Field: f, Before: c1.old, Lost: c1.new, LostBy: w1.actor, LostAt: w1.ts, By: w2.actor, At: w2.ts}
	l.Current, l.Known = row[f]
	c2, said := w2.changes[f]
	later := laterRecord(after, f)
	switch {
	case said && c2.hasOld && a.Kind != profile.AuditHistory && !c2.old.Equal(c1.new) && !c2.old.Equal(c2.new):
		// It changed the field from a value it could only have
		// read before the earlier write.
		l.Wrote = c2.new
		l.State, l.Why = LostConflict, "both writers set it: which value is right cannot be known from the audit trail; a person decides"
	case said && c2.new.Equal(c1.old) && !c2.new.Equal(c1.new):
		l.Wrote = c2.new
		judge(&l, later)
	case !said && later == nil && l.Known && l.Current.Equal(c1.old) && !l.Current.Equal(c1.new):
		l.Wrote, l.Silent = c1.old, true
		l.State = LostRestorable
	default:
		return LostUpdate{}, false
	}
	return l, true
}

// judge decides what a recorded loss is now: restorable while the row
// still holds the value written back and nothing set the field since.
func judge(l *LostUpdate, later *auditWrite) {
	switch {
	case l.Known && l.Current.Equal(l.Lost):
		l.State = LostRestored
	case later != nil:
		l.State, l.Why = LostChanged, fmt.Sprintf("set again to %s by %s at %s: a person decides", later.changes[l.Field].new, or(later.actor, "an unnamed writer"), stamp(later.ts))
	case !l.Known:
		l.State, l.Why = LostChanged, "the record or its column is gone: a person decides"
	case !l.Current.Equal(l.Wrote):
		l.State, l.Why = LostChanged, "changed since without a record in the audit trail: a person decides"
	default:
		l.State = LostRestorable
	}
}

// laterRecord is the first of writes that recorded field f.
func laterRecord(writes []*auditWrite, f string) *auditWrite {
	for _, w := range writes {
		if _, ok := w.changes[f]; ok {
			return w
		}
	}
	return nil
}

// recorded reads the fields one audit row recorded: a diff's pairs, a
// values map's or a snapshot's fields (the old value is what was known
// before). A snapshot records only the fields that are the record's own
// columns, and only those it changed.
func recorded(a profile.Audit, w *auditWrite, known, row map[string]Value) map[string]fieldChange {
	out := map[string]fieldChange{}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal([]byte(w.payload), &raw); err != nil {
		return out
	}
	snapshot := a.Kind == profile.AuditHistory || a.Shape == profile.ShapeSnapshot
	diff := !snapshot && a.Shape != profile.ShapeValues && w.action == a.Actions.Update
	for f, m := range raw {
		if snapshot {
			if _, own := row[f]; !own && row != nil {
				continue
			}
		}
		if diff {
			var pair []json.RawMessage
			if json.Unmarshal(m, &pair) == nil && len(pair) == 2 {
				out[f] = fieldChange{old: jsonValue(pair[0]), new: jsonValue(pair[1]), hasOld: true}
				continue
			}
		}
		v := jsonValue(m)
		old, ok := known[f]
		if snapshot && ok && old.Equal(v) {
			continue
		}
		out[f] = fieldChange{old: old, new: v, hasOld: ok}
	}
	return out
}

// jsonValues reads an object's members as values.
func jsonValues(s string) (map[string]Value, error) {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal([]byte(s), &raw); err != nil {
		return nil, err
	}
	out := make(map[string]Value, len(raw))
	for k, m := range raw {
		out[k] = jsonValue(m)
	}
	return out, nil
}

// jsonValue is a JSON value as text: a string's contents, a number's
// literal, anything else compact.
func jsonValue(m json.RawMessage) Value {
	m = bytes.TrimSpace(m)
	switch {
	case len(m) == 0 || string(m) == "null":
		return Value{Null: true}
	case m[0] == '"':
		var s string
		if json.Unmarshal(m, &s) == nil {
			return Value{Text: s}
		}
	}
	var buf bytes.Buffer
	if json.Compact(&buf, m) == nil {
		return Value{Text: buf.String()}
	}
	return Value{Text: string(m)}
}

// lostData is a lost update as a finding's data.
func lostData(l LostUpdate) map[string]any {
	b, _ := json.Marshal(l)
	var m map[string]any
	_ = json.Unmarshal(b, &m)
	return m
}

// LostFromFinding reads back a lost update a finding carries.
func LostFromFinding(f Finding) (LostUpdate, bool) {
	if !strings.HasPrefix(f.Code, "audit.lost") || f.Data == nil {
		return LostUpdate{}, false
	}
	b, err := json.Marshal(f.Data)
	if err != nil {
		return LostUpdate{}, false
	}
	var l LostUpdate
	if json.Unmarshal(b, &l) != nil || l.Field == "" {
		return LostUpdate{}, false
	}
	return l, true
}

// addLost says what the races lost, one finding each.
func addLost(r *Result, lost []LostUpdate, err error, entity string, t *target.Target) {
	if err != nil {
		r.add(Warn, "audit.lost_unread", "the values the concurrent writes may have lost could not be read: "+t.Scrubber.Scrub(oneLine(err.Error())), nil)
		return
	}
	count := map[string]int{}
	for _, l := range lost {
		count[l.State]++
	}
	shown := 0
	for _, l := range lost {
		status, code := Fail, "audit.lost_update"
		switch l.State {
		case LostConflict:
			code = "audit.lost_conflict"
		case LostChanged:
			status, code = Warn, "audit.lost_changed"
		case LostRestored:
			status, code = OK, "audit.lost_restored"
		}
		if shown == maxFindings {
			r.add(status, "audit.lost_more", fmt.Sprintf("… and %d more lost updates", len(lost)-maxFindings), nil)
			break
		}
		shown++
		r.add(status, code, l.Describe(entity), lostData(l))
	}
	if n := count[LostRestorable]; n > 0 {
		r.Summary += fmt.Sprintf("; %s lost, restorable from the audit trail (repair-lost-updates)", plural.Count(n, "value", "values"))
	}
	if n := count[LostConflict] + count[LostChanged]; n > 0 {
		r.Summary += fmt.Sprintf("; %s lost that a person must decide", plural.Count(n, "value", "values"))
	}
}

// nameActors replaces actor ids with people's names where the profile says
// where the names are (audit.actors); an id with no name stays as it is.
func nameActors(ctx context.Context, tx pgx.Tx, a profile.Audit, who ...*string) error {
	u := a.Actors
	if u == nil || len(who) == 0 {
		return nil
	}
	var ids []string
	for _, w := range who {
		if *w != "" {
			ids = append(ids, *w)
		}
	}
	if len(ids) == 0 {
		return nil
	}
	names := map[string]string{}
	err := savepoint(ctx, tx, func(tx pgx.Tx) error {
		rs, err := tx.Query(ctx, fmt.Sprintf(`SELECT %[1]s::text, %[2]s::text FROM %[3]s WHERE %[1]s::text = ANY($1)`,
			profile.Col("", u.ID), profile.Col("", u.Name), profile.Ident(u.Table)), ids)
		if err != nil {
			return err
		}
		defer rs.Close()
		for rs.Next() {
			var id, name string
			if err := rs.Scan(&id, &name); err != nil {
				return err
			}
			names[id] = name
		}
		return rs.Err()
	})
	for _, w := range who {
		if n, ok := names[*w]; ok && n != "" {
			*w = n
		}
	}
	return err
}

// lostActors are the actor fields of lost updates.
func lostActors(lost []LostUpdate) []*string {
	var out []*string
	for i := range lost {
		out = append(out, &lost[i].LostBy, &lost[i].By)
	}
	return out
}
