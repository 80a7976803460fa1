package discover

import (
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"

	"steady/internal/profile"
)

// Mapping is one thing discovery set in the profile, and how it knew.
type Mapping struct {
	// Key is the profile key ("shift", "shift.status", "audit").
	Key   string
	Value string
	// How says where it came from: Django's metadata, the application's
	// calculator, a name, the catalog.
	How string
	// Guess is true when it was mapped by name alone.
	Guess bool
}

// Gap is something discovery could not map, with what to do about it.
type Gap struct {
	Key  string
	Hint string
}

// Choice is a role two or more candidates could play.
type Choice struct {
	Role    string
	Options []string
	// Picked indexes Options; Why says how.
	Picked int
	Why    string
}

// Report says what discovery mapped, what it could not, and what it chose.
type Report struct {
	// Source is profile.SourceDjango or profile.SourceCatalog.
	Source   string
	Mapped   []Mapping
	Gaps     []Gap
	Choices  []Choice
	Warnings []string
}

// Chooser picks one of several candidates for a role (the index into
// options). Nil picks the first, which is the documented order: for each
// role, the candidate with the strongest evidence, then by name.
type Chooser func(role string, options []string) int

// mapper carries a mapping in progress.
type mapper struct {
	f      *Facts
	p      profile.Profile
	r      *Report
	choose Chooser
}

func (m *mapper) set(key, value, how string, guess bool) {
	if value == "" {
		return
	}
	m.r.Mapped = append(m.r.Mapped, Mapping{Key: key, Value: value, How: how, Guess: guess})
	if guess && !slices.Contains(m.p.Guessed, key) {
		m.p.Guessed = append(m.p.Guessed, key)
	}
}

func (m *mapper) gap(key, hint string) { m.r.Gaps = append(m.r.Gaps, Gap{Key: key, Hint: hint}) }

// pick chooses among candidates (best first) and records the choice when
// there was one to make.
func (m *mapper) pick(role string, options []string) int {
	if len(options) < 2 {
		return 0
	}
	i, why := 0, "the first in the documented order (strongest evidence, then name)"
	if m.choose != nil {
		i, why = m.choose(role, options), "chosen"
		if i < 0 || i >= len(options) {
			i = 0
		}
	}
	m.r.Choices = append(m.r.Choices, Choice{Role: role, Options: options, Picked: i, Why: why})
	return i
}

// Map turns what the script read into a profile: the shift model (the
// table the application's calculator counts, else the dated model with a
// status that best fits by name), the clinician it points at, the audit
// trail (django-simple-history of the shift model first, then an audit-log
// model), the stored summary, the models' constraints with the migration
// creating each, the cache and its worked-count key, the Celery
// recalculation task and the calculator.
func Map(f *Facts, choose Chooser) (profile.Profile, *Report) {
	m := &mapper{f: f, r: &Report{Source: profile.SourceDjango, Warnings: append([]string{}, f.Warnings...)}, choose: choose}
	m.p.Source = profile.SourceDjango
	m.p.Project = f.Settings
	calc := m.calculator()
	shift := m.shift(calc)
	if shift != nil {
		clinician := m.clinician(shift)
		m.audit(shift)
		m.summary(shift, clinician)
	}
	m.constraints()
	m.cache()
	m.celery()
	if calc != nil {
		m.p.Calculator = profile.Calculator{Import: calc.Import, Call: calc.Call, Clinician: profile.PassID}
		if strings.HasPrefix(calc.Clinician, "model:") {
			m.p.Calculator.Clinician = profile.PassModel
		}
		m.set("calculator", calc.Call, "a function of the project named like a worked-shift count, which counted "+m.p.Shift.Table, false)
	} else {
		m.gap("calculator", "no function of the project counting worked shifts was found (one named like count_worked_shifts(clinician, start, end)); probes then use steady's SQL reading of the rule. Name yours in profile.calculator (import, call, clinician: id|model)")
	}
	return m.p, m.r
}

