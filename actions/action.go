package actions

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"steady/internal/registry"
	"steady/internal/target"
	"steady/probes"
)

// Risk is how much harm an action can do.
type Risk string

// Risk levels.
const (
	Low    Risk = "low"    // reads, or writes nothing the application relies on (check, backup)
	Medium Risk = "medium" // changes state that can be rebuilt (recalculate)
	High   Risk = "high"   // changes schema or drops data (migrate, flush-cache, restart)
)

// StepKind says what a plan step is.
type StepKind string

// Step kinds.
const (
	StepCommand StepKind = "command" // a shell command line, run with sh -c
	StepSQL     StepKind = "sql"     // a SQL statement
	StepRedis   StepKind = "redis"   // a Redis operation
	StepTask    StepKind = "task"    // a Celery task to enqueue
	StepProbe   StepKind = "probe"   // a probe re-run as a check afterwards
)

// Step is one thing a plan will do, shown exactly as it will be done.
type Step struct {
	Kind StepKind `json:"kind"`
	// Text is what is shown and what is executed (a command line, a SQL
	// statement, a Redis command with its pattern).
	Text string `json:"text"`
	// Note explains the step when its text alone is not clear.
	Note string `json:"note,omitempty"`
}

// Precondition is something that must hold before an action may run.
type Precondition struct {
	Name   string `json:"name"`
	Holds  bool   `json:"holds"`
	Detail string `json:"detail"`
	// Overridable preconditions may be waived by an operator with a
	// written reason, which the journal keeps.
	Overridable bool `json:"overridable,omitempty"`
}

// Plan is everything an operator needs to decide, and everything Execute
// will do.
type Plan struct {
	Action  string `json:"action"`
	Title   string `json:"title"`
	Summary string `json:"summary"`
	Risk    Risk   `json:"risk"`
	// Destructive plans need the confirm phrase typed.
	Destructive bool `json:"destructive"`
	// ConfirmPhrase is what the operator must type (the database or Redis
	// name, or an acceptance sentence for data loss).
	ConfirmPhrase string         `json:"confirm_phrase,omitempty"`
	Steps         []Step         `json:"steps"`
	Preconditions []Precondition `json:"preconditions,omitempty"`
	// Warnings are said before confirmation (e.g. keys that would be lost).
	Warnings []string `json:"warnings,omitempty"`
	// Facts are figures the plan was made from (key counts, sizes).
	Facts map[string]string `json:"facts,omitempty"`
	// Basis are the facts the decision rests on (the backup that satisfies
	// the guard, the migrations to apply, what of Celery's a flush would
	// drop, the scopes to recalculate): if one differs when the plan is
	// made again just before it runs, the plan is stale and is made anew
	// for the operator to confirm again. Figures that move all the time
	// (the keys of a live cache) are Facts, not Basis.
	Basis map[string]string `json:"basis,omitempty"`
	// Params are the parameters the plan was made with.
	Params map[string]string `json:"params,omitempty"`
	// Payload is what Execute reads back of the plan: the action's own typed
	// parameters, JSON-encoded (see setPayload). Plans journaled before it
	// existed carry them in Facts, which each action still reads.
	Payload json.RawMessage `json:"payload,omitempty"`
	// Scopes are the clinicians and periods a recalculation covers.
	Scopes []probes.Scope `json:"scopes,omitempty"`
	// Repairs are the lost values a repair restores, each with the value
	// its row holds now (the repair runs only while it still does).
	Repairs []probes.LostUpdate `json:"repairs,omitempty"`
	// Alternatives are the other ways the action could do this, with
	// their estimates (backup: each mode), chosen with the parameter each
	// names.
	Alternatives []Alternative `json:"alternatives,omitempty"`
	// Recheck lists probes to run again after the action.
	Recheck []string `json:"recheck,omitempty"`
	// Deferred is set when the action hands its work to others and does
	// not wait for it (tasks enqueued, results not followed): when it
	// ends, the fix has not happened yet, so nothing is re-checked or
	// verified then.
	Deferred bool      `json:"deferred,omitempty"`
	Created  time.Time `json:"created_at"`
}

// rests records a fact the plan's decision rests on.
func (p *Plan) rests(key, value string) {
	if p.Basis == nil {
		p.Basis = map[string]string{}
	}
	p.Basis[key] = value
}

