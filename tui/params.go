package tui

import (
	"fmt"
	"strings"
	"time"

	tea "charm.land/bubbletea/v2"
	"charm.land/huh/v2"

	"steady/probes"
	"steady/runbook"
)

// needsForm reports whether running an item's probe asks the operator for
// parameters first.
func needsForm(it *runbook.Item) bool {
	if it.Binding == nil || it.Binding.Probe == "" {
		return false
	}
	p, ok := probes.Get(it.Binding.Probe)
	return ok && len(probes.NeedsInput(p, it.Binding.Params)) > 0
}

// validateParam checks one value the operator typed for a probe
// parameter. all holds every value of the form as typed so far, so a date
// range can be checked from either end.
func validateParam(p probes.Param, v string, all map[string]string) error {
	v = strings.TrimSpace(v)
	if v == "" {
		if p.Required {
			return fmt.Errorf("%s is required", p.Name)
		}
		return nil
	}
	if err := probes.ValidateValue(p.Kind, v); err != nil {
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
		if other != "" && probes.ValidateValue("date", other) == nil {
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
func newParamsDialog(c *common, it *runbook.Item, p probes.Probe, need []probes.Param) *dialog {
	values := map[string]*string{}
	typed := func() map[string]string {
		out := map[string]string{}
		for k, v := range values {
			out[k] = *v
		}
		return out
	}
	var fields []huh.Field
	for _, prm := range need {
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
			Validate(func(s string) error { return validateParam(prm, s, typed()) })
		fields = append(fields, in)
	}
	title := "Run " + p.ID()
	context := func(w int) string {
		return c.styles.Dim.Render(wrap(it.Title, w)) + "\n" + wrap(p.Title()+": it needs these values.", w)
	}
	d := newDialog(c, dialogParams, title, context, huh.NewGroup(fields...))
	itemID, probeID := it.ID, p.ID()
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
