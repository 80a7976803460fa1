package runbook

import (
	"fmt"
	"sort"
	"strings"
)

// Known describes what the program can carry out, so a runbook can be
// checked against it without this package importing the probes and actions.
type Known struct {
	Probes  []string
	Actions []string
	// Params, when set, checks a binding's parameters and returns a
	// problem message for each one that is wrong.
	Params func(kind, id string, params map[string]string) []string
}

// Check reports bindings and causes that name probes or actions the
// program does not have, and parameters they do not take.
func (r *Runbook) Check(k Known) Problems {
	var ps Problems
	has := func(list []string, s string) bool {
		for _, v := range list {
			if v == s {
				return true
			}
		}
		return false
	}
	sorted := func(list []string) string {
		l := append([]string(nil), list...)
		sort.Strings(l)
		return strings.Join(l, ", ")
	}
	for _, it := range r.Items() {
		b := it.Binding
		if b == nil {
			continue
		}
		switch {
		case b.Probe != "" && !has(k.Probes, b.Probe):
			ps = append(ps, Problem{File: r.File, Line: b.Line, Msg: fmt.Sprintf("unknown probe %q", b.Probe), Hint: "known probes: " + sorted(k.Probes)})
			continue
		case b.Action != "" && !has(k.Actions, b.Action):
			ps = append(ps, Problem{File: r.File, Line: b.Line, Msg: fmt.Sprintf("unknown action %q", b.Action), Hint: "known actions: " + sorted(k.Actions)})
			continue
		}
		if k.Params != nil && (b.Probe != "" || b.Action != "") {
			for _, msg := range k.Params(b.Kind(), b.Target(), b.Params) {
				ps = append(ps, Problem{File: r.File, Line: b.Line, Msg: fmt.Sprintf("%s %s: %s", b.Kind(), b.Target(), msg)})
			}
		}
	}
	for _, c := range r.Causes {
		for _, id := range c.Probes {
			if !has(k.Probes, id) {
				ps = append(ps, Problem{File: r.File, Line: c.Line, Msg: fmt.Sprintf("cause %q names unknown probe %q", c.ID, id), Hint: "known probes: " + sorted(k.Probes)})
			}
		}
	}
	return ps
}

// Lint parses src and checks it against k, returning every problem.
func Lint(file string, src []byte, k Known) (*Runbook, Problems) {
	r, ps := Parse(file, src)
	ps = append(ps, r.Check(k)...)
	return r, ps
}
