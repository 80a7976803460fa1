package actions

import (
	"context"
	_ "embed"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"steady/internal/config"
	"steady/internal/django"
	"steady/internal/duration"
	"steady/internal/plural"
	"steady/internal/profile"
	"steady/internal/target"
	"steady/probes"
)

// repairAction restores the values that races lost (probes.LostUpdate):
// each row whose field a stale save took back, and which still holds the
// value written back, gets the lost value again, all in one transaction.
// Through the application by default (actions.repair_mode: app): a script
// run by `<manage> shell` saves each row through its model with
// update_fields, so the application's own audit trail records the repair.
// Or by SQL (repair_mode: sql, or mode=sql): one UPDATE per row, each
// conditional on the value the plan saw; the before-image and the
// statements that undo it are journaled. Losses whose right value cannot
// be known (both writers set the field, or it changed since) are listed for
// a person, never guessed. A verified backup from this incident is the
// precondition; the affected figures are recalculated next (the runbook's
// following step), and the audit-concurrency probe is re-run.
type repairAction struct{}

func init() { Register(repairAction{}) }

//go:embed repair.py
var repairScript string

const (
	repairBegin = "<<<steady-repair-begin>>>"
	repairEnd   = "<<<steady-repair-end>>>"
	// repairMax bounds one repair: more is a bulk correction to review.
	repairMax = 500
)

// Repair modes.
const (
	repairApp = "app"
	repairSQL = "sql"
)

// StepRow is a value a repair sets through the application's model.
const StepRow StepKind = "row"

// ID implements Action.
func (repairAction) ID() string { return "repair-lost-updates" }

// Title implements Action.
func (repairAction) Title() string { return "Restore the values races lost" }

// Params implements Action.
func (repairAction) Params() []probes.Param {
	return []probes.Param{
		{Name: "since", Kind: "duration", Help: "how far back the audit trail is read (default audit.since)"},
		{Name: "window", Kind: "duration", Help: "writes of one record closer than this are concurrent (default audit.window)"},
		{Name: "mode", Kind: "string", Help: "app (through the manage command: the application's audit trail records the repair; default actions.repair_mode) or sql (UPDATEs, the before-image journaled for undo)"},
	}
}

// Plan implements Action.
func (r repairAction) Plan(ctx context.Context, env *Env, params map[string]string) (*Plan, error) {
	t := env.Target
	cfg := t.Config()
	pf := &cfg.Profile
	if cfg.DB == "" {
		return nil, &NotConfiguredError{Action: r.ID(), Key: "db", Why: "the lost values are read from the audit trail in the application's database", Example: "  --db postgres://app@db:5432/app (or DATABASE_URL)"}
	}
	if pf.Audit.Table == "" || pf.Shift.Table == "" {
		return nil, &NotConfiguredError{Action: r.ID(), Key: "profile.audit", Why: "lost values are read from the application's audit trail (`steady init` finds an audit-log model or django-simple-history)"}
	}
	mode, since, window, err := repairParams(cfg, params)
	if err != nil {
		return nil, err
	}
	manage, err := r.repairManage(env, mode)
	if err != nil {
		return nil, err
	}

	lost, err := lostUpdates(ctx, env, since, window)
	if err != nil {
		return nil, err
	}
	types, err := columnTypes(ctx, t, pf.Shift.Table)
	if err != nil {
		return nil, fmt.Errorf("read the columns of %s: %s", pf.Shift.Table, t.Scrubber.Scrub(err.Error()))
	}
	restore, human := sortLost(lost, types, pf.EntityWord(), pf.Shift.Table)
	if len(restore) == 0 {
		if len(human) > 0 {
			return nil, fmt.Errorf("no lost value can be restored from the audit trail; for a person to decide:\n  %s", strings.Join(human, "\n  "))
		}
		return nil, fmt.Errorf("no lost update in the audit trail of the last %s (writes of one record closer than %s, where a later one took back what the earlier set)", since, window)
	}
	if len(restore) > repairMax {
		return nil, fmt.Errorf("%d lost values: more than %d is a bulk correction to review and run by hand", len(restore), repairMax)
	}

	db := t.DBName()
	plan := &Plan{
		Action: r.ID(), Title: r.Title(), Risk: High, Destructive: true, ConfirmPhrase: db,
		Created: time.Now().UTC(), Params: copyParams(params), Recheck: []string{"audit-concurrency"},
		Facts:   map[string]string{factDatabase: db, "mode": mode, "since": since.String(), "window": window.String()},
		Repairs: restore,
	}
	plan.Summary = fmt.Sprintf("restore %s the races lost in %s, in one transaction, %s; then recalculate the affected figures",
		plural.Count(int64(len(restore)), "value", "values"), db, map[string]string{repairApp: "through the application's models", repairSQL: "by SQL"}[mode])
	for _, h := range human {
		plan.Warnings = append(plan.Warnings, "left for a person: "+h)
	}
	if mode == repairApp {
		plan.Steps = append(plan.Steps, appRepairSteps(manage, cfg.Django.Dir, pf.Shift.Model, restore)...)
	} else {
		steps, undo := sqlRepairSteps(pf.Shift, types, restore)
		plan.Steps = append(plan.Steps, steps...)
		plan.Facts["undo"] = undo
	}
	if err := plan.setPayload(repairPayload{Mode: mode, Undo: plan.Facts["undo"]}); err != nil {
		return nil, err
	}
	plan.Steps = append(plan.Steps, Step{Kind: StepProbe, Text: "audit-concurrency", Note: "re-run afterwards: the values restored?"})
	plan.Preconditions = []Precondition{repairBackup(env, db, pf.Shift.Table)}
	backup := "none"
	if plan.Preconditions[0].Holds {
		backup = plan.Preconditions[0].Detail
	}
	plan.rests("database", db)
	plan.rests("mode", mode)
	plan.rests("values to restore", repairsText(restore))
	plan.rests("verified backup", backup)
	return plan, nil
}

