package tui

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"charm.land/lipgloss/v2"

	"steady/actions"
	"steady/internal/session"
	"steady/probes"
)

// planView renders an action's plan exactly as it will run: the steps in
// order, the risk, the preconditions with ✓/✗, warnings, facts and what
// confirming takes. w is the width to wrap to; next adds what the
// operator can do with the plan now.
func planView(c *common, a *session.ActionRun, w int, next bool) string {
	s := c.styles
	p := a.Plan
	var b strings.Builder
	line := func(str string) { b.WriteString(wrap(str, w) + "\n") }
	// section writes a labelled list, each entry wrapped and indented.
	section := func(label string, entries []string) {
		if len(entries) == 0 {
			return
		}
		b.WriteString("\n")
		line(s.Label.Render(label))
		for _, e := range entries {
			b.WriteString(indent(wrap(e, max(w-2, 10)), 2) + "\n")
		}
	}

	line(planHeading(s, a))
	line(s.Dim.Render(fmt.Sprintf("planned %s by %s", c.clock(a.PlannedAt), a.PlannedBy.Name)))
	if p.Summary != "" {
		line(p.Summary)
	}
	if len(p.Steps) > 0 {
		b.WriteString("\n")
		line(s.Label.Render("Steps, exactly as they will run:"))
		for i, st := range p.Steps {
			b.WriteString(stepView(s, i, st, w) + "\n")
		}
	}
	section("Preconditions:", preconditionLines(s, p.Preconditions))
	var warnings []string
	for _, wn := range p.Warnings {
		warnings = append(warnings, s.Warning.Render("!")+" "+wn)
	}
	section("Warnings:", warnings)
	var alternatives []string
	for _, a := range p.Alternatives {
		mark := " "
		if a.Chosen {
			mark = "▸"
		}
		alternatives = append(alternatives, mark+" "+a.Param+": "+a.Estimate)
	}
	section("Alternatives:", alternatives)
	section("Facts:", factLines(p.Facts))
	if len(p.Scopes) > 0 {
		b.WriteString("\n")
		line(s.Label.Render(fmt.Sprintf("Scope: %d clinician period(s)", len(p.Scopes))))
		b.WriteString(scopeLines(p.Scopes))
	}
	if len(p.Recheck) > 0 {
		line(s.Dim.Render("Afterwards steady re-runs: " + strings.Join(p.Recheck, ", ")))
	}
	if next {
		b.WriteString("\n")
		b.WriteString(nextStep(c, a, w))
	}
	return strings.TrimRight(b.String(), "\n")
}

// planHeading is the plan's title, risk and whether it destroys anything.
func planHeading(s *Styles, a *session.ActionRun) string {
	p := a.Plan
	title := p.Title
	if title == "" {
		title = a.Action
	}
	risk := strings.ToUpper(string(p.Risk))
	if risk == "" {
		risk = "UNKNOWN"
	}
	kind := "not destructive"
	if p.Destructive {
		kind = "DESTRUCTIVE"
	}
	return s.Heading.Render("Plan: "+title) + "  " + riskStyle(s, p.Risk).Render("risk "+risk) + " · " + kind
}

// preconditionLines marks each precondition as holding or not.
func preconditionLines(s *Styles, pcs []actions.Precondition) []string {
	var out []string
	for _, pc := range pcs {
		mark, st := "✓", s.Good
		if !pc.Holds {
			mark, st = "✗", s.Bad
		}
		text := pc.Name
		if pc.Detail != "" {
			text += ": " + pc.Detail
		}
		if !pc.Holds && pc.Overridable {
			text += " (an operator may override it with a written reason)"
		}
		out = append(out, st.Render(mark)+" "+text)
	}
	return out
}