// calculator returns the calculator whose captured query says most.
func (m *mapper) calculator() *CalculatorFacts {
	if m.f.Code == nil {
		return nil
	}
	var good []*CalculatorFacts
	for i := range m.f.Code.Calculators {
		c := &m.f.Code.Calculators[i]
		if c.Error == "" && c.Query != nil && c.Query.Aggregate && c.Query.ClinicianColumn != "" && c.Query.DateColumn != "" {
			good = append(good, c)
		}
	}
	if len(good) == 0 {
		for _, c := range m.f.Code.Calculators {
			if c.Error != "" {
				m.r.Warnings = append(m.r.Warnings, fmt.Sprintf("calculator candidate %s: %s", c.Call, c.Error))
			}
		}
		return nil
	}
	sort.SliceStable(good, func(i, j int) bool { return score(good[i].Call, `count`) > score(good[j].Call, `count`) })
	opts := make([]string, len(good))
	for i, c := range good {
		opts[i] = fmt.Sprintf("%s (counts %s)", c.Call, c.Query.Table)
	}
	return good[m.pick("calculator", opts)]
}

func score(s, pattern string) int {
	if regexp.MustCompile(`(?i)` + pattern).MatchString(s) {
		return 1
	}
	return 0
}

var (
	shiftName      = regexp.MustCompile(`(?i)shift|dut(y|ies)|rota|roster|assignment|booking|slot|session|visit`)
	clinicianName  = regexp.MustCompile(`(?i)clinician|member|staff|person|people|employee|doctor|nurse|worker|user|physician|provider`)
	dateName       = regexp.MustCompile(`(?i)^(date|day|on|shift_date|work_date|starts_on)$`)
	statusName     = regexp.MustCompile(`(?i)^(status|state|stage|outcome)$`)
	typeName       = regexp.MustCompile(`(?i)^(type|kind|category|shift_type|slot)$`)
	durationName   = regexp.MustCompile(`(?i)duration|hours|length|minutes`)
	workedValue    = regexp.MustCompile(`(?i)complet|done|worked|attended|finished|verified|fulfil`)
	cancelledValue = regexp.MustCompile(`(?i)cancel|called.?off|void|abandon|withdr`)
	contractedName = regexp.MustCompile(`(?i)contract|quota|target|owed|expected|required|monthly`)
	summaryName    = regexp.MustCompile(`(?i)summar|tally|total|stat|balance|aggregate|figure`)
	startName      = regexp.MustCompile(`(?i)start|first|from|begin`)
	endName        = regexp.MustCompile(`(?i)end|last|until|(^|_)to$`)
	workedName     = regexp.MustCompile(`(?i)worked|count|shifts|duties|done`)
	deficiencyName = regexp.MustCompile(`(?i)deficien|shortfall|deficit|missing|short|owed|gap`)
)

func isNumber(t string) bool {
	switch t {
	case "DecimalField", "FloatField", "IntegerField", "PositiveIntegerField", "PositiveSmallIntegerField",
		"SmallIntegerField", "BigIntegerField", "DurationField":
		return true
	}
	return false
}

func isInteger(t string) bool {
	switch t {
	case "IntegerField", "PositiveIntegerField", "PositiveSmallIntegerField", "SmallIntegerField", "BigIntegerField":
		return true
	}
	return false
}

// candidates returns the project's own models (no history tables) that
// pass keep, best first by rank, then by label.
func (m *mapper) candidates(keep func(*Model) bool, rank func(*Model) int) []*Model {
	var out []*Model
	for i := range m.f.Models {
		x := &m.f.Models[i]
		if x.Project && x.HistoryOf == "" && keep(x) {
			out = append(out, x)
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		ri, rj := rank(out[i]), rank(out[j])
		if ri != rj {
			return ri > rj
		}
		return out[i].Label < out[j].Label
	})
	return out
}

func labels(ms []*Model) []string {
	out := make([]string, len(ms))
	for i, x := range ms {
		out[i] = x.Label + " (" + x.Table + ")"
	}
	return out
}

func has(x *Model, pred func(Field) bool) bool {
	for _, f := range x.Fields {
		if pred(f) {
			return true
		}
	}
	return false
}

// first returns the column of the first field passing pred, preferring
// one whose name matches name.
func first(x *Model, name *regexp.Regexp, pred func(Field) bool) string {
	var fallback string
	for _, f := range x.Fields {
		if !pred(f) {
			continue
		}
		if name != nil && (name.MatchString(f.Name) || name.MatchString(f.Column)) {
			return f.Column
		}
		if fallback == "" {
			fallback = f.Column
		}
	}
	return fallback
}

