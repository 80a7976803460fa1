package tui

import (
	"strings"
	"testing"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/colorprofile"
)

func colorProfile(p colorprofile.Profile) tea.ColorProfileMsg { return tea.ColorProfileMsg{Profile: p} }

func TestFilterItems(t *testing.T) {
	h := start(t, testOptions(openSession(t)), 80, 24)
	h.waitText("Shift counts do not ad")
	h.press("/")
	h.typeText("migration")
	h.waitText("filter", "Check that every migra", "Incomplete migration")
	h.waitGone("Shift counts do not ad")
	h.press("enter")
	h.waitText("filter: migration (esc clears)")
	h.press("esc")
	h.waitText("Shift counts do not ad")
}

func TestRelatedRunbookIsReadOnly(t *testing.T) {
	s := openSession(t)
	h := start(t, testOptions(s), 80, 24)
	h.waitText("Checklist")
	h.press("o")
	h.waitText("Related runbooks", "tui-test-other")
	h.press("enter")
	h.waitText("Calculation failures (read-only)", "Celery calculation tasks fail")
	h.press("esc")
	h.waitText("Related runbooks")
	h.press("esc")
	h.waitText("Checklist")
	if n := len(s.State().Probes) + len(s.State().Actions); n != 0 {
		t.Errorf("reading a related runbook started %d runs", n)
	}
}

func TestDrillBanner(t *testing.T) {
	o := testOptions(openSession(t))
	o.Drill = "stale-cache"
	h := start(t, o, 80, 24)
	h.waitText(" DRILL: stale-cache ", "Figures disagree")
}

// An observer watches, ticks and takes notes; running is not offered.
func TestObserver(t *testing.T) {
	s := openSession(t)
	o := testOptions(s)
	o.Actor = bob
	h := start(t, o, 80, 24)
	h.waitText("bob (observer)")
	h.press("R")
	h.waitText("You are an observer: running probes")
	h.press("space")
	h.waitText("> [x]    Shift counts")
	h.press("?")
	h.waitText("Status tags")
	if strings.Contains(h.term.String(), "run probe") {
		t.Error("the help offers an observer to run probes")
	}
	st := s.State()
	if len(st.Probes) != 0 {
		t.Errorf("an observer's R started %d probes", len(st.Probes))
	}
	if it := st.Items["symptoms-1"]; !it.Checked || it.By.Name != "bob" {
		t.Errorf("symptoms-1 = %+v, want ticked by bob", it)
	}
}

// Every client draws with its own styles: an ASCII client and a colour
// client of the same incident do not share a renderer or a profile.
func TestStylesArePerClient(t *testing.T) {
	s := openSession(t)
	a := New(testOptions(s)).(*Model)
	b := New(testOptions(s)).(*Model)
	a.Update(colorProfile(colorprofile.Ascii))
	b.Update(colorProfile(colorprofile.TrueColor))
	if a.c.styles == b.c.styles || a.c.md == b.c.md || a.c.keys == b.c.keys {
		t.Fatal("two clients share styles, keys or the Markdown cache")
	}
	if a.c.styles.Profile == b.c.styles.Profile {
		t.Errorf("both clients draw for the %v profile", a.c.styles.Profile)
	}
}