// factLines are the plan's facts, by name.
func factLines(facts map[string]string) []string {
	keys := make([]string, 0, len(facts))
	for k := range facts {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var out []string
	for _, k := range keys {
		out = append(out, k+": "+facts[k])
	}
	return out
}

// scopeLines lists the first ten clinician periods a plan covers.
func scopeLines(scopes []probes.Scope) string {
	var b strings.Builder
	for i, sc := range scopes {
		if i == 10 {
			b.WriteString(fmt.Sprintf("  … and %d more\n", len(scopes)-10))
			break
		}
		b.WriteString(fmt.Sprintf("  clinician %d, %s to %s\n", sc.Clinician, sc.From, sc.To))
	}
	return b.String()
}

// nextStep says what the operator can do with the plan now, or why
// nothing can be done.
func nextStep(c *common, a *session.ActionRun, w int) string {
	s := c.styles
	switch {
	case a.Outcome != nil:
		return ""
	case a.Running():
		return wrap(s.Label.Render("Running")+fmt.Sprintf(" since %s (confirmed by %s). ctrl+c cancels it.", c.clock(a.Started), confirmer(a)), w)
	}
	if hard := hardBlocks(a.Plan); len(hard) > 0 {
		var names []string
		for _, pc := range hard {
			names = append(names, pc.Name)
		}
		return wrap(s.Bad.Render("Cannot start: ")+strings.Join(names, ", ")+" must hold first. Fix that, then press enter to plan again.", w)
	}
	if !c.operator() {
		return wrap(s.Dim.Render("Only an operator can run this action."), w)
	}
	var parts []string
	if a.Plan.Destructive && a.Plan.ConfirmPhrase != "" {
		parts = append(parts, "type "+s.Phrase.Render(a.Plan.ConfirmPhrase)+" to confirm")
	}
	if len(a.Plan.Blocked()) > 0 {
		parts = append(parts, "give a reason to override the ✗ precondition")
	}
	msg := "Press enter to confirm and run it"
	if len(parts) > 0 {
		msg = "Press enter to confirm: " + strings.Join(parts, ", then ")
	}
	if len(c.st.Recheck) > 0 {
		msg += " (first re-run: " + strings.Join(c.st.Recheck, ", ") + ")"
	}
	return wrap(s.Label.Render(msg)+".", w)
}

// hardBlocks returns the preconditions that do not hold and cannot be
// overridden: with any of them the action cannot start.
func hardBlocks(p actions.Plan) []actions.Precondition {
	var out []actions.Precondition
	for _, pc := range p.Blocked() {
		if !pc.Overridable {
			out = append(out, pc)
		}
	}
	return out
}

func confirmer(a *session.ActionRun) string {
	if a.ConfirmedBy != nil {
		return a.ConfirmedBy.Name
	}
	return a.PlannedBy.Name
}

// outcomeView renders how an action ended.
func outcomeView(c *common, a *session.ActionRun, w int) string {
	s := c.styles
	o := a.Outcome
	if o == nil {
		return ""
	}
	st := s.Good
	switch o.Status {
	case actions.Failed, actions.Refused, actions.OutcomeUnknown:
		st = s.Bad
	case actions.Cancelled:
		st = s.Warning
	}
	head := st.Render("Outcome: "+strings.ToUpper(string(o.Status))) +
		fmt.Sprintf(" · exit %d · %s · %s", o.ExitCode, o.Duration.Round(time.Millisecond), c.clock(a.Finished))
	var b strings.Builder
	b.WriteString(wrap(head, w) + "\n")
	if o.Summary != "" {
		b.WriteString(wrap(o.Summary, w) + "\n")
	}
	if o.Error != "" {
		b.WriteString(wrap(s.Bad.Render("error: ")+o.Error, w) + "\n")
	}
	if a.Override != "" {
		b.WriteString(wrap(s.Warning.Render("overridden: ")+a.Override, w) + "\n")
	}
	for _, l := range o.ArtefactLines() {
		b.WriteString(indent(wrap(l, max(w-2, 10)), 2) + "\n")
	}
	if o.Status == actions.Succeeded || o.Status == actions.Failed {
		b.WriteString(wrap(s.Dim.Render("Press enter to plan it again."), w) + "\n")
	} else {
		b.WriteString(wrap(s.Dim.Render("Press enter to plan it again when the cause is dealt with."), w) + "\n")
	}
	return strings.TrimRight(b.String(), "\n")
}

func riskStyle(s *Styles, r actions.Risk) lipgloss.Style {
	switch r {
	case actions.High:
		return s.Bad
	case actions.Medium:
		return s.Warning
	}
	return s.Good
}

// stepView renders step i of a plan: its number and kind, the command or
// statement wrapped as code (so its continuation lines sit deeper than
// its first), and its note beneath as a comment, so that neither can be
// read as the next command.
func stepView(s *Styles, i int, st actions.Step, w int) string {
	prefix := fmt.Sprintf("%2d. %s ", i+1, stepPrefix(st.Kind))
	tw := max(w-len(prefix), 10)
	var lines []string
	for j, l := range codeLines(st.Text, tw) {
		lead := pad(len(prefix))
		if j == 0 {
			lead = prefix
		}
		lines = append(lines, lead+s.Code.Render(l))
	}
	if st.Note != "" {
		for j, l := range wrapLines(st.Note, max(tw-2, 8), 0) {
			mark := "# "
			if j > 0 {
				mark = "  "
			}
			lines = append(lines, pad(len(prefix))+s.Dim.Render(mark+l))
		}
	}
	return strings.Join(lines, "\n")
}

func stepPrefix(k actions.StepKind) string {
	switch k {
	case actions.StepCommand:
		return "$"
	case actions.StepSQL:
		return "SQL>"
	case actions.StepRedis:
		return "redis>"
	case actions.StepTask:
		return "task>"
	case actions.StepProbe:
		return "probe>"
	case actions.StepRow:
		return "save>"
	}
	return ">"
}

// outputLines renders one line of an action's output wrapped to w cells,
// with its stream marked so stderr reads as such without colour. Output
// is wrapped as code: a `$ …` line steady narrates, or a path a command
// prints, must not read as two.
func outputLines(s *Styles, l session.OutputLine, w int) []string {
	mark, style := "  ", s.Item
	switch l.Stream {
	case "stderr":
		mark, style = "! ", s.Warning
	case actions.StreamSteady:
		mark, style = "» ", s.Dim
	}
	lines := codeLines(l.Text, max(w-2, 8))
	for i, text := range lines {
		m := mark
		if i > 0 {
			m = "  "
		}
		switch l.Stream {
		case "stderr":
			lines[i] = style.Render(m) + text
		default:
			lines[i] = style.Render(m + text)
		}
	}
	return lines
}

// outputCutNote says how much of an action's output was cut.
func outputCutNote(s *Styles, a *session.ActionRun) string {
	return s.Dim.Render(fmt.Sprintf("[%d bytes cut from over-long lines; the journal has the rest]", a.OutputCut))
}

// progressLine renders an action's progress as a bar and a count. The bar
// is drawn here rather than with bubbles/progress: that one animates with
// a spring (and a dependency steady does not otherwise need), while this
// bar only has to be exact and cheap, and legible without colour.
func progressLine(s *Styles, a *session.ActionRun, w int) string {
	p := a.Progress
	if p == nil || p.Total <= 0 {
		return ""
	}
	label := fmt.Sprintf(" %d/%d", p.Done, p.Total)
	if p.Label != "" {
		label += " " + p.Label
	}
	bw := clamp(w-visibleWidth(label)-2, 5, 40)
	filled := clamp(p.Done*bw/p.Total, 0, bw)
	bar := "[" + s.Good.Render(strings.Repeat("#", filled)) + s.Dim.Render(strings.Repeat("-", bw-filled)) + "]"
	return truncate(bar+label, w)
}

func indent(s string, n int) string {
	p := pad(n)
	lines := strings.Split(s, "\n")
	for i := range lines {
		lines[i] = p + lines[i]
	}
	return strings.Join(lines, "\n")
}