func (m *mapper) shift(calc *CalculatorFacts) *Model {
	sh := &m.p.Shift
	var x *Model
	how := "a dated model with a status and a foreign key, by name"
	if calc != nil {
		x = m.f.byTable(calc.Query.Table)
		how = "the table " + calc.Call + " counts"
	}
	if x == nil {
		cands := m.candidates(func(x *Model) bool {
			return has(x, func(f Field) bool { return f.Related != "" }) && has(x, func(f Field) bool { return f.Type == "DateField" }) &&
				has(x, func(f Field) bool { return len(f.Choices) > 0 })
		}, func(x *Model) int { return 2*score(x.Name, shiftName.String()) + score(x.Table, shiftName.String()) })
		if len(cands) == 0 {
			m.gap("shift", "no model with a foreign key, a date and a status with choices was found; set profile.shift (table, clinician, date, status, worked)")
			return nil
		}
		x = cands[m.pick("shift", labels(cands))]
		calc = nil
	}
	sh.Model, sh.Table, sh.ID = x.Label, x.Table, x.PK
	m.set("shift", x.Label+" ("+x.Table+")", how, calc == nil)
	q := (*Query)(nil)
	if calc != nil {
		q = calc.Query
	}
	m.shiftColumns(x, q)
	m.shiftDuration(x, q)
	m.shiftRule(x, q, calc)
	return x
}

// shiftColumns finds the shift's clinician, date, status and type: the
// columns the calculator's query uses where there is one, else by name.
func (m *mapper) shiftColumns(x *Model, q *Query) {
	sh := &m.p.Shift
	if q != nil && q.ClinicianColumn != "" {
		sh.Clinician = q.ClinicianColumn
		m.set("shift.clinician", sh.Clinician, "the column the calculator filters by the clinician", false)
	} else {
		sh.Clinician = first(x, clinicianName, func(f Field) bool { return f.Related != "" })
		m.set("shift.clinician", sh.Clinician, "the foreign key, by name", true)
	}
	if q != nil && q.DateColumn != "" {
		sh.Date = q.DateColumn
		m.set("shift.date", sh.Date, "the column the calculator bounds by the dates", false)
	} else {
		sh.Date = first(x, dateName, func(f Field) bool { return f.Type == "DateField" })
		m.set("shift.date", sh.Date, "the date field, by name", true)
	}
	if q != nil && q.Status != nil {
		sh.Status = q.Status.Column
		m.set("shift.status", sh.Status, "the column with choices the calculator tests", false)
	} else {
		sh.Status = first(x, statusName, func(f Field) bool { return len(f.Choices) > 0 })
		m.set("shift.status", sh.Status, "the field with choices, by name", true)
	}
	sh.Type = first(x, typeName, func(f Field) bool { return len(f.Choices) > 0 && f.Column != sh.Status })
	m.set("shift.type", sh.Type, "the other field with choices", false)
}

// shiftDuration finds the shift's length and whether a shift of no length
// counts: the calculator's word where there is one, else by name.
func (m *mapper) shiftDuration(x *Model, q *Query) {
	sh := &m.p.Shift
	if q != nil && q.Duration != nil {
		sh.Duration, sh.PositiveDuration = q.Duration.Column, q.Duration.Positive
		m.set("shift.duration", sh.Duration, "the number the calculator requires above zero", false)
		return
	}
	sh.Duration = first(x, durationName, func(f Field) bool { return isNumber(f.Type) && !f.PK && f.Related == "" })
	if sh.Duration != "" && !durationName.MatchString(sh.Duration) {
		sh.Duration = ""
	}
	m.set("shift.duration", sh.Duration, "by name", true)
	// Without the code's word, a shift of no length is not worked.
	sh.PositiveDuration = sh.Duration != "" && q == nil
}

