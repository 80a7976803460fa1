// Package profile owns the application profile: every name of the team's
// Django application that steady reads or writes — for each role (the
// clinician, the shift, the audit trail, the stored summary) its table and
// the column of every field steady uses, the status values that count as
// worked, the constraints the models declare, the cache's key layout, the
// Celery task that recalculates, and the application's own calculator.
//
// Probes and actions know roles, never names: they ask the profile. The
// profile is learnt from the Django project (package discover, `steady
// init`) and kept in steady.yaml; its defaults are steady's example
// application, the one its tests and drills build.
package profile

import (
	"fmt"
	"slices"
	"strings"
)

// Profile is what steady knows of one Django application.
type Profile struct {
	// Source says how the profile was made: SourceDjango (discovered
	// through manage.py), SourceCatalog (guessed from the database
	// catalog because Django could not start), SourceExample (the
	// defaults: steady's example application) or SourceHand (written or
	// corrected by hand).
	Source string `yaml:"source"`
	// Learned is when it was discovered (RFC 3339), Project the settings
	// module it was discovered with, State the migration state it was
	// discovered at (a digest of the applied or known migrations).
	Learned string `yaml:"learned,omitempty"`
	Project string `yaml:"project,omitempty"`
	State   string `yaml:"state,omitempty"`
	// Guessed lists what was mapped by name alone ("shift.worked",
	// "audit", "cache.worked_key"): worth a look before trusting it.
	Guessed []string `yaml:"guessed,omitempty"`

	Clinician   Clinician    `yaml:"clinician"`
	Shift       Shift        `yaml:"shift"`
	Audit       Audit        `yaml:"audit"`
	Summary     Summary      `yaml:"summary"`
	Constraints []Constraint `yaml:"constraints"`
	Cache       Cache        `yaml:"cache"`
	Celery      Celery       `yaml:"celery"`
	Calculator  Calculator   `yaml:"calculator"`
}

// Profile sources.
const (
	SourceDjango  = "django"
	SourceCatalog = "catalog"
	SourceExample = "example"
	SourceHand    = "hand"
)

// Roles, as profile keys and in messages.
const (
	RoleClinician = "clinician"
	RoleShift     = "shift"
	RoleAudit     = "audit"
	RoleSummary   = "summary"
)

// Clinician is the person whose shifts are counted.
type Clinician struct {
	// Model is the Django model ("app_label.Model"), for messages.
	Model string `yaml:"model,omitempty"`
	Table string `yaml:"table"`
	// ID is the primary key column.
	ID string `yaml:"id"`
	// Contracted is the column of shifts owed per calendar month; empty
	// when the application has none (deficiencies are then not checked).
	Contracted string `yaml:"contracted,omitempty"`
}

// Shift is one scheduled or worked shift.
type Shift struct {
	Model string `yaml:"model,omitempty"`
	Table string `yaml:"table"`
	ID    string `yaml:"id"`
	// Clinician is the foreign-key column to the clinician.
	Clinician string `yaml:"clinician"`
	Date      string `yaml:"date"`
	// Type is the kind of shift (day, night, ...): part of the
	// one-shift-per-day check; optional.
	Type string `yaml:"type,omitempty"`
	// Duration is the length of the shift; optional.
	Duration string `yaml:"duration,omitempty"`
	Status   string `yaml:"status"`
	// Worked lists the status values that count as worked; Cancelled
	// those that mean the shift was called off (never worked).
	Worked    []string `yaml:"worked"`
	Cancelled []string `yaml:"cancelled,omitempty"`
	// PositiveDuration: a worked shift also needs a duration above zero.
	PositiveDuration bool `yaml:"positive_duration"`
	// Rule says where Worked and PositiveDuration were read from: the
	// application's own calculator, the status choices' names, or by hand.
	Rule string `yaml:"rule,omitempty"`
}

// Audit kinds.
const (
	// AuditLog is one table for the writes of many models: an entity
	// type and id, an action, a timestamp, an actor and a change payload.
	AuditLog = "log"
	// AuditHistory is django-simple-history: one historical table per
	// model holding the full row after each save.
	AuditHistory = "history"
)

