package session

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// A journal that does not verify is never appended to: resuming it fails,
// saying where it breaks, and leaves the file exactly as it was.
func TestResumeRefusesAJournalThatDoesNotVerify(t *testing.T) {
	tests := []struct {
		name string
		edit func(path string, lines []string) []string
		want string
	}{
		{"a middle line removed", func(_ string, l []string) []string { return append(l[:2], l[3:]...) }, "line 3: event 3 missing"},
		{"an extra field", func(_ string, l []string) []string {
			l[1] = strings.Replace(l[1], `"type":`, `"x":1,"type":`, 1)
			return l
		}, `unknown field "x"`},
		{"the last line removed", func(_ string, l []string) []string { return l[:len(l)-1] }, "truncated after event"},
		{"its head file removed", func(path string, l []string) []string {
			if err := os.Remove(HeadPath(path)); err != nil {
				t.Fatal(err)
			}
			return l
		}, "head file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, dir := openTest(t, "")
			for _, n := range []string{"a", "b", "c"} {
				if err := s.Note(alice, "", n); err != nil {
					t.Fatal(err)
				}
			}
			path := s.JournalPath()
			if err := s.Shutdown(); err != nil {
				t.Fatal(err)
			}
			lines := strings.Split(strings.TrimSuffix(string(mustRead(t, path)), "\n"), "\n")
			writeLines(t, path, tt.edit(path, lines))
			before := mustRead(t, path)

			_, _, err := Resume(path, Options{Runbook: testRB(t), Dir: dir, Actor: alice})
			var de *DamagedError
			if !errors.As(err, &de) || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), "appends nothing") {
				t.Fatalf("resume: %v, want a DamagedError saying %q", err, tt.want)
			}
			if de.ID != s.ID() || de.Link().ID != s.ID() || !strings.Contains(de.Link().Why, tt.want) {
				t.Errorf("link to the damaged incident: %+v", de.Link())
			}
			if after := mustRead(t, path); !bytes.Equal(after, before) {
				t.Errorf("the refused journal changed:\n%s", after[len(before):])
			}
		})
	}
}

// A journal sealed when its incident closed takes nothing more.
func TestResumeRefusesASealedJournal(t *testing.T) {
	path, _ := closedJournal(t, 1)
	_, _, err := Resume(path, Options{Runbook: testRB(t), Dir: filepath.Dir(path), Actor: alice})
	if !errors.Is(err, ErrSealed) {
		t.Errorf("resume of a sealed journal: %v", err)
	}
}

// A journal damaged mid-file is still an unfinished incident (it must not
// pass for no incident at all, or a new one would open unseen), until a
// new incident links it.
func TestADamagedIncidentStaysListedUntilLinked(t *testing.T) {
	s, dir := openTest(t, "")
	if err := s.Note(alice, "", "a"); err != nil {
		t.Fatal(err)
	}
	path := s.JournalPath()
	if err := s.Shutdown(); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(string(mustRead(t, path)), "\n"), "\n")
	writeLines(t, path, []string{lines[0], "{broken", lines[1]})

	inf, ok := LatestUnfinished(dir)
	if !ok || inf.Path != path || !inf.Damaged {
		t.Fatalf("latest unfinished %+v %v, want the damaged %s", inf, ok, path)
	}
	de := Damaged(path)
	if de == nil {
		t.Fatal("Damaged says the journal verifies")
	}
	next, err := Open(Options{Runbook: testRB(t), Dir: dir, Actor: alice, Follows: de.Link(), Now: func() time.Time { return time.Now().Add(time.Second) }})
	if err != nil {
		t.Fatal(err)
	}
	defer next.Shutdown()
	if st := next.State(); st.Incident.Follows == nil || st.Incident.Follows.ID != s.ID() {
		t.Errorf("the new incident does not link the damaged one: %+v", st.Incident.Follows)
	}
	if inf, ok := LatestUnfinished(dir); !ok || inf.ID != next.ID() {
		t.Errorf("latest unfinished %+v %v, want the new incident %s", inf, ok, next.ID())
	}
}

func TestUnknownOutcomeSaysWhatToReRun(t *testing.T) {
	for _, tt := range []struct {
		recheck []string
		want    string
	}{
		{nil, "no probe tells its effect: check it by hand"},
		{[]string{"migrations"}, "re-run its probe migrations to see"},
		{[]string{"migrations", "summaries"}, "re-run its probes migrations and summaries to see"},
	} {
		if got := unknownOutcome(tt.recheck); !strings.Contains(got, tt.want) || strings.Contains(got, "()") {
			t.Errorf("unknownOutcome(%q) = %q, want it to say %q", tt.recheck, got, tt.want)
		}
	}
}