// shiftRule finds the status values that count as worked (those the
// calculator's query passes, else those named like it) and those that are
// cancelled.
func (m *mapper) shiftRule(x *Model, q *Query, calc *CalculatorFacts) {
	sh := &m.p.Shift
	var values []string
	if f := x.field(sh.Status); f != nil {
		for _, c := range f.Choices {
			values = append(values, c[0])
		}
		for _, c := range f.Choices {
			if cancelledValue.MatchString(c[0]) || cancelledValue.MatchString(c[1]) {
				sh.Cancelled = append(sh.Cancelled, c[0])
			}
		}
	}
	switch {
	case q != nil && q.Status != nil && len(q.Status.Worked) > 0:
		sh.Worked = q.Status.Worked
		sh.Rule = "the application's calculator " + calc.Call
		m.set("shift.worked", strings.Join(sh.Worked, ", "), "the values that pass the calculator's own query", false)
	default:
		for _, v := range values {
			if workedValue.MatchString(v) {
				sh.Worked = append(sh.Worked, v)
			}
		}
		sh.Rule = "guessed from the status values' names"
		if len(sh.Worked) == 0 {
			m.gap("shift.worked", fmt.Sprintf("no status value of %s looks like a worked shift (%s); list the ones that count in profile.shift.worked", sh.Status, strings.Join(values, ", ")))
		} else {
			m.set("shift.worked", strings.Join(sh.Worked, ", "), "status values named like a worked shift", true)
		}
	}
	m.set("shift.cancelled", strings.Join(sh.Cancelled, ", "), "status values named like a cancelled shift", len(sh.Cancelled) > 0)
}

func (m *mapper) clinician(shift *Model) *Model {
	f := shift.field(m.p.Shift.Clinician)
	if f == nil || f.Related == "" {
		m.gap("clinician", "the shift's clinician column is not a foreign key; set profile.clinician (table, id)")
		return nil
	}
	x := m.f.model(f.Related)
	if x == nil {
		m.gap("clinician", "the model "+f.Related+" the shift points at was not read; set profile.clinician")
		return nil
	}
	c := &m.p.Clinician
	c.Model, c.Table, c.ID = x.Label, x.Table, f.RelatedColumn
	if c.ID == "" {
		c.ID = x.PK
	}
	m.set("clinician", x.Label+" ("+x.Table+")", "the model "+m.p.Shift.Clinician+" points at", false)
	c.Contracted = first(x, contractedName, func(f Field) bool { return isInteger(f.Type) && !f.PK })
	if c.Contracted != "" && !contractedName.MatchString(c.Contracted) {
		c.Contracted = ""
	}
	if c.Contracted == "" {
		m.gap("clinician.contracted", "no field of "+x.Label+" looks like the shifts owed per month; deficiencies are not checked (set profile.clinician.contracted)")
	} else {
		m.set("clinician.contracted", c.Contracted, "an integer field named like shifts owed", true)
	}
	return x
}

func (m *mapper) audit(shift *Model) {
	a := &m.p.Audit
	type option struct {
		label string
		apply func()
	}
	var opts []option
	for i := range m.f.Models {
		h := &m.f.Models[i]
		if h.HistoryOf != shift.Label {
			continue
		}
		opts = append(opts, option{h.Label + " (" + h.Table + ", django-simple-history of " + shift.Label + ")", func() {
			*a = profile.Audit{Kind: profile.AuditHistory, Model: h.Label, Table: h.Table, EntityID: m.p.Shift.ID,
				Action: "history_type", Actions: profile.AuditActions{Create: "+", Update: "~", Delete: "-"},
				Timestamp: "history_date", Shape: profile.ShapeSnapshot}
			if u := h.field("history_user_id"); u != nil {
				a.Actor = "history_user_id"
				a.Actors = m.actors(u)
			}
			m.set("audit", a.Model+" ("+a.Table+")", "django-simple-history's table of "+shift.Label, false)
		}})
	}
	logs := m.candidates(func(x *Model) bool {
		return x.Label != shift.Label && logColumns(x).entityID != "" && logColumns(x).timestamp != "" && logColumns(x).action != ""
	}, func(x *Model) int { return score(x.Name, `audit|log|history|event|change`) })
	for _, x := range logs {
		opts = append(opts, option{x.Label + " (" + x.Table + ", an audit log)", func() {
			c := logColumns(x)
			*a = profile.Audit{Kind: profile.AuditLog, Model: x.Label, Table: x.Table, EntityType: c.entityType, EntityID: c.entityID,
				Action: c.action, Timestamp: c.timestamp, Actor: c.actor, Changes: c.changes, Shape: profile.ShapeDiff}
			a.Entity = shift.Name
			m.set("audit", a.Model+" ("+a.Table+")", "a model with an entity id, an action and a timestamp, by name", true)
			m.set("audit.entity", a.Entity, "the shift model's name as the entity type", true)
			a.Actions = profile.AuditActions{Create: "CREATE", Update: "UPDATE", Delete: "DELETE"}
			guessed := true
			if f := x.field(c.action); f != nil && len(f.Choices) > 0 {
				for _, ch := range f.Choices {
					switch {
					case regexp.MustCompile(`(?i)creat|insert|add|^\+$`).MatchString(ch[0]):
						a.Actions.Create = ch[0]
					case regexp.MustCompile(`(?i)updat|chang|edit|modif|^~$`).MatchString(ch[0]):
						a.Actions.Update = ch[0]
					case regexp.MustCompile(`(?i)delet|remov|^-$`).MatchString(ch[0]):
						a.Actions.Delete = ch[0]
					}
				}
				guessed = false
			}
			m.set("audit.actions", a.Actions.Create+", "+a.Actions.Update+", "+a.Actions.Delete, "the action field's choices", guessed)
		}})
	}
	if len(opts) == 0 {
		m.gap("audit", "no audit trail of "+shift.Label+" was found (neither django-simple-history's HistoricalRecords nor a model with an entity id, action and timestamp); the race-condition probe is skipped until profile.audit is set")
		return
	}
	names := make([]string, len(opts))
	for i, o := range opts {
		names[i] = o.label
	}
	opts[m.pick("audit", names)].apply()
}

