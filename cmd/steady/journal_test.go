package main

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"steady/internal/sandbox/sandboxtest"
	"steady/internal/session"
	"steady/runbook"
)

// onlyJournal returns the one journal in dir, failing when there is not
// exactly one: a second would mean steady opened a new incident behind the
// operator's back.
func onlyJournal(t *testing.T, dir string) string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*.jsonl"))
	if err != nil || len(files) != 1 {
		t.Fatalf("journals in %s: %v %v, want exactly one", dir, files, err)
	}
	return files[0]
}

// A disk that fills up during `steady act backup` (the dump takes the
// space, then the journal meets the limit mid-line): act says the journal
// refused events, in its output and its exit status; the journal still
// verifies, and the next act records into the same incident.
func TestActOnAFullDiskKeepsTheJournalWhole(t *testing.T) {
	prlimit, err := exec.LookPath("prlimit")
	if err != nil {
		t.Skip("prlimit (util-linux) is needed to make the disk refuse writes")
	}
	a := newApp(t)
	journals, backups := t.TempDir(), t.TempDir()
	env := []string{"DATABASE_URL=" + a.db, "STEADY_JOURNAL_DIR=" + journals, "STEADY_BACKUP_DIR=" + backups}
	expect(t, runSteady(t, "", env, "act", "backup", "--plan"), 0, "Recorded as action-1")
	path := onlyJournal(t, journals)
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	// Room for the second plan and its confirmation, not for all that
	// follows; the dump, limited alike, fills its share first.
	limit := 2*fi.Size() + 1500
	full := []string{prlimit, "--fsize=" + strconv.FormatInt(limit, 10), "--"}
	r := runSteadyUnder(t, full, "", env, "act", "backup", "--yes", "--override", "x")
	expect(t, r, 1, "not recorded")
	if !strings.Contains(strings.ToLower(r.stdout+r.stderr), "file too large") {
		t.Errorf("act does not say why the journal refused events:\n%s%s", r.stdout, r.stderr)
	}

	if got := onlyJournal(t, journals); got != path {
		t.Fatalf("a new journal %s appeared", got)
	}
	expect(t, runSteady(t, "", nil, "report", "verify", path), 0, "ok")
	expect(t, runSteady(t, "", env, "act", "backup", "--plan"), 0, "Recorded as action-")
	onlyJournal(t, journals)
	if _, _, err := session.ReadJournal(path); err != nil {
		t.Errorf("the journal does not read back: %v", err)
	}
}

