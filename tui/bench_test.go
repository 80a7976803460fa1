package tui

import (
	"fmt"
	"testing"

	tea "charm.land/bubbletea/v2"

	"steady/internal/session"
	"steady/probes"
)

// largeEvidence returns a model showing a probe result with rows rows of
// evidence, the detail pane focused on the table.
func largeEvidence(tb testing.TB, rows int) *Model {
	tb.Helper()
	s := openSession(tb)
	m := New(testOptions(s)).(*Model)
	m.Update(tea.WindowSizeMsg{Width: 120, Height: 40})
	table := probes.Table{Title: "audit log", Columns: []string{"id", "entity", "action", "timestamp", "user"}}
	for i := 0; i < rows; i++ {
		table.Rows = append(table.Rows, []string{fmt.Sprint(i), fmt.Sprintf("Shift %d", i%977), "UPDATE", "2026-03-01 02:59:59", "clerk"})
	}
	st := s.State()
	st.Probes = append(st.Probes, &session.ProbeRun{ID: "probe-big", Probe: "tui-test-audit", Item: "diagnosis-4", By: alice, Started: opened,
		Result: &probes.Result{Probe: "tui-test-audit", Status: probes.Fail, Summary: fmt.Sprintf("%d same-second writes", rows), Evidence: table}})
	st.Items["diagnosis-4"] = session.ItemState{Status: session.Failed, LastRun: "probe-big"}
	m.c.st = st
	m.list.selectItem("diagnosis-4")
	m.syncSelection()
	m.detail.refresh()
	m.focus = paneDetail
	m.detail.enter(true)
	return m
}

// A 10,000-row evidence table costs a frame what a small one does: only
// the rows in view are drawn.
func BenchmarkViewLargeEvidence(b *testing.B) {
	m := largeEvidence(b, 10000)
	if got := m.View().Content; len(got) == 0 {
		b.Fatal("empty view")
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		_ = m.View()
	}
}

// Scrolling through the big table stays cheap too (a key press, then a
// frame).
func BenchmarkScrollLargeEvidence(b *testing.B) {
	m := largeEvidence(b, 10000)
	down := keyPress("down")
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		m.Update(down)
		_ = m.View()
	}
}

func TestLargeEvidenceShowsItsRows(t *testing.T) {
	m := largeEvidence(t, 10000)
	view := normalise(m.View().Content)
	for _, want := range []string{"Evidence: audit log · 10000 rows · row 1", "Shift 0", "UPDATE"} {
		if !contains(view, want) {
			t.Errorf("view lacks %q:\n%s", want, view)
		}
	}
	for i := 0; i < 500; i++ {
		m.Update(keyPress("down"))
	}
	if view := normalise(m.View().Content); !contains(view, "row 501") || !contains(view, "Shift 500") {
		t.Errorf("after 500 rows down the table does not show row 501:\n%s", view)
	}
}