// Audit is where the application records who changed a shift and when.
type Audit struct {
	Kind  string `yaml:"kind"`
	Model string `yaml:"model,omitempty"`
	Table string `yaml:"table"`
	// EntityType is the column naming the model written (log only), and
	// Entity its value for shifts ("Shift").
	EntityType string `yaml:"entity_type,omitempty"`
	Entity     string `yaml:"entity,omitempty"`
	// EntityID is the column holding the shift's id.
	EntityID string `yaml:"entity_id"`
	// Action is the column saying what was done, with its values.
	Action  string       `yaml:"action"`
	Actions AuditActions `yaml:"actions"`
	// Timestamp is the column of when.
	Timestamp string `yaml:"timestamp"`
	// Actor is the column of who; optional.
	Actor string `yaml:"actor,omitempty"`
	// Actors, when the actor column holds an id (a foreign key to the user
	// model), is where people's names are read: messages name alice, not 2.
	Actors *Actors `yaml:"actors,omitempty"`
	// Changes is the column of the change payload (log only), and Shape
	// what it holds: ShapeDiff, ShapeValues or, for history tables,
	// ShapeSnapshot (the row itself).
	Changes string `yaml:"changes,omitempty"`
	Shape   string `yaml:"shape,omitempty"`
}

// Actors is the table the audit trail's actor ids point at.
type Actors struct {
	Model string `yaml:"model,omitempty"`
	Table string `yaml:"table"`
	// ID is the key the actor column holds; Name the column people are
	// known by (the user model's USERNAME_FIELD, as a rule).
	ID   string `yaml:"id"`
	Name string `yaml:"name"`
}

// AuditActions are the values of the action column.
type AuditActions struct {
	Create string `yaml:"create"`
	Update string `yaml:"update"`
	Delete string `yaml:"delete,omitempty"`
}

// Change payload shapes.
const (
	ShapeDiff     = "diff"     // {field: [old, new]}
	ShapeValues   = "values"   // {field: value}
	ShapeSnapshot = "snapshot" // the row's own columns (django-simple-history)
)

// Summary is a stored figure per clinician and period.
type Summary struct {
	Model       string `yaml:"model,omitempty"`
	Table       string `yaml:"table"`
	ID          string `yaml:"id"`
	Clinician   string `yaml:"clinician"`
	PeriodStart string `yaml:"period_start"`
	PeriodEnd   string `yaml:"period_end"`
	// Worked is the column of the stored worked-shift count; Deficiency
	// the stored max(contracted − worked, 0), optional.
	Worked     string `yaml:"worked"`
	Deficiency string `yaml:"deficiency,omitempty"`
}

// Constraint kinds.
const (
	Check  = "check"
	Unique = "unique"
)

// Constraint is an integrity rule a model declares.
type Constraint struct {
	// Role is the table's role; empty for a model that plays none.
	Role  string `yaml:"role,omitempty"`
	Model string `yaml:"model,omitempty"`
	Table string `yaml:"table"`
	// Name is the constraint's name; empty when Django names it itself
	// (unique_together), which is then matched by its columns.
	Name    string   `yaml:"name,omitempty"`
	Kind    string   `yaml:"kind"`
	Columns []string `yaml:"columns"`
	// Check is the condition of a CHECK, as SQL (the SQL Django generates).
	Check string `yaml:"check,omitempty"`
	// Migration is the migration that creates it ("app.name"), when known.
	Migration string `yaml:"migration,omitempty"`
}

// Definition is the constraint as words: CHECK (cond) or UNIQUE (cols).
func (c Constraint) Definition() string {
	if c.Kind == Check {
		return "CHECK (" + c.Check + ")"
	}
	return "UNIQUE (" + strings.Join(c.Columns, ", ") + ")"
}

// Label names the constraint in messages: its name, or its definition
// when Django names it.
func (c Constraint) Label() string {
	if c.Name != "" {
		return c.Name
	}
	return c.Definition()
}

// Cache is the application's django-redis cache.
type Cache struct {
	Backend string `yaml:"backend,omitempty"`
	// Location is the cache's LOCATION with any password redacted, and DB
	// its database number: what the application uses, for comparing with
	// the Redis steady is given.
	Location string `yaml:"location,omitempty"`
	DB       int    `yaml:"db"`
	// KeyPrefix and Version are CACHES' KEY_PREFIX and VERSION: django-redis
	// stores key k as prefix:version:k.
	KeyPrefix string `yaml:"key_prefix"`
	Version   int    `yaml:"version"`
	// CustomKeyFunction is set when CACHES has a KEY_FUNCTION: keys are
	// then not prefix:version:key and steady cannot build them.
	CustomKeyFunction bool `yaml:"custom_key_function,omitempty"`
	// WorkedKey is the key of a cached worked-shift count before prefix
	// and version, with {clinician}, {from} and {to} (YYYY-MM-DD).
	WorkedKey string `yaml:"worked_key,omitempty"`
	// Patterns are SCAN MATCH patterns of the application's keys as
	// stored (flush-cache deletes these); empty means the one WorkedKey
	// gives.
	Patterns []string `yaml:"patterns,omitempty"`
}