// writeIncident writes an incident of n notes with the built-in runbook
// and returns its journal.
func writeIncident(t *testing.T, dir string, n int) string {
	t.Helper()
	rb, err := runbook.Load("", "", known())
	if err != nil {
		t.Fatal(err)
	}
	s, err := session.Open(session.Options{Runbook: rb, Dir: dir, Actor: session.Actor{Name: "alice", Via: "cli", Role: session.Operator}})
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		if err := s.Note(session.Actor{Name: "alice", Via: "cli", Role: session.Operator}, "", fmt.Sprintf("note %d", i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Shutdown(); err != nil {
		t.Fatal(err)
	}
	return s.JournalPath()
}

// editLines rewrites a journal through edit.
func editLines(t *testing.T, path string, edit func([]string) []string) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := edit(strings.Split(strings.TrimSuffix(string(data), "\n"), "\n"))
	if err := os.WriteFile(path, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
}

// One removed line is one problem, named by its line, in `report verify`
// and in the report, which says so in a section of its own and exits 1.
func TestReportNamesOneRemovedLineOnce(t *testing.T) {
	dir := t.TempDir()
	path := writeIncident(t, dir, 60)
	editLines(t, path, func(l []string) []string { return append(l[:11], l[12:]...) })

	r := runSteady(t, dir, nil, "report", "verify", path)
	expect(t, r, 1, path+":12: event 12 missing", "NOT VERIFIED: 1 problem, at line 12")
	if n := strings.Count(r.stdout, path+":"); n != 2 {
		t.Errorf("%d lines name the journal, want the problem and the summary:\n%s", n, r.stdout)
	}
	out := filepath.Join(dir, "postmortem.md")
	r = runSteady(t, dir, nil, "report", path, "-o", out)
	expect(t, r, 1, "does not verify")
	md, err := os.ReadFile(out)
	if err != nil {
		t.Fatalf("no report was written: %v", err)
	}
	for _, want := range []string{"**NOT VERIFIED**: 1 problem, see Journal integrity below", "## Journal integrity", "- line 12: event 12 missing"} {
		if !strings.Contains(string(md), want) {
			t.Errorf("the report lacks %q", want)
		}
	}
}

// reseal recomputes every hash of a journal's lines, as someone who wants
// an edit to go unseen by the hash chain would.
func reseal(t *testing.T, lines []string) []string {
	t.Helper()
	prev := ""
	out := make([]string, len(lines))
	for i, l := range lines {
		events, _, err := session.ReadEvents(strings.NewReader(l + "\n"))
		if err != nil || len(events) != 1 {
			t.Fatalf("line %d: %v", i+1, err)
		}
		e := events[0]
		e.Seq, e.Prev, e.Hash = int64(i+1), prev, ""
		body, err := json.Marshal(e)
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(body)
		e.Hash = hex.EncodeToString(sum[:])
		line, err := json.Marshal(e)
		if err != nil {
			t.Fatal(err)
		}
		out[i], prev = string(line), e.Hash
	}
	return out
}

// What the hash chain alone let through: the last lines removed, a line
// added with its hash recomputed, a note edited and every hash
// recomputed. `report verify` says truncated or rewritten, and with a head
// kept elsewhere it sees even journal and head file rewritten together.
func TestVerifySeesTruncationAndRewriting(t *testing.T) {
	dir := t.TempDir()
	path := writeIncident(t, dir, 6)
	r := runSteady(t, dir, nil, "report", "verify", path)
	expect(t, r, 0, "ok, 7 events, hash chain intact, head 7:", "agrees with its head file")
	head := strings.TrimSpace(r.stdout[strings.Index(r.stdout, "head 7:")+5:])
	head = head[:strings.IndexAny(head, " ;,\n")]
	original, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	restore := func() {
		if err := os.WriteFile(path, original, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name string
		edit func([]string) []string
		want string
	}{
		{"the last line removed", func(l []string) []string { return l[:len(l)-1] }, "truncated after event 6"},
		{"two lines removed", func(l []string) []string { return l[:len(l)-2] }, "truncated after event 5"},
		{"a line added, its hash recomputed", func(l []string) []string { return reseal(t, append(l, l[len(l)-1])) }, "rewritten: 1 event(s) after event 7"},
		{"a note edited, every hash recomputed", func(l []string) []string {
			l[3] = strings.Replace(l[3], "note 2", "nothing happened", 1)
			return reseal(t, l)
		}, "rewritten: event 7's hash is"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			defer restore()
			editLines(t, path, tt.edit)
			expect(t, runSteady(t, dir, nil, "report", "verify", path), 1, tt.want, "NOT VERIFIED")
		})
	}

	// Journal and head file rewritten together: only the head kept
	// elsewhere tells.
	editLines(t, path, func(l []string) []string {
		l[3] = strings.Replace(l[3], "note 2", "nothing happened", 1)
		return reseal(t, l)
	})
	out := runSteady(t, dir, nil, "report", "verify", path)
	if out.code != 1 {
		t.Fatalf("before the head file is forged too: %s", out.stdout)
	}
	forged := out.stdout[strings.Index(out.stdout, "hash is ")+8:]
	forged = strings.TrimSuffix(forged[:strings.Index(forged, "…")], "…")
	events, _, _ := session.ReadEvents(strings.NewReader(string(mustReadFile(t, path))))
	last := events[len(events)-1]
	if !strings.HasPrefix(last.Hash, forged) {
		t.Fatalf("forged hash %q is not the journal's %q", forged, last.Hash)
	}
	hf := fmt.Sprintf("%-95s\n%-95s\n", fmt.Sprintf("%d:%s", last.Seq, last.Hash), "")
	if err := os.WriteFile(session.HeadPath(path), []byte(hf), 0o600); err != nil {
		t.Fatal(err)
	}
	expect(t, runSteady(t, dir, nil, "report", "verify", path), 0, "ok")
	expect(t, runSteady(t, dir, nil, "report", "verify", "--head", head, path), 1, "rewritten: event 7's hash is")
	expect(t, runSteady(t, dir, nil, "report", "verify", "--head", "7:zz", path), 2, "not a head")
}

func mustReadFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// A journal broken mid-file is never appended to: `steady run --resume`
// (or `steady --resume`) and `steady act` say where it breaks and exit 1, and no incident opens
// behind the operator's back; --new goes on in a new incident that links
// the damaged one, and later commands record into that.
func TestADamagedJournalIsNotResumedButLinked(t *testing.T) {
	journals := t.TempDir()
	path := writeIncident(t, journals, 12)
	editLines(t, path, func(l []string) []string {
		l[5] = l[5][:len(l[5])/2]
		return l
	})
	env := []string{"DATABASE_URL=" + sandboxtest.Database(t), "STEADY_JOURNAL_DIR=" + journals, "STEADY_BACKUP_DIR=" + t.TempDir()}

	r := runSteady(t, "", env, "act", "backup", "--plan")
	expect(t, r, 1, "does not verify (line 6: damaged: not valid JSON", "steady appends nothing", "steady act backup --new")
	onlyJournal(t, journals)
	// The root runs the same incident as `steady run`, with its flags.
	for _, args := range [][]string{{"run", "--resume", path}, {"--resume", path}} {
		r = runSteady(t, "", env, args...)
		expect(t, r, 1, "does not verify (line 6", "steady run --new")
		onlyJournal(t, journals)
	}

	r = runSteady(t, "", env, "act", "backup", "--plan", "--new")
	expect(t, r, 0, "it continues incident", "its journal does not verify: line 6")
	r = runSteady(t, "", env, "act", "backup", "--plan")
	expect(t, r, 0, "Recorded as action-2")
	list, err := session.List(journals)
	if err != nil || len(list) != 2 {
		t.Fatalf("journals %+v %v, want the damaged one and the one that continues it", list, err)
	}
	newer := list[0]
	events, _, err := session.ReadJournal(newer.Path)
	if err != nil {
		t.Fatal(err)
	}
	var opened session.Opened
	if err := events[0].Decode(&opened); err != nil || opened.Follows == nil || opened.Follows.Journal != filepath.Base(path) {
		t.Errorf("the new incident's link: %+v %v", opened.Follows, err)
	}
	out := filepath.Join(t.TempDir(), "pm.md")
	expect(t, runSteady(t, "", env, "report", newer.Path, "-o", out), 0)
	if md := string(mustReadFile(t, out)); !strings.Contains(md, "| Continues | `"+opened.Follows.ID+"`") {
		t.Errorf("the report does not say which incident it continues:\n%s", md[:min(len(md), 1500)])
	}
}