type logCols struct{ entityType, entityID, action, timestamp, actor, changes string }

func logColumns(x *Model) logCols {
	text := func(f Field) bool { return f.Type == "CharField" || f.Type == "TextField" }
	var c logCols
	c.entityType = first(x, regexp.MustCompile(`(?i)entity_type|model|content_type|object_type|resource|table`), text)
	if c.entityType != "" && !regexp.MustCompile(`(?i)entity_type|model|content_type|object_type|resource|table`).MatchString(c.entityType) {
		c.entityType = ""
	}
	c.entityID = first(x, nil, func(f Field) bool {
		return regexp.MustCompile(`(?i)^(entity_id|object_id|record_id|obj_id|object_pk|target_id)$`).MatchString(f.Column)
	})
	c.action = first(x, nil, func(f Field) bool {
		return text(f) && regexp.MustCompile(`(?i)^(action|event|operation|verb|change_type)$`).MatchString(f.Column)
	})
	c.timestamp = first(x, regexp.MustCompile(`(?i)timestamp|created|when|time|at$`), func(f Field) bool { return f.Type == "DateTimeField" })
	c.actor = first(x, nil, func(f Field) bool {
		return regexp.MustCompile(`(?i)^(changed_by|user|user_id|actor|actor_id|by|author|who|performed_by)$`).MatchString(f.Column)
	})
	c.changes = first(x, nil, func(f Field) bool {
		return regexp.MustCompile(`(?i)^(changes|diff|data|payload|delta|details)$`).MatchString(f.Column)
	})
	if c.entityType == "" {
		// A log without an entity type is about one model only.
		return logCols{}
	}
	return c
}

func (m *mapper) summary(shift, clinician *Model) {
	if clinician == nil {
		return
	}
	points := func(x *Model) string {
		for _, f := range x.Fields {
			if f.Related == clinician.Label {
				return f.Column
			}
		}
		return ""
	}
	dates := func(x *Model) int {
		n := 0
		for _, f := range x.Fields {
			if f.Type == "DateField" {
				n++
			}
		}
		return n
	}
	cands := m.candidates(func(x *Model) bool {
		return x.Label != shift.Label && x.Label != clinician.Label && points(x) != "" && dates(x) >= 2 &&
			has(x, func(f Field) bool { return isInteger(f.Type) && !f.PK && f.Related == "" })
	}, func(x *Model) int {
		return 2*score(x.Name, summaryName.String()) + score(x.Table, summaryName.String())
	})
	if len(cands) == 0 {
		m.gap("summary", "no model storing a figure per "+clinician.Name+" and period (a foreign key, two dates, an integer) was found; the summaries probe is skipped until profile.summary is set")
		return
	}
	x := cands[m.pick("summary", labels(cands))]
	s := &m.p.Summary
	s.Model, s.Table, s.ID, s.Clinician = x.Label, x.Table, x.PK, points(x)
	m.set("summary", x.Label+" ("+x.Table+")", "a model with a foreign key to "+clinician.Label+", two dates and an integer, by name", len(cands) > 1)
	isDate := func(f Field) bool { return f.Type == "DateField" }
	s.PeriodStart = first(x, startName, isDate)
	s.PeriodEnd = first(x, endName, func(f Field) bool { return isDate(f) && f.Column != s.PeriodStart })
	m.set("summary.period", s.PeriodStart+" .. "+s.PeriodEnd, "the date fields, by name", true)
	integer := func(f Field) bool { return isInteger(f.Type) && !f.PK && f.Related == "" }
	s.Worked = first(x, workedName, integer)
	m.set("summary.worked", s.Worked, "an integer field named like a count of shifts", true)
	s.Deficiency = first(x, deficiencyName, func(f Field) bool { return integer(f) && f.Column != s.Worked })
	if s.Deficiency != "" && !deficiencyName.MatchString(s.Deficiency) {
		s.Deficiency = ""
	}
	m.set("summary.deficiency", s.Deficiency, "an integer field named like a deficiency", true)
}

