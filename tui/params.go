package tui

import (
	"strings"
	"time"

	tea "charm.land/bubbletea/v2"
	"charm.land/huh/v2"

	"steady/internal/session"
	"steady/probes"
	"steady/runbook"
)

// needsForm reports whether running an item's probe asks the operator for
// parameters first.
func needsForm(c *common, it *runbook.Item) bool {
	if it.Binding == nil || it.Binding.Probe == "" {
		return false
	}
	p, ok := c.s.Probe(it.ID, it.Binding.Probe)
	return ok && len(p.Needs) > 0
}

// paramHint describes what a parameter kind expects, with an example.
func paramHint(p probes.Param) string {
	var hint string
	switch p.Kind {
	case "int":
		hint = "a whole number, e.g. 7"
	case "date":
		hint = "a date, YYYY-MM-DD, e.g. " + time.Date(2024, 1, 31, 0, 0, 0, 0, time.UTC).Format(time.DateOnly)
	case "duration":
		hint = "a duration, e.g. 1h, 24h, 7d"
	default:
		hint = "text"
	}
	if p.Help != "" {
		hint = p.Help + " — " + hint
	}
	if !p.Required {
		hint += " (optional)"
	}
	return hint
}

// newParamsDialog asks for the parameters a probe needs, validating each
// as it is entered (whole numbers, ISO dates, from ≤ to), then runs it.
func newParamsDialog(c *common, it *runbook.Item, p session.ProbeInfo) *dialog {
	values := map[string]*string{}
	typed := func() map[string]string {
		out := map[string]string{}
		for k, v := range values {
			out[k] = *v
		}
		return out
	}
	var fields []huh.Field
	for _, prm := range p.Needs {
		prm := prm
		v := prm.Default
		values[prm.Name] = &v
		label := prm.Name
		if prm.Kind != "" && prm.Kind != "string" {
			label += " (" + prm.Kind + ")"
		}
		in := huh.NewInput().
			Key(prm.Name).
			Title(label).
			Description(paramHint(prm)).
			Value(values[prm.Name]).
			Validate(func(s string) error { return prm.Check(s, typed()) })
		fields = append(fields, in)
	}
	title := "Run " + p.ID
	context := func(w int) string {
		return c.styles.Dim.Render(wrap(it.Title, w)) + "\n" + wrap(p.Title+": it needs these values.", w)
	}
	d := newDialog(c, dialogParams, title, context, huh.NewGroup(fields...))
	itemID, probeID := it.ID, p.ID
	d.submit = func() tea.Cmd {
		in := map[string]string{}
		for k, v := range values {
			if s := strings.TrimSpace(*v); s != "" {
				in[k] = s
			}
		}
		return runProbeCmd(c, itemID, probeID, in)
	}
	return d
}