// Celery is the application's Celery app.
type Celery struct {
	// App is the Celery app's main name; Broker and Results its broker and
	// result backend (passwords redacted), for comparing with steady's.
	App     string `yaml:"app,omitempty"`
	Broker  string `yaml:"broker,omitempty"`
	Results string `yaml:"results,omitempty"`
	// Queue is the default queue.
	Queue string `yaml:"queue"`
	// Recalculate is the task that recomputes one clinician's figures.
	Recalculate Task `yaml:"recalculate"`
}

// Task is a registered Celery task.
type Task struct {
	Name string `yaml:"name"`
	// Queue is where it is routed; empty means Celery.Queue.
	Queue string `yaml:"queue,omitempty"`
	// Params are the task's parameter names for the clinician, the first
	// and the last day, in that order; steady passes them by name. Empty
	// means by position (clinician, from, to).
	Params []string `yaml:"params,omitempty"`
}

// Calculator is the application's own code for the worked-shift figure:
// a callable f(clinician, first_day, last_day) returning an int.
type Calculator struct {
	// Import is the module to import; Call the expression, evaluated
	// after `import <Import>`, giving the callable (for example
	// "calculations.shift_counter.ShiftCounter().count_worked_shifts").
	Import string `yaml:"import,omitempty"`
	Call   string `yaml:"call,omitempty"`
	// Clinician says what the first argument is: "model" (the model
	// instance, fetched by primary key) or "id".
	Clinician string `yaml:"clinician,omitempty"`
}

// Clinician argument kinds of a Calculator.
const (
	PassModel = "model"
	PassID    = "id"
)

// QueueOf returns the queue the recalculation task goes to.
func (c Celery) QueueOf() string {
	if c.Recalculate.Queue != "" {
		return c.Recalculate.Queue
	}
	return c.Queue
}

// IsGuessed reports whether key (a role, or role.field) or the role it
// belongs to was mapped by name alone.
func (p *Profile) IsGuessed(key string) bool {
	role, _, _ := strings.Cut(key, ".")
	return slices.Contains(p.Guessed, key) || slices.Contains(p.Guessed, role)
}

// EntityWord names a shift in messages the way the application does: the
// audit log's entity type, else the shift model's name.
func (p *Profile) EntityWord() string {
	if p.Audit.Entity != "" {
		return p.Audit.Entity
	}
	if _, name, ok := strings.Cut(p.Shift.Model, "."); ok {
		return name
	}
	return "shift"
}

// Origin says in a few words where the profile came from, for messages.
func (p *Profile) Origin() string {
	switch p.Source {
	case SourceDjango:
		s := "discovered from Django"
		if p.Project != "" {
			s += " (" + p.Project + ")"
		}
		return s
	case SourceCatalog:
		return "guessed from the database catalog (Django could not start)"
	case SourceExample:
		return "steady's example application (no profile given)"
	case SourceHand, "":
		return "steady.yaml"
	}
	return p.Source
}

// Column is one column the profile names: its role, field and name.
type Column struct {
	Role, Field, Name string
	// Required columns must exist for the role's probes to run.
	Required bool
}

// Columns lists the columns the profile names for role's table.
func (p *Profile) Columns(role string) []Column {
	col := func(field, name string, required bool) Column {
		return Column{Role: role, Field: field, Name: name, Required: required}
	}
	var out []Column
	add := func(c Column) {
		if c.Name != "" {
			out = append(out, c)
		}
	}
	switch role {
	case RoleClinician:
		c := p.Clinician
		add(col("id", c.ID, true))
		add(col("contracted", c.Contracted, false))
	case RoleShift:
		s := p.Shift
		for _, c := range []Column{col("id", s.ID, true), col("clinician", s.Clinician, true), col("date", s.Date, true),
			col("type", s.Type, false), col("duration", s.Duration, false), col("status", s.Status, true)} {
			add(c)
		}
	case RoleAudit:
		a := p.Audit
		for _, c := range []Column{col("entity_type", a.EntityType, true), col("entity_id", a.EntityID, true), col("action", a.Action, true),
			col("timestamp", a.Timestamp, true), col("actor", a.Actor, false), col("changes", a.Changes, false)} {
			add(c)
		}
		if a.Kind == AuditHistory {
			// A history table repeats the shift's columns.
			add(col("status", p.Shift.Status, false))
			add(col("duration", p.Shift.Duration, false))
		}
	case RoleSummary:
		s := p.Summary
		for _, c := range []Column{col("id", s.ID, true), col("clinician", s.Clinician, true), col("period_start", s.PeriodStart, true),
			col("period_end", s.PeriodEnd, true), col("worked", s.Worked, true), col("deficiency", s.Deficiency, false)} {
			add(c)
		}
	}
	return out
}