func (m *mapper) constraints() {
	roleOf := map[string]string{}
	for _, role := range profile.Roles {
		if t := m.p.Table(role); t != "" {
			roleOf[t] = role
		}
	}
	origin := func(x *Model, name string) string {
		if m.f.Migrations == nil {
			return ""
		}
		return m.f.Migrations.Constraints[x.App+"."+strings.ToLower(x.Name)+"/"+name]
	}
	n := 0
	for _, x := range m.f.Models {
		if !x.Project || x.HistoryOf != "" {
			continue
		}
		for _, c := range x.Constraints {
			if c.Conditional {
				m.r.Warnings = append(m.r.Warnings, fmt.Sprintf("%s of %s is conditional (a partial unique index): not checked", c.Name, x.Label))
				continue
			}
			m.p.Constraints = append(m.p.Constraints, profile.Constraint{Role: roleOf[x.Table], Model: x.Label, Table: x.Table,
				Name: c.Name, Kind: c.Kind, Columns: c.Columns, Check: c.Check, Migration: origin(&x, c.Name)})
			n++
		}
		for _, cols := range x.UniqueTogether {
			fields := make([]string, len(cols))
			for i, col := range cols {
				fields[i] = col
				for _, f := range x.Fields {
					if f.Column == col {
						fields[i] = f.Name
					}
				}
			}
			m.p.Constraints = append(m.p.Constraints, profile.Constraint{Role: roleOf[x.Table], Model: x.Label, Table: x.Table,
				Kind: profile.Unique, Columns: cols, Migration: origin(&x, "unique_together:"+strings.Join(fields, ","))})
			n++
		}
	}
	m.set("constraints", fmt.Sprintf("%d declared by the models", n), "Meta.constraints and unique_together, with the migration creating each", false)
}

func (m *mapper) cache() {
	c := m.f.Cache
	if c == nil {
		m.gap("cache", "settings.CACHES could not be read")
		return
	}
	pc := &m.p.Cache
	pc.Backend, pc.Location, pc.KeyPrefix, pc.Version = c.Backend, c.Location, c.KeyPrefix, c.Version
	if c.DB != nil {
		pc.DB = *c.DB
	}
	pc.CustomKeyFunction = c.KeyFunction != ""
	m.set("cache", fmt.Sprintf("%s, KEY_PREFIX %q, VERSION %d", c.Backend, c.KeyPrefix, c.Version), "settings.CACHES['default']", false)
	if !strings.Contains(c.Backend, "redis") {
		m.r.Warnings = append(m.r.Warnings, "the cache backend is "+c.Backend+", not Redis: the cache probe and flush-cache read and clear Redis only")
	}
	if pc.CustomKeyFunction {
		m.gap("cache.worked_key", "CACHES has a KEY_FUNCTION ("+c.KeyFunction+"): stored keys are not prefix:version:key, so steady cannot find cached figures; set profile.cache.patterns to let flush-cache clear them")
		return
	}
	var keys []KeyFunction
	if m.f.Code != nil {
		keys = m.f.Code.Keys
	}
	if len(keys) == 0 {
		m.gap("cache.worked_key", "no function building a cache key from a clinician and two days was found; set profile.cache.worked_key (e.g. \"counts:{clinician}:{from}:{to}\") for the cache probe to compare cached figures")
		return
	}
	sort.SliceStable(keys, func(i, j int) bool {
		return score(keys[i].Function, `count|worked|shift|dut|tally`) > score(keys[j].Function, `count|worked|shift|dut|tally`)
	})
	opts := make([]string, len(keys))
	for i, k := range keys {
		opts[i] = k.Function + " → " + k.Template
	}
	k := keys[m.pick("cache.worked_key", opts)]
	pc.WorkedKey = k.Template
	m.set("cache.worked_key", pc.StoredKey(k.Template), "what "+k.Function+" returned for placeholder arguments", false)
}

