package session

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// limitFileSize makes the disk refuse to grow any file of this process
// past n bytes, as a full disk does: the write that crosses the limit is
// cut short, the next one fails. It lasts until the test ends, so the test
// must not run in parallel with others.
func limitFileSize(t *testing.T, n int64) {
	t.Helper()
	var old syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_FSIZE, &old); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Setrlimit(syscall.RLIMIT_FSIZE, &syscall.Rlimit{Cur: uint64(n), Max: old.Max}); err != nil {
		t.Skipf("cannot limit the file size here: %v", err)
	}
	t.Cleanup(func() { _ = syscall.Setrlimit(syscall.RLIMIT_FSIZE, &old) })
}

func note(text string) Event {
	return Event{Time: time.Date(2026, 3, 14, 3, 0, 0, 0, time.UTC), Actor: alice, Type: TypeNoted, Data: []byte(`{"text":"` + text + `"}`)}
}

// A full disk takes part of a line and refuses the rest. The journal cuts
// that part off again, says which event it lost, and the next event that
// fits follows the last whole one: the file never breaks mid-way.
func TestAFullDiskNeverBreaksTheJournal(t *testing.T) {
	path := filepath.Join(t.TempDir(), "inc.jsonl")
	j, err := CreateJournal(path)
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	for i := range 3 {
		if _, err := j.Append(note(strings.Repeat("a", i+1))); err != nil {
			t.Fatal(err)
		}
	}
	before := mustRead(t, path)

	limitFileSize(t, int64(len(before))+400)
	_, err = j.Append(note(strings.Repeat("x", 2000)))
	var we *WriteError
	if !errors.As(err, &we) || we.Damaged || we.Type != TypeNoted {
		t.Fatalf("a line larger than the space left: %v, want a WriteError for %s", err, TypeNoted)
	}
	if after := mustRead(t, path); !bytes.Equal(after, before) {
		t.Fatalf("the refused event left %d bytes behind:\n%s", len(after)-len(before), after[len(before):])
	}
	e, err := j.Append(note("fits"))
	if err != nil {
		t.Fatalf("a small event after the refused one: %v", err)
	}
	if e.Seq != 4 {
		t.Errorf("the next event has sequence number %d, want 4 (the refused one took none)", e.Seq)
	}
	for range 3 {
		if _, err := j.Append(note(strings.Repeat("y", 300))); err == nil {
			t.Fatal("the disk is full, yet an event was recorded")
		}
	}

	v, err := Verify(bytes.NewReader(mustRead(t, path)))
	if err != nil || !v.OK() || v.Events != 4 {
		t.Errorf("after the refusals: %d events, problems %v, %v; want 4 and none", v.Events, v.Problems, err)
	}
}

// When even cutting the partial line back fails, the journal takes
// nothing more: a line written after a partial one would break it.
func TestADamagedJournalTakesNoMoreEvents(t *testing.T) {
	path := filepath.Join(t.TempDir(), "inc.jsonl")
	j, err := CreateJournal(path)
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	if _, err := j.Append(note("one")); err != nil {
		t.Fatal(err)
	}
	// A read-only descriptor fails both the write and the cut.
	ro, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	j.f.Close()
	j.f = ro
	if _, err := j.Append(note("two")); err == nil {
		t.Fatal("a write to a read-only file succeeded")
	}
	_, err = j.Append(note("three"))
	var we *WriteError
	if !errors.As(err, &we) || !we.Damaged || !strings.Contains(err.Error(), "writes nothing more") {
		t.Fatalf("after a failed cut: %v, want a refusal saying the journal is damaged", err)
	}
}

// A session whose journal refuses an event says so to whoever asks and
// wakes its subscribers, so every screen can show it.
func TestASessionSaysWhatTheJournalRefused(t *testing.T) {
	s, _ := openTest(t, "")
	sub := s.Subscribe()
	defer sub.Close()
	if err := s.Note(alice, "", "recorded"); err != nil {
		t.Fatal(err)
	}
	<-sub.C
	sub.Next()
	size := int64(len(mustRead(t, s.JournalPath())))

	limitFileSize(t, size+100)
	err := s.Note(alice, "", strings.Repeat("lost ", 100))
	var we *WriteError
	if !errors.As(err, &we) {
		t.Fatalf("note on a full disk: %v, want a WriteError", err)
	}
	select {
	case <-sub.C:
	case <-time.After(5 * time.Second):
		t.Fatal("the subscriber was not told")
	}
	f := s.JournalFailure()
	if f == nil || f.Lost != 1 || !errors.Is(f.Err, syscall.EFBIG) {
		t.Fatalf("journal failure %+v, want one lost event", f)
	}
	if st := s.State(); len(st.Notes) != 1 {
		t.Errorf("the state holds %d notes; the refused one must not be in it", len(st.Notes))
	}
}
