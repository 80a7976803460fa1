package tui

import (
	"image/color"

	"charm.land/bubbles/v2/help"
	"charm.land/bubbles/v2/table"
	"charm.land/lipgloss/v2"
	"github.com/charmbracelet/colorprofile"

	"steady/internal/mdterm"
	"steady/internal/session"
	"steady/probes"
)

// Styles are one client's styles. They are built from the colour profile
// and background that client's terminal reported, so a local terminal and
// each SSH session get their own; nothing here is shared between clients.
//
// Every state that colour shows is also shown in words or glyphs ([FAIL],
// ✓/✗, "> " for the cursor), so a terminal without colour (NO_COLOR,
// TERM=dumb, an ASCII profile) loses nothing but the colour.
type Styles struct {
	// Profile and Dark are what the styles were built for.
	Profile colorprofile.Profile
	Dark    bool

	Title     lipgloss.Style
	Severity  lipgloss.Style
	Meta      lipgloss.Style
	Drill     lipgloss.Style
	Separator lipgloss.Style

	// Clock styles the escalation clock as its threshold nears.
	ClockCalm, ClockNear, ClockCrossed lipgloss.Style

	PaneTitle, PaneTitleFocused lipgloss.Style
	Section, SectionDone        lipgloss.Style
	Path                        lipgloss.Style
	Item, ItemSelected          lipgloss.Style
	Dim                         lipgloss.Style

	// Status styles the status tag of an item.
	Status map[session.ItemStatus]lipgloss.Style
	// Verdict styles a root cause's verdict.
	Verdict map[probes.Verdict]lipgloss.Style
	// Finding styles a finding or result by its status.
	Finding map[probes.Status]lipgloss.Style

	Heading   lipgloss.Style
	Label     lipgloss.Style
	Code      lipgloss.Style
	Good, Bad lipgloss.Style
	Warning   lipgloss.Style
	Phrase    lipgloss.Style

	BannerAlert, BannerWarn, BannerInfo lipgloss.Style
	Flash, FlashError                   lipgloss.Style

	Help  help.Styles
	Table table.Styles

	// Button styles the huh confirm buttons so the focused one is marked
	// even without colour.
	ButtonFocused, ButtonBlurred lipgloss.Style
	// Markdown styles runbook text.
	Markdown mdterm.Styles
}

// DefaultStyles returns the styles for a terminal with colour profile p and
// a dark (or light) background.
func DefaultStyles(p colorprofile.Profile, dark bool) *Styles {
	ld := lipgloss.LightDark(dark)
	var (
		red    = lipgloss.Color("1")
		green  = lipgloss.Color("2")
		yellow = lipgloss.Color("3")
		blue   = lipgloss.Color("4")
		cyan   = lipgloss.Color("6")
		subtle = ld(lipgloss.Color("243"), lipgloss.Color("245"))
	)
	plain := lipgloss.NewStyle()
	s := &Styles{
		Profile: p,
		Dark:    dark,

		Title:     plain.Bold(true),
		Severity:  plain.Bold(true).Foreground(red),
		Meta:      plain,
		Drill:     plain.Bold(true).Reverse(true).Foreground(yellow),
		Separator: plain.Foreground(subtle),

		ClockCalm:    plain,
		ClockNear:    plain.Bold(true).Foreground(yellow),
		ClockCrossed: plain.Bold(true).Reverse(true).Foreground(red),

		PaneTitle:        plain.Foreground(subtle),
		PaneTitleFocused: plain.Bold(true).Foreground(blue),
		Section:          plain.Bold(true),
		SectionDone:      plain.Bold(true).Foreground(green),
		Path:             plain.Italic(true),
		Item:             plain,
		ItemSelected:     plain.Reverse(true),
		Dim:              plain.Foreground(subtle),

		Heading: plain.Bold(true).Underline(true),
		Label:   plain.Bold(true),
		Code:    plain.Foreground(cyan),
		Good:    plain.Foreground(green),
		Bad:     plain.Bold(true).Foreground(red),
		Warning: plain.Foreground(yellow),
		Phrase:  plain.Bold(true).Underline(true),

		BannerAlert: plain.Bold(true).Reverse(true).Foreground(red),
		BannerWarn:  plain.Bold(true).Foreground(yellow),
		BannerInfo:  plain.Foreground(blue),
		Flash:       plain.Foreground(green),
		FlashError:  plain.Bold(true).Foreground(red),

		Help: help.DefaultStyles(dark),
		Table: table.Styles{
			Header:   plain.Bold(true).Padding(0, 1),
			Cell:     plain.Padding(0, 1),
			Selected: plain.Reverse(true),
		},

		ButtonFocused: plain.Bold(true).Reverse(true).Transform(func(s string) string { return "[ " + s + " ]" }),
		ButtonBlurred: plain.Transform(func(s string) string { return "  " + s + "  " }),
	}
	pal := palette{red: red, green: green, yellow: yellow, cyan: cyan, subtle: subtle}
	s.Status, s.Verdict, s.Finding = pal.statusStyles(plain), pal.verdictStyles(plain), pal.findingStyles(plain)
	s.Markdown = mdterm.Styles{
		Heading: plain.Bold(true), Strong: plain.Bold(true), Emph: plain.Italic(true), Strike: plain.Strikethrough(true),
		Code: s.Code, Link: plain.Underline(true).Foreground(blue), Quote: s.Dim, Rule: s.Dim, TableHeader: plain.Bold(true),
	}
	return s
}

// palette is the few colours the styles are made of.
type palette struct {
	red, green, yellow, cyan, subtle color.Color
}

// statusStyles is how an item shows in each status.
func (c palette) statusStyles(plain lipgloss.Style) map[session.ItemStatus]lipgloss.Style {
	return map[session.ItemStatus]lipgloss.Style{
		session.Todo:        plain.Foreground(c.subtle),
		session.Running:     plain.Foreground(c.cyan),
		session.ItemOK:      plain.Foreground(c.green),
		session.Warned:      plain.Foreground(c.yellow),
		session.Failed:      plain.Bold(true).Foreground(c.red),
		session.Errored:     plain.Bold(true).Foreground(c.red),
		session.ItemSkipped: plain.Foreground(c.subtle),
		session.Done:        plain.Foreground(c.green),
		session.Unknown:     plain.Bold(true).Foreground(c.yellow),
	}
}

// verdictStyles is how a cause shows with each verdict.
func (c palette) verdictStyles(plain lipgloss.Style) map[probes.Verdict]lipgloss.Style {
	return map[probes.Verdict]lipgloss.Style{
		probes.Confirmed: plain.Bold(true).Foreground(c.red),
		probes.RuledOut:  plain.Foreground(c.green),
		probes.Resolved:  plain.Bold(true).Foreground(c.green),
		probes.Unknown:   plain.Foreground(c.subtle),
	}
}

// findingStyles is how a finding shows with each status.
func (c palette) findingStyles(plain lipgloss.Style) map[probes.Status]lipgloss.Style {
	return map[probes.Status]lipgloss.Style{
		probes.OK:      plain.Foreground(c.green),
		probes.Warn:    plain.Foreground(c.yellow),
		probes.Fail:    plain.Bold(true).Foreground(c.red),
		probes.Error:   plain.Bold(true).Foreground(c.red),
		probes.Skipped: plain.Foreground(c.subtle),
	}
}

// statusStyle returns the style of an item status.
func (s *Styles) statusStyle(st session.ItemStatus) lipgloss.Style {
	if x, ok := s.Status[st]; ok {
		return x
	}
	return s.Item
}