func (m *mapper) celery() {
	c := m.f.Celery
	if c == nil || !c.Found {
		why := "no Celery app"
		if c != nil && c.Why != "" {
			why = c.Why
		}
		m.gap("celery", why+"; recalculate then needs django.recalculate (a command) instead of a task")
		return
	}
	pc := &m.p.Celery
	pc.App, pc.Broker, pc.Results, pc.Queue = c.Main, c.Broker, c.Results, c.DefaultQueue
	m.set("celery", fmt.Sprintf("app %s, default queue %s", c.Main, c.DefaultQueue), "the project's Celery app", false)
	type cand struct {
		t      Task
		params []string
		rank   int
	}
	var cands []cand
	for _, t := range c.Tasks {
		ps := orderParams(t.Params)
		if ps == nil {
			continue
		}
		rank := 4*score(t.Name, `recalc`) + 2*score(t.Name, `rebuild|refresh|recompute|recount|update`) + score(t.Name, `summar|tally|figure|count|total|clinician|member`)
		if rank == 0 {
			continue
		}
		cands = append(cands, cand{t, ps, rank})
	}
	if len(cands) == 0 {
		m.gap("celery.recalculate", "no registered task taking a clinician and two days and named like a recalculation was found; set profile.celery.recalculate (name, params)")
		return
	}
	sort.SliceStable(cands, func(i, j int) bool { return cands[i].rank > cands[j].rank })
	opts := make([]string, len(cands))
	for i, x := range cands {
		opts[i] = fmt.Sprintf("%s(%s)", x.t.Name, strings.Join(x.t.Params, ", "))
	}
	x := cands[m.pick("celery.recalculate", opts)]
	pc.Recalculate = profile.Task{Name: x.t.Name, Queue: x.t.Queue, Params: x.params}
	m.set("celery.recalculate", opts[slices.Index(opts, fmt.Sprintf("%s(%s)", x.t.Name, strings.Join(x.t.Params, ", ")))], "a registered task named like a recalculation, taking a clinician and two days", false)
	if x.t.Queue != "" && x.t.Queue != c.DefaultQueue {
		m.set("celery.recalculate.queue", x.t.Queue, "the task's route", false)
	}
}

// orderParams returns the task's parameters as clinician, first day, last
// day; nil when they are not such three.
func orderParams(params []string) []string {
	if len(params) != 3 {
		return nil
	}
	var id, from, to string
	for _, p := range params {
		switch {
		case from == "" && startName.MatchString(p):
			from = p
		case to == "" && endName.MatchString(p):
			to = p
		case id == "" && (strings.Contains(strings.ToLower(p), "id") || clinicianName.MatchString(p)):
			id = p
		}
	}
	if id == "" || from == "" || to == "" {
		return nil
	}
	return []string{id, from, to}
}

// actors is where the names behind an actor foreign key are: the related
// model's USERNAME_FIELD, else a field called name, username or email.
func (m *mapper) actors(fk *Field) *profile.Actors {
	for i := range m.f.Models {
		u := &m.f.Models[i]
		if u.Table != fk.RelatedTable || fk.RelatedTable == "" {
			continue
		}
		name := u.Username
		for _, want := range []string{"username", "name", "email"} {
			if name != "" {
				break
			}
			if f := u.field(want); f != nil {
				name = f.Column
			}
		}
		if name == "" || fk.RelatedColumn == "" {
			return nil
		}
		return &profile.Actors{Model: u.Label, Table: u.Table, ID: fk.RelatedColumn, Name: name}
	}
	return nil
}