// repairParams are the mode (app unless configured or asked otherwise) and
// the audit range and window the lost updates are read over.
func repairParams(cfg *config.Config, params map[string]string) (mode string, since, window time.Duration, _ error) {
	mode = cfg.Actions.RepairMode
	if v := params["mode"]; v != "" {
		mode = v
	}
	if mode == "" {
		mode = repairApp
	}
	since, window = cfg.Audit.Since.D(), cfg.Audit.Window.D()
	for name, d := range map[string]*time.Duration{"since": &since, "window": &window} {
		if v := params[name]; v != "" {
			p, err := duration.Parse(v)
			if err != nil || p <= 0 {
				return "", 0, 0, fmt.Errorf("%s %q is not a duration (e.g. 1s, 7d)", name, v)
			}
			*d = p
		}
	}
	return mode, since, window, nil
}

// repairManage checks what the mode needs: in app mode, manage.py and the
// shift model, and returns the command running manage.py.
func (r repairAction) repairManage(env *Env, mode string) (string, error) {
	switch mode {
	case repairApp:
		m, err := needManage(env, r.ID(), "mode=app saves each row through the application's model (or use mode=sql)")
		if err != nil {
			return "", err
		}
		if env.Target.Config().Profile.Shift.Model == "" {
			return "", &NotConfiguredError{Action: r.ID(), Key: "profile.shift.model", Why: "mode=app saves through the model, which the profile must name (or use mode=sql)"}
		}
		return m, nil
	case repairSQL:
		return "", nil
	}
	return "", fmt.Errorf("mode %q is not app or sql", mode)
}

// sortLost parts the lost updates into those steady restores and those
// left for a person (described), leaving out those restored already.
func sortLost(lost []probes.LostUpdate, types map[string]string, entity, table string) (restore []probes.LostUpdate, human []string) {
	for _, l := range lost {
		switch {
		case l.State == probes.LostRestored:
		case !l.Restorable():
			human = append(human, l.Describe(entity))
		case types[l.Field] == "":
			l.Why = fmt.Sprintf("%s is not a column of %s: restore it by hand", l.Field, table)
			human = append(human, l.Describe(entity))
		default:
			restore = append(restore, l)
		}
	}
	return restore, human
}

