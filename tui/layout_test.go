package tui

import (
	"strings"
	"testing"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"
)

func TestComputeLayout(t *testing.T) {
	tests := []struct {
		name         string
		w, h, banner int
		want         layout
	}{
		{"80x24 splits", 80, 24, 0, layout{Width: 80, Height: 24, Header: 2, Footer: 1, Body: 21, List: 32, Gap: 1, Detail: 47}},
		{"wide terminal caps the checklist", 200, 50, 0, layout{Width: 200, Height: 50, Header: 2, Footer: 1, Body: 47, List: 56, Gap: 1, Detail: 143}},
		{"banners take lines from the body", 80, 24, 2, layout{Width: 80, Height: 24, Header: 2, Footer: 1, Banner: 2, Body: 19, List: 32, Gap: 1, Detail: 47}},
		{"banners never take more than a third", 80, 24, 30, layout{Width: 80, Height: 24, Header: 2, Footer: 1, Banner: 7, Body: 14, List: 32, Gap: 1, Detail: 47}},
		{"narrow: one pane", 59, 30, 0, layout{Width: 59, Height: 30, Single: true, Header: 2, Footer: 1, Body: 27, List: 59, Detail: 59}},
		{"short: one pane, one header line", 80, 15, 0, layout{Width: 80, Height: 15, Single: true, Header: 1, Footer: 1, Body: 13, List: 80, Detail: 80}},
		{"40x10", 40, 10, 1, layout{Width: 40, Height: 10, Single: true, Header: 1, Footer: 1, Banner: 1, Body: 7, List: 40, Detail: 40}},
		{"3 lines: header and body", 20, 3, 0, layout{Width: 20, Height: 3, Single: true, Header: 1, Body: 2, List: 20, Detail: 20}},
		{"1x1", 1, 1, 3, layout{Width: 1, Height: 1, Single: true, Body: 1, List: 1, Detail: 1}},
		{"0x0", 0, 0, 0, layout{Single: true}},
		{"negative", -5, -5, 0, layout{Single: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := computeLayout(tt.w, tt.h, tt.banner)
			if got != tt.want {
				t.Errorf("computeLayout(%d, %d, %d) =\n %+v\nwant\n %+v", tt.w, tt.h, tt.banner, got, tt.want)
			}
			if got.Height > 0 && got.Header+got.Banner+got.Body+got.Footer != got.Height {
				t.Errorf("rows add up to %d, not %d", got.Header+got.Banner+got.Body+got.Footer, got.Height)
			}
			if !got.Single && got.List+got.Gap+got.Detail != got.Width {
				t.Errorf("columns add up to %d, not %d", got.List+got.Gap+got.Detail, got.Width)
			}
		})
	}
}

// The screen never draws outside the terminal and never panics, at any
// size down to 1x1, on every page and with a dialog open.
func TestViewFitsEverySize(t *testing.T) {
	s := openSession(t)
	m := New(testOptions(s)).(*Model)
	m.Update(tea.WindowSizeMsg{Width: 80, Height: 24})
	sizes := [][2]int{{1, 1}, {2, 1}, {1, 5}, {10, 3}, {20, 5}, {40, 10}, {59, 15}, {60, 16}, {80, 24}, {132, 43}, {300, 80}}
	states := []struct {
		name  string
		setup func()
	}{
		{"main", func() {}},
		{"causes", func() { m.page = pageCauses }},
		{"help", func() { m.page = pageHelp }},
		{"related", func() { m.page = pageRelated }},
		{"detail focused", func() { m.page = pageMain; m.focus = paneDetail }},
		{"note dialog", func() { m.focus = paneList; m.openDialog(newNoteDialog(m.c, m.list.selectedItem())) }},
		{"resume report", func() {
			m.dialog = nil
			m.resume = []string{"Resumed from 12 events.", "Re-run these probes before anything else: tui-test-migrations."}
		}},
	}
	for _, st := range states {
		st.setup()
		for _, sz := range sizes {
			m.Update(tea.WindowSizeMsg{Width: sz[0], Height: sz[1]})
			out := m.View().Content
			lines := strings.Split(out, "\n")
			if out != "" && len(lines) > sz[1] {
				t.Errorf("%s at %dx%d: %d lines", st.name, sz[0], sz[1], len(lines))
			}
			for i, l := range lines {
				if w := ansi.StringWidth(l); w > sz[0] {
					t.Errorf("%s at %dx%d: line %d is %d cells wide: %q", st.name, sz[0], sz[1], i, w, ansi.Strip(l))
				}
			}
		}
	}
}
