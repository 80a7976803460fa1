package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"steady/session"
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
