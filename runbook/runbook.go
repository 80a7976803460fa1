// Package runbook owns the runbook: Markdown with YAML front matter and
// `steady` fenced bindings, parsed into a typed model of sections,
// checklist items, root causes and resolution paths, and checked with
// file:line problems. It knows nothing of terminals or databases.
package runbook

import (
	"time"
)

// SectionKind identifies one of the sections a runbook may have, in the
// order they are worked.
type SectionKind string

// The sections of a runbook, in order.
const (
	Symptoms     SectionKind = "symptoms"
	Detection    SectionKind = "detection"
	Diagnosis    SectionKind = "diagnosis"
	RootCauses   SectionKind = "root-causes"
	Resolution   SectionKind = "resolution"
	Verification SectionKind = "verification"
	Prevention   SectionKind = "prevention"
	Escalation   SectionKind = "escalation"
)

// SectionOrder lists the sections in the order an incident works them.
var SectionOrder = []SectionKind{Symptoms, Detection, Diagnosis, RootCauses, Resolution, Verification, Prevention, Escalation}

// Runbook is a parsed runbook.
type Runbook struct {
	// Name is the runbook's id: the front matter id, else the file name
	// without extension.
	Name string
	// File is where it was read from ("embedded:NAME" for built-in ones).
	File string
	// Hash is the SHA-256 of the source, hex encoded; a journal records it
	// so a resumed incident knows whether the runbook changed.
	Hash string
	// Source is the original text.
	Source []byte
	Meta   Meta
	// Intro is the Markdown between the title and the first section.
	Intro    string
	Sections []*Section
	Causes   []*Cause
}

// Meta is the runbook's front matter.
type Meta struct {
	ID           string        `yaml:"id"`
	Title        string        `yaml:"title"`
	Owner        string        `yaml:"owner"`
	Severity     string        `yaml:"severity"`
	EstimatedTTR time.Duration `yaml:"-"`
	LastUpdated  time.Time     `yaml:"-"`
	Escalation   EscalationPolicy
	Related      []string `yaml:"related"`
}

// EscalationPolicy says when and to whom an incident escalates.
type EscalationPolicy struct {
	// OnCall is how to reach the on-call contact.
	OnCall string
	Rules  []EscalationRule
}

// EscalationRule is one threshold: after a time, or immediately when a
// condition holds.
type EscalationRule struct {
	// After is the elapsed incident time that triggers the rule; zero when
	// the rule is Immediate.
	After time.Duration
	// Immediate rules are raised by the operator when their condition holds.
	Immediate bool
	// To is the role or person to escalate to.
	To string
	// When describes the condition in words.
	When string
}

// Section is one level-2 section of the runbook.
type Section struct {
	Kind  SectionKind
	Title string
	Line  int
	// Intro is Markdown that precedes the section's items.
	Intro string
	Items []*Item
	// Paths are the resolution paths, one per cause (Resolution only).
	Paths []*Path
}

// Path is the resolution of one root cause: a level-3 heading under
// Resolution Steps and its items.
type Path struct {
	Cause string // cause id
	Title string
	Line  int
	Items []*Item
}

// Item is one checklist item.
type Item struct {
	// ID is stable across runs of the same runbook: "<section>-<n>",
	// "resolution-<cause>-<n>", or the binding's explicit id.
	ID      string
	Section SectionKind
	// Cause is the cause id of a resolution item.
	Cause string
	// Title is the item's first paragraph as plain text.
	Title string
	// Markdown is the item's whole text (title, details, manual commands)
	// without its steady binding, ready to render.
	Markdown string
	// Code are the fenced blocks of the item: the manual equivalent.
	Code []CodeBlock
	// Task is true for "- [ ]" items (the Verification list).
	Task bool
	// Checked is the initial state of a task item.
	Checked bool
	// Binding ties the item to a probe or an action; nil for manual items.
	Binding *Binding
	Line    int
}

// Manual reports whether the item is ticked by the operator rather than
// carried out by a probe or an action.
func (it *Item) Manual() bool { return it.Binding == nil }

// CodeBlock is a fenced code block kept visible as the manual equivalent.
type CodeBlock struct {
	Lang string
	Text string
	Line int
}

// Binding is a `steady` fenced block: the probe or action that carries the
// item out, and its parameters.
type Binding struct {
	Probe  string
	Action string
	// Params are every other key of the block, as written. The value
	// "ask" means the operator supplies it.
	Params map[string]string
	Line   int
}

// Ask is the parameter value that asks the operator for input.
const Ask = "ask"

// Kind returns "probe" or "action".
func (b *Binding) Kind() string {
	if b.Action != "" {
		return "action"
	}
	return "probe"
}

// Target returns the bound probe or action id.
func (b *Binding) Target() string {
	if b.Action != "" {
		return b.Action
	}
	return b.Probe
}

// Cause is one row of the root-cause table.
type Cause struct {
	ID         string
	Title      string
	Likelihood string
	Confirm    string
	// Probes are the probes whose results decide the cause's verdict.
	Probes []string
	Line   int
}

// Section returns the section of the given kind, or nil.
func (r *Runbook) Section(kind SectionKind) *Section {
	for _, s := range r.Sections {
		if s.Kind == kind {
			return s
		}
	}
	return nil
}

// Items returns every item in runbook order.
func (r *Runbook) Items() []*Item {
	var out []*Item
	for _, s := range r.Sections {
		out = append(out, s.Items...)
	}
	return out
}

// Item returns the item with the given id, or nil.
func (r *Runbook) Item(id string) *Item {
	for _, s := range r.Sections {
		for _, it := range s.Items {
			if it.ID == id {
				return it
			}
		}
	}
	return nil
}

// Cause returns the cause with the given id, or nil.
func (r *Runbook) Cause(id string) *Cause {
	for _, c := range r.Causes {
		if c.ID == id {
			return c
		}
	}
	return nil
}

// Path returns the resolution path of a cause, or nil.
func (r *Runbook) Path(cause string) *Path {
	if s := r.Section(Resolution); s != nil {
		for _, p := range s.Paths {
			if p.Cause == cause {
				return p
			}
		}
	}
	return nil
}

// Probes returns the distinct probe ids bound in the given section (all
// sections when kind is empty), in runbook order.
func (r *Runbook) Probes(kind SectionKind) []string {
	seen := map[string]bool{}
	var out []string
	for _, s := range r.Sections {
		if kind != "" && s.Kind != kind {
			continue
		}
		for _, it := range s.Items {
			if it.Binding != nil && it.Binding.Probe != "" && !seen[it.Binding.Probe] {
				seen[it.Binding.Probe] = true
				out = append(out, it.Binding.Probe)
			}
		}
	}
	if kind == "" || kind == RootCauses {
		for _, c := range r.Causes {
			for _, p := range c.Probes {
				if !seen[p] {
					seen[p] = true
					out = append(out, p)
				}
			}
		}
	}
	return out
}

// Title returns the runbook's title.
func (r *Runbook) Title() string {
	if r.Meta.Title != "" {
		return r.Meta.Title
	}
	return r.Name
}
