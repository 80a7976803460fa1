package tui

import (
	"strings"

	"github.com/charmbracelet/x/ansi"
)

// Below these sizes the checklist and the detail share one pane, shown one
// at a time.
const (
	minSplitWidth  = 60
	minSplitHeight = 16
)

// layout is where everything goes on a screen of a given size. It is a pure
// function of the size and of how many banner lines want room, so it can be
// tested at every size down to 1x1.
type layout struct {
	Width, Height int
	// Single is true when only one pane fits.
	Single bool
	Header int // header lines
	Banner int // banner lines actually shown
	Footer int // footer lines
	Body   int // lines for the panes (or a page)
	// List and Detail are the pane widths; Gap is the separator between
	// them. In single-pane mode both are the full width.
	List, Detail, Gap int
}

// computeLayout lays out a w×h screen with room asked for banner lines.
func computeLayout(w, h, banner int) layout {
	w, h = max(w, 0), max(h, 0)
	l := layout{Width: w, Height: h}
	l.Single = w < minSplitWidth || h < minSplitHeight
	switch {
	case h >= minSplitHeight:
		l.Header = 2
	case h >= 3:
		l.Header = 1
	}
	if h >= 4 {
		l.Footer = 1
	}
	room := h - l.Header - l.Footer
	// Banners may take a third of what is left, but never the last lines
	// of the body: an operator must still see the checklist.
	if banner > 0 && room >= 2 {
		l.Banner = clamp(banner, 1, max(room/3, 1))
	}
	l.Body = max(room-l.Banner, 0)
	if l.Single {
		l.List, l.Detail = w, w
		return l
	}
	l.Gap = 1
	l.List = clamp(w*2/5, 30, 56)
	l.Detail = w - l.List - l.Gap
	return l
}

func clamp(v, lo, hi int) int {
	return min(max(v, lo), hi)
}

// fit cuts s to at most h lines of at most w cells, so that no view can
// draw outside the screen whatever its parts return.
func fit(s string, w, h int) string {
	if w <= 0 || h <= 0 {
		return ""
	}
	lines := strings.Split(s, "\n")
	if len(lines) > h {
		lines = lines[:h]
	}
	for i, l := range lines {
		if ansi.StringWidth(l) > w {
			lines[i] = ansi.Truncate(l, w, "")
		}
	}
	return strings.Join(lines, "\n")
}

// box pads or cuts s to exactly w×h cells, so that panes placed side by
// side line up.
func box(s string, w, h int) string {
	if w <= 0 || h <= 0 {
		return ""
	}
	lines := strings.Split(s, "\n")
	if len(lines) > h {
		lines = lines[:h]
	}
	var b strings.Builder
	for i := 0; i < h; i++ {
		if i > 0 {
			b.WriteByte('\n')
		}
		var l string
		if i < len(lines) {
			l = lines[i]
		}
		lw := ansi.StringWidth(l)
		if lw > w {
			l = ansi.Truncate(l, w, "")
			lw = ansi.StringWidth(l)
		}
		b.WriteString(l)
		if lw < w {
			b.WriteString(strings.Repeat(" ", w-lw))
		}
	}
	return b.String()
}

// truncate cuts a one-line string to w cells with an ellipsis.
func truncate(s string, w int) string {
	if w <= 0 {
		return ""
	}
	if ansi.StringWidth(s) <= w {
		return s
	}
	return ansi.Truncate(s, w, "…")
}

// sideBySide joins two boxes of height h with a one-cell gap.
func sideBySide(left, gap, right string, h int) string {
	ls := strings.Split(left, "\n")
	rs := strings.Split(right, "\n")
	gs := strings.Split(gap, "\n")
	var b strings.Builder
	for i := 0; i < h; i++ {
		if i > 0 {
			b.WriteByte('\n')
		}
		if i < len(ls) {
			b.WriteString(ls[i])
		}
		if i < len(gs) {
			b.WriteString(gs[i])
		}
		if i < len(rs) {
			b.WriteString(rs[i])
		}
	}
	return b.String()
}

// visibleWidth is the width of a string in cells, escape sequences aside.
func visibleWidth(s string) int { return ansi.StringWidth(s) }
