package probes

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"steady/internal/duration"
	"steady/internal/registry"
	"steady/internal/target"
)

// Status is the outcome of a probe.
type Status string

// Probe statuses, from best to worst; Skipped means the probe could not
// apply (a prerequisite is missing) and says why.
const (
	OK      Status = "ok"
	Warn    Status = "warn"
	Fail    Status = "fail"
	Error   Status = "error"
	Skipped Status = "skipped"
)

// Result is what a probe found.
type Result struct {
	Probe    string        `json:"id"`
	Status   Status        `json:"status"`
	Summary  string        `json:"summary"`
	Findings []Finding     `json:"findings"`
	Evidence Table         `json:"evidence"`
	Started  time.Time     `json:"started_at"`
	Duration time.Duration `json:"-"`
	// Error is set when Status is Error: what went wrong, in one line.
	Error string `json:"error,omitempty"`
	// Params are the parameters the probe ran with, as given.
	Params map[string]string `json:"params,omitempty"`
	// Affected lists the clinicians and periods the findings concern, for
	// actions such as recalculate to take as their default scope.
	Affected []Scope `json:"affected,omitempty"`
	// Lost lists every value races took back (the audit-concurrency
	// probe), beyond the findings that name the first few, for the repair
	// action to restore.
	Lost []LostUpdate `json:"lost,omitempty"`
}

// Finding is one fact a probe established.
type Finding struct {
	// Status is how bad this one finding is (ok, warn or fail).
	Status Status `json:"status"`
	// Code names the kind of finding, stable for scripts:
	// e.g. "migration.unapplied", "cache.stale", "audit.concurrent".
	Code string `json:"code"`
	// Message is one line for the operator.
	Message string `json:"message"`
	// Data carries the numbers behind the message.
	Data map[string]any `json:"data,omitempty"`
}

// Table is evidence in rows and columns.
type Table struct {
	Title   string     `json:"title,omitempty"`
	Columns []string   `json:"columns"`
	Rows    [][]string `json:"rows"`
	// Omitted counts rows left out to keep the table bounded.
	Omitted int `json:"omitted,omitempty"`
}

// Scope is a clinician and a period some finding concerns.
type Scope struct {
	Clinician int64  `json:"clinician"`
	From      string `json:"from"`
	To        string `json:"to"`
}

// Param declares a parameter a probe takes.
type Param struct {
	Name string
	// Kind is "int", "date", "duration" or "string".
	Kind     string
	Required bool
	Default  string
	Help     string
}

// Params are the values a probe runs with, by name, as text.
type Params map[string]string

// Probe is one read-only check.
type Probe interface {
	// ID is the probe's name in runbooks and on the command line.
	ID() string
	// Title is a short description for screens and reports.
	Title() string
	// Params declares the parameters the probe takes.
	Params() []Param
	// Run performs the check. It never writes to any system, honours
	// ctx, and reports failures in the Result rather than as an error.
	Run(ctx context.Context, t *target.Target, p Params) Result
}

var all = registry.New[Probe]("probes")

// Register adds a probe; it panics on a duplicate id, which is a
// programming error.
func Register(p Probe) { all.Register(p) }

// Get returns the probe with the given id.
func Get(id string) (Probe, bool) { return all.Get(id) }

// IDs returns every registered probe id, sorted.
func IDs() []string { return all.IDs() }

// CheckParams validates params against a probe's declaration, returning a
// message per problem ("ask" is accepted for any parameter: the operator
// fills it in). It serves runbook lint and the TUI's form.
func CheckParams(p Probe, params map[string]string) []string {
	return CheckDeclared(p.Params(), params)
}

// CheckDeclared validates params against declared parameters (of a probe
// or an action).
func CheckDeclared(declared []Param, params map[string]string) []string {
	decl := map[string]Param{}
	for _, d := range declared {
		decl[d.Name] = d
	}
	var msgs []string
	names := make([]string, 0, len(params))
	for k := range params {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		d, ok := decl[k]
		if !ok {
			var known []string
			for _, d := range declared {
				known = append(known, d.Name)
			}
			hint := "it takes no parameters"
			if len(known) > 0 {
				hint = "it takes " + strings.Join(known, ", ")
			}
			msgs = append(msgs, fmt.Sprintf("unknown parameter %q (%s)", k, hint))
			continue
		}
		if v := params[k]; v != "ask" {
			if err := ValidateValue(d.Kind, v); err != nil {
				msgs = append(msgs, fmt.Sprintf("parameter %s: %v", k, err))
			}
		}
	}
	return msgs
}

// SinceFix is the value of a duration parameter meaning "since the
// incident's latest fix ran" (a verification that measures the fix, not a
// fixed window before now); the session turns it into a duration.
const SinceFix = "fix"

// ValidateValue checks a parameter value against its kind.
func ValidateValue(kind, v string) error {
	if kind == "duration" && v == SinceFix {
		return nil
	}
	switch kind {
	case "int":
		if _, err := strconv.ParseInt(v, 10, 64); err != nil {
			return fmt.Errorf("%q is not a whole number", v)
		}
	case "date":
		if _, err := time.Parse(time.DateOnly, v); err != nil {
			return fmt.Errorf("%q is not a date (YYYY-MM-DD)", v)
		}
	case "duration":
		if _, err := parseDuration(v); err != nil {
			return err
		}
	case "bool":
		if _, err := strconv.ParseBool(v); err != nil {
			return fmt.Errorf("%q is not true or false", v)
		}
	}
	return nil
}

