package runbook

import (
	"fmt"
	"sort"
	"strings"
	"time"
)

// Markdown renders the runbook as one readable document: metadata as a
// table, every section with its items, bindings shown as the probe or
// action that carries the step out, and the root causes with the probes
// that decide them. `steady runbook show` renders it for the terminal.
func (r *Runbook) Markdown() string {
	var b strings.Builder
	fmt.Fprintf(&b, "# %s\n\n", r.Title())
	m := r.Meta
	var rows [][2]string
	if m.Severity != "" {
		rows = append(rows, [2]string{"Severity", titleCase(m.Severity)})
	}
	if m.EstimatedTTR > 0 {
		rows = append(rows, [2]string{"Estimated TTR", humanDuration(m.EstimatedTTR)})
	}
	if m.Owner != "" {
		rows = append(rows, [2]string{"Owner", m.Owner})
	}
	if !m.LastUpdated.IsZero() {
		rows = append(rows, [2]string{"Last updated", m.LastUpdated.Format("2006-01-02")})
	}
	if len(rows) > 0 {
		b.WriteString("| | |\n| --- | --- |\n")
		for _, row := range rows {
			fmt.Fprintf(&b, "| %s | %s |\n", row[0], row[1])
		}
		b.WriteString("\n")
	}
	if r.Intro != "" {
		b.WriteString(r.Intro + "\n\n")
	}
	for _, s := range r.Sections {
		fmt.Fprintf(&b, "## %s\n\n", s.Title)
		if s.Intro != "" {
			b.WriteString(s.Intro + "\n\n")
		}
		switch s.Kind {
		case RootCauses:
			b.WriteString("| Cause | Likelihood | How to confirm | Probes |\n| --- | --- | --- | --- |\n")
			for _, c := range r.Causes {
				fmt.Fprintf(&b, "| %s | %s | %s | %s |\n", c.Title, c.Likelihood, c.Confirm, strings.Join(c.Probes, ", "))
			}
			b.WriteString("\n")
		case Resolution:
			for _, p := range s.Paths {
				fmt.Fprintf(&b, "### %s\n\n", p.Title)
				writeItems(&b, p.Items)
			}
		case Escalation:
			writeItems(&b, s.Items)
			writeEscalation(&b, m)
		default:
			writeItems(&b, s.Items)
		}
	}
	return b.String()
}

func writeItems(b *strings.Builder, items []*Item) {
	for i, it := range items {
		marker := "-"
		if it.Section == Diagnosis || it.Section == Resolution {
			marker = fmt.Sprintf("%d.", i+1)
		}
		if it.Task {
			check := " "
			if it.Checked {
				check = "x"
			}
			marker = "- [" + check + "]"
		}
		indent := strings.Repeat(" ", len(marker)+1)
		body := strings.ReplaceAll(it.Markdown, "\n", "\n"+indent)
		fmt.Fprintf(b, "%s %s\n", marker, body)
		if it.Binding != nil {
			params := ""
			if p := ParamText(it.Binding.Params); p != "" {
				params = " — " + p
			}
			fmt.Fprintf(b, "\n%s▶ %s `%s`%s\n", indent, it.Binding.Kind(), it.Binding.Target(), params)
		}
		b.WriteString("\n")
	}
}

func writeEscalation(b *strings.Builder, m Meta) {
	if len(m.Escalation.Rules) == 0 && m.Escalation.OnCall == "" && len(m.Related) == 0 {
		return
	}
	b.WriteString("| Escalate to | When |\n| --- | --- |\n")
	for _, r := range m.Escalation.Rules {
		when := r.When
		switch {
		case r.Immediate && when == "":
			when = "immediately"
		case r.Immediate:
			when = "immediately when " + when
		case when == "":
			when = "after " + humanDuration(r.After)
		default:
			when = "after " + humanDuration(r.After) + ": " + when
		}
		fmt.Fprintf(b, "| %s | %s |\n", r.To, when)
	}
	if m.Escalation.OnCall != "" {
		fmt.Fprintf(b, "| On-call contact | %s |\n", m.Escalation.OnCall)
	}
	b.WriteString("\n")
	if len(m.Related) > 0 {
		fmt.Fprintf(b, "Related runbooks: %s\n\n", strings.Join(m.Related, ", "))
	}
}

// ParamText shows parameters the way runbooks and reports write them,
// sorted by name: "clinician (asked), window 24h"; empty for none.
func ParamText(p map[string]string) string {
	keys := make([]string, 0, len(p))
	for k := range p {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		v := p[k]
		if v == Ask {
			v = "(asked)"
		}
		parts[i] = k + " " + v
	}
	return strings.Join(parts, ", ")
}

func titleCase(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// humanDuration writes 2h0m0s as "2 hours" and 90m as "1h30m".
func humanDuration(d time.Duration) string {
	switch {
	case d%time.Hour == 0:
		h := int(d / time.Hour)
		if h == 1 {
			return "1 hour"
		}
		return fmt.Sprintf("%d hours", h)
	case d%time.Minute == 0 && d < time.Hour:
		return fmt.Sprintf("%d minutes", int(d/time.Minute))
	}
	return strings.TrimSuffix(d.String(), "0s")
}