// Changes says what differs between a plan and the same plan made again:
// its basis, which preconditions hold, the confirm phrase. Empty means the
// old plan still stands.
func Changes(old, now *Plan) []string {
	var out []string
	keys := map[string]bool{}
	for k := range old.Basis {
		keys[k] = true
	}
	for k := range now.Basis {
		keys[k] = true
	}
	sorted := make([]string, 0, len(keys))
	for k := range keys {
		sorted = append(sorted, k)
	}
	sort.Strings(sorted)
	for _, k := range sorted {
		if a, b := old.Basis[k], now.Basis[k]; a != b {
			out = append(out, fmt.Sprintf("%s: %s → %s", k, orNone(a), orNone(b)))
		}
	}
	holds := map[string]bool{}
	for _, c := range old.Preconditions {
		holds[c.Name] = c.Holds
	}
	for _, c := range now.Preconditions {
		was, known := holds[c.Name]
		switch {
		case !known && !c.Holds:
			out = append(out, "✗ "+c.Name+": "+c.Detail)
		case known && was != c.Holds && c.Holds:
			out = append(out, "✓ "+c.Name+" now holds: "+c.Detail)
		case known && was != c.Holds:
			out = append(out, "✗ "+c.Name+" no longer holds: "+c.Detail)
		}
	}
	if old.Destructive != now.Destructive || old.ConfirmPhrase != now.ConfirmPhrase {
		out = append(out, fmt.Sprintf("confirm phrase: %s → %s", orNone(old.ConfirmPhrase), orNone(now.ConfirmPhrase)))
	}
	return out
}

// Blocked returns the preconditions that do not hold.
func (p *Plan) Blocked() []Precondition {
	var out []Precondition
	for _, c := range p.Preconditions {
		if !c.Holds {
			out = append(out, c)
		}
	}
	return out
}

// OutcomeStatus is how an action ended.
type OutcomeStatus string

// Outcome statuses.
const (
	Succeeded OutcomeStatus = "succeeded"
	Failed    OutcomeStatus = "failed"
	Cancelled OutcomeStatus = "cancelled"
	Refused   OutcomeStatus = "refused" // a guard stopped it before anything ran
	// OutcomeUnknown is set on resume for an action that was running when
	// the process died.
	OutcomeUnknown OutcomeStatus = "unknown"
)

// Outcome is what an execution did.
type Outcome struct {
	Status   OutcomeStatus `json:"status"`
	Summary  string        `json:"summary"`
	ExitCode int           `json:"exit_code"`
	Duration time.Duration `json:"duration_ns"`
	Error    string        `json:"error,omitempty"`
	// Artefacts are named results: a backup's path, size and sha256;
	// task ids; key counts.
	Artefacts map[string]string `json:"artefacts,omitempty"`
}

// StreamSteady is the output stream of steady's own narration (the
// command about to run, its process group), beside stdout and stderr.
const StreamSteady = "steady"

// Output receives what an action produces while it runs. Implementations
// must be safe for use from one goroutine at a time.
type Output interface {
	// Line is one line of output ("stdout", "stderr" or "steady" for
	// steady's own narration).
	Line(stream, text string)
	// Progress reports done of total units (tasks, keys), with a label.
	Progress(done, total int, label string)
}

// BatchOutput is an Output that can record many lines of one moment as
// one: the thousands of "enqueued" lines of a large recalculation are one
// journal event, not thousands of synced writes.
type BatchOutput interface {
	Output
	Lines(stream string, texts []string)
}

// maxShownItems is how many items of a listed artefact (task ids) are
// shown; the journal keeps them all.
const maxShownItems = 10