// Check checks one value the operator typed for p: present when
// required, of p's kind, a whole number not negative. all holds every
// value of the form as typed so far, so a date range is checked from
// either end.
func (p Param) Check(v string, all map[string]string) error {
	v = strings.TrimSpace(v)
	if v == "" {
		if p.Required {
			return fmt.Errorf("%s is required", p.Name)
		}
		return nil
	}
	if err := ValidateValue(p.Kind, v); err != nil {
		return err
	}
	if p.Kind == "int" && strings.HasPrefix(v, "-") {
		return fmt.Errorf("%s cannot be negative", p.Name)
	}
	if p.Kind == "date" {
		var other string
		switch p.Name {
		case "from":
			other = strings.TrimSpace(all["to"])
		case "to":
			other = strings.TrimSpace(all["from"])
		}
		if other != "" && ValidateValue("date", other) == nil {
			from, to := v, other
			if p.Name == "to" {
				from, to = other, v
			}
			if from > to {
				return fmt.Errorf("the range is reversed: from %s is after to %s", from, to)
			}
		}
	}
	return nil
}

// Resolve merges defaults, the runbook's binding and the operator's input
// (later wins) and checks that every required parameter has a value and
// that a date range is not reversed.
func Resolve(p Probe, layers ...map[string]string) (Params, error) {
	out := Params{}
	for _, d := range p.Params() {
		if d.Default != "" {
			out[d.Name] = d.Default
		}
	}
	for _, l := range layers {
		for k, v := range l {
			if v != "" {
				out[k] = v
			}
		}
	}
	var missing []string
	for _, d := range p.Params() {
		v := out[d.Name]
		if v == "ask" {
			delete(out, d.Name)
			v = ""
		}
		if v == "" {
			if d.Required {
				missing = append(missing, d.Name)
			}
			continue
		}
		if err := ValidateValue(d.Kind, v); err != nil {
			return nil, fmt.Errorf("%s: %w", d.Name, err)
		}
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("%s needs %s", p.ID(), strings.Join(missing, ", "))
	}
	if from, to := out["from"], out["to"]; from != "" && to != "" && from > to {
		return nil, fmt.Errorf("the date range is reversed: from %s is after to %s", from, to)
	}
	return out, nil
}

// NeedsInput reports the parameters of p that neither defaults nor the
// given layers fill, so the TUI knows which fields to ask for.
func NeedsInput(p Probe, layers ...map[string]string) []Param {
	var out []Param
	for _, d := range p.Params() {
		v := d.Default
		for _, l := range layers {
			if x, ok := l[d.Name]; ok && x != "" {
				v = x
			}
		}
		if v == "ask" || (v == "" && d.Required) {
			out = append(out, d)
		}
	}
	return out
}

func parseDuration(s string) (time.Duration, error) {
	if s == SinceFix {
		return 0, fmt.Errorf("%q is resolved by the incident (the time its latest fix ran); outside one, give a duration", s)
	}
	return duration.Positive(s)
}

// Worst returns the worst status of a list: error > fail > warn > ok;
// skipped only when nothing else is present.
func Worst(statuses ...Status) Status {
	rank := map[Status]int{Skipped: 0, OK: 1, Warn: 2, Fail: 3, Error: 4}
	best := Status("")
	for _, s := range statuses {
		if best == "" || rank[s] > rank[best] {
			best = s
		}
	}
	if best == "" {
		return OK
	}
	return best
}

// Verdict is a root cause's standing given the probes bound to it.
type Verdict string

// Cause verdicts.
const (
	Confirmed Verdict = "confirmed"
	RuledOut  Verdict = "ruled out"
	Unknown   Verdict = "unknown"
	// Resolved is a cause confirmed earlier in an incident whose probes
	// all pass now: fixed, not ruled out. Only an incident's history can
	// tell it, so Decide never returns it; the session does.
	Resolved Verdict = "resolved"
)

// Decide returns a cause's verdict from the results of its probes (nil for
// a probe that has not run): confirmed when any failed; ruled out when all
// ran and none failed (a warning is something worth seeing that does not
// confirm the cause); otherwise (not run, error, skipped) unknown.
func Decide(results []*Result) Verdict {
	if len(results) == 0 {
		return Unknown
	}
	answered := true
	for _, r := range results {
		if r == nil {
			answered = false
			continue
		}
		switch r.Status {
		case Fail:
			return Confirmed
		case OK, Warn:
		default:
			answered = false
		}
	}
	if answered {
		return RuledOut
	}
	return Unknown
}

// resultJSON is Result as JSON: the duration in milliseconds and empty
// lists rather than null.
type resultJSON struct {
	resultAlias
	DurationMS int64 `json:"duration_ms"`
}

type resultAlias Result

// MarshalJSON writes the duration as duration_ms.
func (r Result) MarshalJSON() ([]byte, error) {
	if r.Findings == nil {
		r.Findings = []Finding{}
	}
	if r.Evidence.Columns == nil {
		r.Evidence.Columns = []string{}
	}
	if r.Evidence.Rows == nil {
		r.Evidence.Rows = [][]string{}
	}
	return json.Marshal(resultJSON{resultAlias(r), r.Duration.Milliseconds()})
}

// UnmarshalJSON reads what MarshalJSON writes.
func (r *Result) UnmarshalJSON(b []byte) error {
	var v resultJSON
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	*r = Result(v.resultAlias)
	r.Duration = time.Duration(v.DurationMS) * time.Millisecond
	return nil
}
