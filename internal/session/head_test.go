package session

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// closedJournal writes an incident of n notes, closes it and ends the
// session, as `steady run` does when the operator quits: the journal is
// sealed and its head file final.
func closedJournal(t *testing.T, n int) (path string, lines []string) {
	t.Helper()
	s, _ := openTest(t, "")
	for i := range n {
		if err := s.Note(alice, "", fmt.Sprintf("note %d", i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(alice, "all fixed"); err != nil {
		t.Fatal(err)
	}
	path = s.JournalPath()
	return path, strings.Split(strings.TrimSuffix(string(mustRead(t, path)), "\n"), "\n")
}

// rechain recomputes every hash from line from on, as someone who wants an
// edit to go unseen would.
func rechain(t *testing.T, lines []string) []string {
	t.Helper()
	out := make([]string, len(lines))
	prev := ""
	for i, l := range lines {
		e, err := decodeLine([]byte(l), newInterner())
		if err != nil {
			t.Fatal(err)
		}
		e.Seq, e.Prev = int64(i+1), prev
		out[i] = sealedLine(t, e)
		e2, _ := decodeLine([]byte(out[i]), newInterner())
		prev = e2.Hash
	}
	return out
}

// editNote returns lines with the note text from replaced by to.
func editNote(t *testing.T, lines []string, from, to string) []string {
	t.Helper()
	out := append([]string(nil), lines...)
	for i, l := range out {
		if strings.Contains(l, `"text":"`+from+`"`) {
			out[i] = strings.Replace(l, `"text":"`+from+`"`, `"text":"`+to+`"`, 1)
			return out
		}
	}
	t.Fatalf("no note %q", from)
	return nil
}

func writeLines(t *testing.T, path string, lines []string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
}

func mustVerifyFile(t *testing.T, path string, anchor *Head) *Verification {
	t.Helper()
	v, err := VerifyFile(path, anchor)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// The hash chain cannot see its own end cut off, or a line added with its
// hash recomputed, or every hash recomputed after an edit; the head file
// beside the journal can.
func TestTheHeadFileSeesTruncationAndRewriting(t *testing.T) {
	path, lines := closedJournal(t, 5)
	n := len(lines)
	if v := mustVerifyFile(t, path, nil); !v.OK() || !v.Sealed || v.Head.Seq != int64(n) || len(v.Checked) != 1 {
		t.Fatalf("the journal as written: %s %v", v.Summary(), v.Problems)
	}
	added := func() []string {
		e, err := decodeLine([]byte(lines[n-2]), newInterner())
		if err != nil {
			t.Fatal(err)
		}
		e.Data = []byte(`{"text":"all was well"}`)
		return rechain(t, append(append([]string(nil), lines...), sealedLine(t, e)))
	}
	edited := func() []string {
		return rechain(t, editNote(t, lines, "note 1", "nothing"))
	}
	tests := []struct {
		name  string
		lines []string
		want  string
	}{
		{"the last line removed", lines[:n-1], fmt.Sprintf("truncated after event %d: its head file %s records event %d as the last (1 event removed)", n-1, filepath.Base(HeadPath(path)), n)},
		{"three lines removed", lines[:n-3], fmt.Sprintf("truncated after event %d", n-3)},
		{"a line added, its hash recomputed", added(), fmt.Sprintf("rewritten: 1 event(s) after event %d", n)},
		{"a note edited, every hash recomputed", edited(), fmt.Sprintf("rewritten: event %d's hash is", n)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, err := Verify(strings.NewReader(strings.Join(tt.lines, "\n") + "\n"))
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(tt.name, "a line added") && !v.OK() {
				t.Fatalf("the chain alone should hold (that is the point): %v", v.Problems)
			}
			copyPath := filepath.Join(t.TempDir(), filepath.Base(path))
			writeLines(t, copyPath, tt.lines)
			if err := os.WriteFile(HeadPath(copyPath), mustRead(t, HeadPath(path)), 0o600); err != nil {
				t.Fatal(err)
			}
			v = mustVerifyFile(t, copyPath, nil)
			if v.OK() || !strings.Contains(v.Problems[len(v.Problems)-1].Msg, tt.want) {
				t.Errorf("problems %v, want %q", v.Problems, tt.want)
			}
		})
	}
}

// Someone who rewrites the journal and its head file together goes unseen
// by them; a head kept elsewhere (pasted in the postmortem) sees it.
func TestAHeadKeptElsewhereSeesWhatTheHeadFileCannot(t *testing.T) {
	path, lines := closedJournal(t, 5)
	anchor := mustVerifyFile(t, path, nil).Head
	l := rechain(t, editNote(t, lines, "note 1", "nothing"))
	writeLines(t, path, l)
	last, err := decodeLine([]byte(l[len(l)-1]), newInterner())
	if err != nil {
		t.Fatal(err)
	}
	forged := Head{Seq: last.Seq, Hash: last.Hash}
	if err := os.WriteFile(HeadPath(path), HeadFile{Head: forged}.bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	if v := mustVerifyFile(t, path, nil); !v.OK() {
		t.Fatalf("journal and head file rewritten together: %v (they are expected to agree)", v.Problems)
	}
	short := Head{Seq: anchor.Seq, Hash: anchor.Hash[:12]}
	v := mustVerifyFile(t, path, &short)
	if v.OK() || !strings.Contains(v.Problems[0].Msg, fmt.Sprintf("rewritten: event %d's hash is %s", anchor.Seq, forged.Hash[:16])) {
		t.Errorf("with the head kept elsewhere: %v", v.Problems)
	}
	truncated := Head{Seq: anchor.Seq + 3, Hash: anchor.Hash}
	if v := mustVerifyFile(t, path, &truncated); v.OK() || !strings.Contains(v.Problems[0].Msg, fmt.Sprintf("truncated after event %d: the head given names event %d (3 events removed)", anchor.Seq, anchor.Seq+3)) {
		t.Errorf("a head past the journal's end: %v", v.Problems)
	}
}

// A head taken mid-incident still holds once the incident went on: the
// events after it are noted, not refused.
func TestAHeadTakenEarlierHolds(t *testing.T) {
	s, _ := openTest(t, "")
	if err := s.Note(alice, "", "early"); err != nil {
		t.Fatal(err)
	}
	early := s.Head()
	if err := s.Note(alice, "", "later"); err != nil {
		t.Fatal(err)
	}
	v := mustVerifyFile(t, s.JournalPath(), &early)
	if !v.OK() || len(v.Notes) != 1 || !strings.Contains(v.Notes[0], "1 event(s) after the head given") {
		t.Errorf("%s, notes %v", v.Summary(), v.Notes)
	}
	if !strings.Contains(v.Summary(), "agrees with its head file and the head given") {
		t.Errorf("summary %q", v.Summary())
	}
}

// Removing the head file is not a way around it: a journal that says it
// keeps one is not verified without it.
func TestAMissingHeadFileIsAProblem(t *testing.T) {
	path, _ := closedJournal(t, 2)
	if err := os.Remove(HeadPath(path)); err != nil {
		t.Fatal(err)
	}
	v := mustVerifyFile(t, path, nil)
	if v.OK() || !strings.Contains(v.Problems[0].Msg, "is missing") {
		t.Errorf("problems %v", v.Problems)
	}
}

// A crash between the steps of an append leaves journal and head file in
// agreement: the head file names the event being written, which the
// journal holds or does not.
func TestACrashMidAppendLeavesJournalAndHeadAgreeing(t *testing.T) {
	path, lines := closedJournal(t, 3)
	n := len(lines)
	last, _ := decodeLine([]byte(lines[n-1]), newInterner())
	before, _ := decodeLine([]byte(lines[n-2]), newInterner())
	inFlight := HeadFile{Head: Head{Seq: before.Seq, Hash: before.Hash}, Next: &Head{Seq: last.Seq, Hash: last.Hash}}
	if err := os.WriteFile(HeadPath(path), inFlight.bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	if v := mustVerifyFile(t, path, nil); !v.OK() {
		t.Errorf("the line written, the head not yet updated: %v", v.Problems)
	}
	writeLines(t, path, lines[:n-1])
	if v := mustVerifyFile(t, path, nil); !v.OK() {
		t.Errorf("the head saying next, the line not written: %v", v.Problems)
	}
	writeLines(t, path, lines[:n-2])
	if v := mustVerifyFile(t, path, nil); v.OK() {
		t.Error("a line removed before the one being written went unseen")
	}
}

// Closing seals the journal when the session ends: nothing may follow the
// seal, and the journal refuses it.
func TestTheSealIsTheLastEvent(t *testing.T) {
	path, lines := closedJournal(t, 1)
	last, _ := decodeLine([]byte(lines[len(lines)-1]), newInterner())
	if last.Type != TypeSealed {
		t.Fatalf("the last event is %s, want %s", last.Type, TypeSealed)
	}
	e, _ := decodeLine([]byte(lines[len(lines)-3]), newInterner())
	after := rechain(t, append(append([]string(nil), lines...), sealedLine(t, e)))
	writeLines(t, path, after)
	tail, _ := decodeLine([]byte(after[len(after)-1]), newInterner())
	if err := os.WriteFile(HeadPath(path), HeadFile{Head: Head{Seq: tail.Seq, Hash: tail.Hash}}.bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	v := mustVerifyFile(t, path, nil)
	if v.OK() || !strings.Contains(v.Problems[0].Msg, "follows the seal") {
		t.Errorf("an event after the seal: %v", v.Problems)
	}

	j, err := CreateJournal(filepath.Join(t.TempDir(), "j.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	if _, err := j.Append(Event{Actor: System, Type: TypeSealed}); err != nil {
		t.Fatal(err)
	}
	if _, err := j.Append(note("late")); !errors.Is(err, ErrSealed) {
		t.Errorf("an append after the seal: %v", err)
	}
}

func TestHeadFileRoundTrip(t *testing.T) {
	hash := strings.Repeat("ab", 32)
	for _, hf := range []HeadFile{{}, {Head: Head{7, hash}}, {Head: Head{7, hash}, Next: &Head{8, hash}}} {
		path := filepath.Join(t.TempDir(), "x.head")
		if err := os.WriteFile(path, hf.bytes(), 0o600); err != nil {
			t.Fatal(err)
		}
		got, err := ReadHeadFile(path)
		if err != nil || got.Head != hf.Head || (got.Next == nil) != (hf.Next == nil) || got.Next != nil && *got.Next != *hf.Next {
			t.Errorf("%+v read back as %+v, %v", hf, got, err)
		}
	}
	if _, err := ReadHeadFile(filepath.Join(t.TempDir(), "none.head")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("a missing head file: %v", err)
	}
}