// appRepairSteps are manage.py shell with steady's script, then each row
// it sets.
func appRepairSteps(manage, djangoDir, model string, restore []probes.LostUpdate) []Step {
	steps := []Step{{Kind: StepCommand, Text: target.Join(manage, "shell"),
		Note: inDir(djangoDir) + "; steady's script on standard input: in one transaction, each row below read with select_for_update, checked against the value shown, set, and saved with update_fields (that column only), so the application's own audit trail records the repair; one row that changed since rolls all back"}}
	for _, l := range restore {
		steps = append(steps, Step{Kind: StepRow, Text: fmt.Sprintf("%s %d: %s %s → %s", model, l.Entity, l.Field, l.Current, l.Lost),
			Note: lostNote(l)})
	}
	return steps
}

// sqlRepairSteps are one UPDATE per value, in one transaction, and the
// statements that undo them.
func sqlRepairSteps(sh profile.Shift, types map[string]string, restore []probes.LostUpdate) ([]Step, string) {
	var steps []Step
	var undo []string
	for i, l := range restore {
		st := Step{Kind: StepSQL, Text: restoreSQL(sh, l, types[l.Field], l.Current, l.Lost), Note: lostNote(l)}
		if i == 0 {
			st.Note = "in one transaction; a row that no longer holds the value shown stops it and nothing is changed. " + st.Note
		}
		steps = append(steps, st)
		undo = append(undo, restoreSQL(sh, l, types[l.Field], l.Lost, l.Current))
	}
	return steps, strings.Join(undo, ";\n") + ";"
}

// repairBackup holds when the incident has a verified backup that holds
// the table the repair writes: of the whole database, or scoped to tables
// that include it.
func repairBackup(env *Env, db, table string) Precondition {
	c := backupPrecondition(env, db, nil, false)
	if c.Holds || env.History == nil {
		return c
	}
	backups := env.History.VerifiedBackups(db)
	for i := len(backups) - 1; i >= 0; i-- {
		b := backups[i]
		for _, t := range b.Tables {
			if t == table || strings.HasSuffix(t, "."+table) {
				c.Holds, c.Detail = true, describeBackup(b)
				return c
			}
		}
	}
	if len(backups) > 0 {
		c.Detail = "no backup of this incident holds " + table + ": take one (the backup action, --mode pg_dump)"
	}
	return c
}

// lostUpdates runs the audit-concurrency probe over since and window and
// returns every value it found the races lost.
func lostUpdates(ctx context.Context, env *Env, since, window time.Duration) ([]probes.LostUpdate, error) {
	res := env.runProbe(ctx, "audit-concurrency", map[string]string{"since": since.String(), "window": window.String()})
	if res.Status == probes.Error || res.Status == probes.Skipped {
		why := res.Error
		if why == "" {
			why = res.Summary
		}
		return nil, fmt.Errorf("read the lost updates: the audit-concurrency probe: %s", env.Target.Scrubber.Scrub(why))
	}
	for _, f := range res.Findings {
		if f.Code == "audit.lost_unread" {
			return nil, fmt.Errorf("read the lost updates: %s", f.Message)
		}
	}
	return res.Lost, nil
}

// lostNote says where a lost value comes from.
func lostNote(l probes.LostUpdate) string {
	by := l.LostBy
	if by == "" {
		by = "an unnamed writer"
	}
	after := l.By
	if after == "" {
		after = "an unnamed writer"
	}
	return fmt.Sprintf("lost: written by %s at %s, taken back by %s's save %s later", by, l.LostAt.UTC().Format("2006-01-02 15:04:05.000 UTC"), after, l.At.Sub(l.LostAt).Round(time.Millisecond))
}

// repairsText lists the values a plan restores, for its basis.
func repairsText(ls []probes.LostUpdate) string {
	parts := make([]string, len(ls))
	for i, l := range ls {
		parts[i] = fmt.Sprintf("%d.%s %s→%s", l.Entity, l.Field, l.Current, l.Lost)
	}
	return strings.Join(parts, ", ")
}

// restoreSQL sets one row's column from one value to another, and only if
// it still holds the first.
func restoreSQL(sh profile.Shift, l probes.LostUpdate, typ string, from, to probes.Value) string {
	col := profile.Col("", l.Field)
	return fmt.Sprintf("UPDATE %s SET %s = %s WHERE %s = %d AND %s IS NOT DISTINCT FROM %s",
		profile.Ident(sh.Table), col, sqlValue(to, typ), profile.Col("", sh.ID), l.Entity, col, sqlValue(from, typ))
}