// Table returns the table of role ("" when the profile has none).
func (p *Profile) Table(role string) string {
	switch role {
	case RoleClinician:
		return p.Clinician.Table
	case RoleShift:
		return p.Shift.Table
	case RoleAudit:
		return p.Audit.Table
	case RoleSummary:
		return p.Summary.Table
	}
	return ""
}

// Roles are the table roles, in the order discovery maps them.
var Roles = []string{RoleClinician, RoleShift, RoleAudit, RoleSummary}

// Validate reports what cannot work, each naming its key under profile.
func (p *Profile) Validate() []string {
	v := &profileErrors{}
	p.validateShift(v)
	p.validateAudit(v)
	if p.Summary.Table != "" {
		v.need("summary.clinician", p.Summary.Clinician)
		v.need("summary.period_start", p.Summary.PeriodStart)
		v.need("summary.period_end", p.Summary.PeriodEnd)
		v.need("summary.worked", p.Summary.Worked)
	}
	for i, c := range p.Constraints {
		switch {
		case c.Kind != Check && c.Kind != Unique:
			v.add("profile.constraints[%d]: kind must be %s or %s, not %q", i, Check, Unique, c.Kind)
		case c.Kind == Check && c.Check == "":
			v.add("profile.constraints[%d] (%s): a check needs its condition", i, c.Name)
		case c.Kind == Unique && len(c.Columns) == 0:
			v.add("profile.constraints[%d] (%s): a unique constraint needs its columns", i, c.Name)
		}
	}
	if k := p.Cache.WorkedKey; k != "" {
		for _, ph := range []string{"{clinician}", "{from}", "{to}"} {
			if !strings.Contains(k, ph) {
				v.add("profile.cache.worked_key %q lacks %s", k, ph)
			}
		}
	}
	if c := p.Calculator; c.Call != "" && c.Clinician != PassModel && c.Clinician != PassID {
		v.add("profile.calculator.clinician must be %s or %s, not %q", PassModel, PassID, c.Clinician)
	}
	if n := len(p.Celery.Recalculate.Params); n != 0 && n != 3 {
		v.add("profile.celery.recalculate.params names %d parameters; give three (clinician, first day, last day) or none", n)
	}
	return v.errs
}

// profileErrors gathers what is wrong with a profile.
type profileErrors struct{ errs []string }

// need says a key is empty when it is.
func (v *profileErrors) need(key, value string) {
	if strings.TrimSpace(value) == "" {
		v.errs = append(v.errs, "profile."+key+" is empty")
	}
}

func (v *profileErrors) add(format string, args ...any) {
	v.errs = append(v.errs, fmt.Sprintf(format, args...))
}

// validateShift checks the shift model's columns and the rule.
func (p *Profile) validateShift(v *profileErrors) {
	if p.Shift.Table == "" {
		return
	}
	v.need("shift.clinician", p.Shift.Clinician)
	v.need("shift.date", p.Shift.Date)
	v.need("shift.status", p.Shift.Status)
	if len(p.Shift.Worked) == 0 {
		v.errs = append(v.errs, "profile.shift.worked lists no status value: nothing would count as worked")
	}
	if p.Shift.PositiveDuration && p.Shift.Duration == "" {
		v.errs = append(v.errs, "profile.shift.positive_duration needs profile.shift.duration")
	}
}

// validateAudit checks the audit trail's kind and columns.
func (p *Profile) validateAudit(v *profileErrors) {
	a := p.Audit
	if a.Table == "" {
		return
	}
	switch a.Kind {
	case AuditLog:
		v.need("audit.entity_type", a.EntityType)
	case AuditHistory:
	default:
		v.add("profile.audit.kind must be %s or %s, not %q", AuditLog, AuditHistory, a.Kind)
	}
	v.need("audit.entity_id", a.EntityID)
	v.need("audit.action", a.Action)
	v.need("audit.timestamp", a.Timestamp)
	if u := a.Actors; u != nil {
		v.need("audit.actors.table", u.Table)
		v.need("audit.actors.id", u.ID)
		v.need("audit.actors.name", u.Name)
	}
}