// ArtefactLines returns the outcome's artefacts as "name: value" lines in
// name order, a long comma-separated list shortened to its first items
// and how many more the journal holds.
func (o Outcome) ArtefactLines() []string {
	keys := make([]string, 0, len(o.Artefacts))
	for k := range o.Artefacts {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	lines := make([]string, len(keys))
	for i, k := range keys {
		v := o.Artefacts[k]
		if items := strings.Split(v, ","); len(items) > maxShownItems {
			v = fmt.Sprintf("%s … (%d more, %d in all, in the journal)", strings.Join(items[:maxShownItems], ","), len(items)-maxShownItems, len(items))
		}
		lines[i] = k + ": " + v
	}
	return lines
}

// Backup is a verified backup taken in this session.
type Backup struct {
	Database string
	// Method is how it was taken: pg_dump, scoped, dumpdata,
	// restore_point or pgbackrest.
	Method string
	// Path is the file (or directory) of a dump; empty for a restore point
	// or a pgBackRest backup, which Label names instead.
	Path   string
	Label  string
	SHA256 string
	Size   int64
	At     time.Time
	// Format is a dump's format: custom, directory or json.
	Format string
	// Migrations are what a scoped backup covers: the migrations whose
	// tables it holds. Empty for a backup of the whole database.
	Migrations []string
	// Tables are the tables a scoped backup holds (schema.name).
	Tables []string
	// SourceBytes is how much of the database the backup read, and Took
	// how long it took: the throughput the next plan estimates with.
	SourceBytes int64
	Took        time.Duration
}

// Scoped reports whether the backup holds only some tables.
func (b Backup) Scoped() bool { return b.Method == modeScoped }

// Covers reports whether the backup protects what the given migrations
// alter: a backup of the whole database (or cluster) covers any; a scoped
// one only migrations it was taken for.
func (b Backup) Covers(migrations []string) bool {
	if !b.Scoped() {
		return true
	}
	for _, m := range migrations {
		if !slices.Contains(b.Migrations, m) {
			return false
		}
	}
	return true
}

// History is what the session knows that guards depend on.
type History interface {
	// VerifiedBackups returns the verified backups of database taken in
	// this session.
	VerifiedBackups(database string) []Backup
	// LastResult returns the latest result of a probe, or nil.
	LastResult(probe string) *probes.Result
	// Orphans returns the process groups of commands that actions whose
	// outcome is unknown (steady died while they ran) started on this
	// host and that are still alive.
	Orphans() []Orphan
}

// Orphan is a command an earlier steady started and did not see end.
type Orphan struct {
	Action string
	PGID   int
}

// Env is what an action needs besides its plan.
type Env struct {
	Target  *target.Target
	History History
	// Probes runs the probes the action consults (see ProbeRunner).
	Probes ProbeRunner
	// Operator is who runs the action (for lock holders and messages).
	Operator string
	// Override waives overridable preconditions; it is the operator's
	// written reason, journaled with the confirmation. Empty: no override.
	Override string
	// Incident and Run name the incident and the run the plan is made
	// for (a restore point is named after them); empty outside a session.
	Incident string
	Run      string
}

// Action is one fix.
type Action interface {
	ID() string
	Title() string
	// Params declares parameters (mode, scope) the action takes.
	Params() []probes.Param
	// Plan inspects the systems (read-only) and says exactly what Execute
	// would do and whether it may.
	Plan(ctx context.Context, env *Env, params map[string]string) (*Plan, error)
	// Execute carries out plan, and only plan. It re-checks the
	// preconditions, streams to out, honours ctx (cancellation stops
	// child processes: SIGINT to the group, then SIGKILL), and reports
	// the outcome rather than returning an error.
	Execute(ctx context.Context, env *Env, plan *Plan, out Output) Outcome
}

var all = registry.New[Action]("actions")

// Register adds an action; a duplicate id panics (a programming error).
func Register(a Action) { all.Register(a) }

// Get returns the action with the given id.
func Get(id string) (Action, bool) { return all.Get(id) }

// IDs returns the registered action ids, sorted.
func IDs() []string { return all.IDs() }

// ErrConfirmation is returned by Confirm when the phrase does not match.
type ErrConfirmation struct{ Want string }

func (e *ErrConfirmation) Error() string {
	return fmt.Sprintf("confirmation does not match: type %q exactly", e.Want)
}

// Confirm checks a typed phrase against a plan: destructive plans need it
// exactly (surrounding spaces ignored); others need nothing.
func Confirm(p *Plan, typed string) error {
	if !p.Destructive || p.ConfirmPhrase == "" {
		return nil
	}
	if strings.TrimSpace(typed) != p.ConfirmPhrase {
		return &ErrConfirmation{Want: p.ConfirmPhrase}
	}
	return nil
}

// RefusedBy returns an outcome that names the preconditions stopping a
// plan, or nil when it may run (overridable ones are waived when env
// carries an override).
func RefusedBy(p *Plan, env *Env) *Outcome {
	var reasons []string
	for _, c := range p.Blocked() {
		if c.Overridable && env.Override != "" {
			continue
		}
		reasons = append(reasons, c.Name+": "+c.Detail)
	}
	if len(reasons) == 0 {
		return nil
	}
	return &Outcome{Status: Refused, ExitCode: -1, Summary: "refused: " + strings.Join(reasons, "; ")}
}

// Artefact keys an outcome uses to describe a backup; the session reads
// them to decide whether migrate's precondition holds.
const (
	ArtefactKind     = "kind"     // "backup" for a backup
	ArtefactDatabase = "database" // the database backed up
	ArtefactPath     = "path"
	ArtefactSHA256   = "sha256"
	ArtefactSize     = "size"     // bytes
	ArtefactVerified = "verified" // "true" once the backup was read back
	// ArtefactMethod says how: pg_dump, scoped, dumpdata, restore_point or
	// pgbackrest; absent on backups older than the key (pg_dump).
	ArtefactMethod = "method"
	// ArtefactLabel names a restore point or a pgBackRest backup.
	ArtefactLabel  = "label"
	ArtefactFormat = "format" // custom, directory or json
	// ArtefactTables and ArtefactMigrations list (comma-separated) what a
	// scoped backup holds and the migrations it covers.
	ArtefactTables     = "tables"
	ArtefactMigrations = "migrations"
	// ArtefactSourceBytes is how much of the database the backup read.
	ArtefactSourceBytes = "source_bytes"
)

// Alternative is another way an action could do its work, with what it
// would cost, for the operator to choose instead (backup's modes).
type Alternative struct {
	// Param is how to choose it, e.g. "mode=pg_dump".
	Param string `json:"param"`
	// Estimate is how long it would take, or why it is not available.
	Estimate string `json:"estimate"`
	// Detail says what it would do.
	Detail string `json:"detail,omitempty"`
	// Available is false when a precondition of it fails now.
	Available bool `json:"available"`
	// Chosen marks the one this plan carries out.
	Chosen bool `json:"chosen,omitempty"`
}