// sqlValue is a value as an SQL literal of the column's type.
func sqlValue(v probes.Value, typ string) string {
	if v.Null {
		return "NULL::" + typ
	}
	return profile.Literal(v.Text) + "::" + typ
}

// columnTypes returns the SQL type of each column of a table.
func columnTypes(ctx context.Context, t *target.Target, table string) (map[string]string, error) {
	out := map[string]string{}
	err := t.ReadOnly(ctx, func(ctx context.Context, tx pgx.Tx) error {
		rs, err := tx.Query(ctx, `SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute
WHERE attrelid = to_regclass($1) AND attnum > 0 AND NOT attisdropped`, table)
		if err != nil {
			return err
		}
		defer rs.Close()
		for rs.Next() {
			var name, typ string
			if err := rs.Scan(&name, &typ); err != nil {
				return err
			}
			out[name] = typ
		}
		return rs.Err()
	})
	return out, err
}

// Execute implements Action.
func (r repairAction) Execute(ctx context.Context, env *Env, plan *Plan, out Output) Outcome {
	started := time.Now()
	if len(plan.Repairs) == 0 {
		return Outcome{Status: Failed, ExitCode: -1, Summary: "the plan restores nothing: plan again"}
	}
	pl, err := repairPayloadOf(plan)
	if err != nil {
		return Outcome{Status: Failed, ExitCode: -1, Summary: "cannot read the plan; nothing was restored: plan again", Error: err.Error()}
	}
	var o Outcome
	if pl.Mode == repairSQL {
		o = r.bySQL(ctx, env, plan, pl.Undo, out)
	} else {
		o = r.byApp(ctx, env, plan, out)
	}
	o.Duration = time.Since(started)
	if o.Status == Succeeded {
		o.Summary += "; next: recalculate the affected figures"
	}
	return o
}

// bySQL runs the plan's UPDATEs in one transaction.
func (r repairAction) bySQL(ctx context.Context, env *Env, plan *Plan, undo string, out Output) Outcome {
	t := env.Target
	fail := func(summary string, err error) Outcome {
		o := Outcome{Status: Failed, ExitCode: 1, Summary: summary}
		if ctx.Err() != nil {
			o.Status, o.Summary = Cancelled, "cancelled; "+summary
		}
		if err != nil {
			o.Error = t.Scrubber.Scrub(err.Error())
		}
		return o
	}
	var stmts []string
	for _, s := range plan.Steps {
		if s.Kind == StepSQL {
			stmts = append(stmts, s.Text)
		}
	}
	if len(stmts) != len(plan.Repairs) {
		return fail("the plan's statements do not match its rows: plan again", nil)
	}
	pool, err := t.Postgres(ctx)
	if err != nil {
		return fail("cannot reach the database; nothing was restored", err)
	}
	tx, err := pool.Begin(ctx)
	if err != nil {
		return fail("cannot begin the transaction; nothing was restored", err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	cfg := t.Config()
	if _, err := tx.Exec(ctx, fmt.Sprintf("SET LOCAL lock_timeout = %d; SET LOCAL statement_timeout = %d",
		cfg.Probes.LockTimeout.D().Milliseconds(), cfg.Probes.StatementTimeout.D().Milliseconds())); err != nil {
		return fail("cannot set the timeouts; nothing was restored", err)
	}
	for i, s := range stmts {
		say(env, out, "%s", s)
		tag, err := tx.Exec(ctx, s)
		if err != nil {
			return fail(fmt.Sprintf("row %d of %d failed; rolled back, nothing was restored", i+1, len(stmts)), err)
		}
		if tag.RowsAffected() != 1 {
			l := plan.Repairs[i]
			return fail(fmt.Sprintf("%d.%s no longer holds %s (changed since the plan); rolled back, nothing was restored: plan again", l.Entity, l.Field, l.Current), nil)
		}
		out.Progress(i+1, len(stmts), "rows")
	}
	if err := tx.Commit(ctx); err != nil {
		return fail("the commit failed; nothing was restored", err)
	}
	return Outcome{Status: Succeeded, Summary: fmt.Sprintf("restored %s by SQL in one transaction", plural.Count(int64(len(stmts)), "value", "values")),
		Artefacts: map[string]string{"restored": strconv.Itoa(len(stmts)), "before": beforeImage(plan.Repairs), "undo": undo}}
}

// repairPayload is what Execute reads back of a repair plan.
type repairPayload struct {
	// Mode is app or sql.
	Mode string `json:"mode"`
	// Undo are the statements that put back what an SQL repair changed.
	Undo string `json:"undo,omitempty"`
}

// repairPayloadOf reads a repair plan's payload, or, for a plan journaled
// before payloads, its facts.
func repairPayloadOf(plan *Plan) (repairPayload, error) {
	return payloadOr(plan, func(f map[string]string) repairPayload {
		return repairPayload{Mode: f["mode"], Undo: f["undo"]}
	})
}

// beforeImage is what the rows held before the repair.
func beforeImage(ls []probes.LostUpdate) string {
	parts := make([]string, len(ls))
	for i, l := range ls {
		parts[i] = fmt.Sprintf("%d.%s=%s", l.Entity, l.Field, l.Current)
	}
	return strings.Join(parts, ", ")
}

// byApp runs the repair script through the manage command.
func (r repairAction) byApp(ctx context.Context, env *Env, plan *Plan, out Output) Outcome {
	t := env.Target
	cfg := t.Config()
	type row struct {
		PK      int64  `json:"pk"`
		Field   string `json:"field"`
		Current any    `json:"current"`
		Restore any    `json:"restore"`
	}
	val := func(v probes.Value) any {
		if v.Null {
			return nil
		}
		return v.Text
	}
	rows := make([]row, len(plan.Repairs))
	for i, l := range plan.Repairs {
		rows[i] = row{PK: l.Entity, Field: l.Field, Current: val(l.Current), Restore: val(l.Lost)}
	}
	conf, err := json.Marshal(map[string]any{"model": cfg.Profile.Shift.Model, "rows": rows,
		"reason": "steady repair-lost-updates: restoring values lost to concurrent writes"})
	if err != nil {
		return Outcome{Status: Failed, ExitCode: -1, Summary: "cannot write the repair's rows", Error: err.Error()}
	}
	script := strings.NewReplacer("@CONFIG@", base64.StdEncoding.EncodeToString(conf), "@BEGIN@", repairBegin, "@END@", repairEnd).Replace(repairScript)
	line := commandSteps(plan)
	if len(line) != 1 {
		return Outcome{Status: Failed, ExitCode: -1, Summary: "the plan has no manage command: plan again"}
	}
	manage, _ := strings.CutSuffix(line[0], " shell")
	say(env, out, "%s (restoring %s in one transaction)", line[0], plural.Count(int64(len(rows)), "value", "values"))
	body, err := django.Shell(ctx, django.ShellOptions{Manage: manage, Dir: cfg.Django.Dir, Timeout: cfg.Actions.CommandTimeout.D(), Grace: cfg.Actions.KillGrace.D()},
		script, repairBegin, repairEnd)
	if err != nil {
		o := Outcome{Status: Failed, ExitCode: 1, Summary: "the repair did not run; the transaction, if it began, was rolled back", Error: t.Scrubber.Scrub(err.Error())}
		var se *django.ShellError
		if errors.As(err, &se) && ctx.Err() != nil {
			o.Status = Cancelled
		}
		return o
	}
	var res struct {
		Error    string `json:"error"`
		Restored []struct {
			PK     int64  `json:"pk"`
			Field  string `json:"field"`
			Before string `json:"before"`
			After  string `json:"after"`
		} `json:"restored"`
	}
	if err := json.Unmarshal([]byte(body), &res); err != nil {
		return Outcome{Status: Failed, ExitCode: 1, Summary: "the repair script's answer is not JSON; look at the audit trail before trying again", Error: err.Error()}
	}
	if res.Error != "" {
		return Outcome{Status: Failed, ExitCode: 1, Summary: "rolled back, nothing was restored: " + t.Scrubber.Scrub(res.Error)}
	}
	for _, x := range res.Restored {
		say(env, out, "%s %d: %s %s → %s", cfg.Profile.Shift.Model, x.PK, x.Field, x.Before, x.After)
	}
	return Outcome{Status: Succeeded, Summary: fmt.Sprintf("restored %s through the application's models in one transaction (its audit trail records each)", plural.Count(int64(len(res.Restored)), "value", "values")),
		Artefacts: map[string]string{"restored": strconv.Itoa(len(res.Restored)), "before": beforeImage(plan.Repairs)}}
}
