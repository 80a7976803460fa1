package actions

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"steady/internal/secret"
)

func TestBackupPlanShowsTheExactDumpWithoutThePassword(t *testing.T) {
	f := newFixture(t, fixtureOptions{})
	p := plan(t, "backup", f.env(nil), nil)
	db := f.tg.DBName()
	path := p.Facts[factPath]
	if filepath.Dir(path) != f.cfg.BackupDir || !strings.HasPrefix(filepath.Base(path), db+"-") || !strings.HasSuffix(path, "Z.dump") {
		t.Errorf("backup file %q: want <backup dir>/<db>-<UTC stamp>.dump", path)
	}
	if len(p.Steps) != 3 || !strings.HasPrefix(p.Steps[0].Text, "pg_dump --format=custom --compress=1 --no-password '--dbname=postgres://steady@") ||
		!strings.Contains(p.Steps[0].Note, path+".partial") ||
		p.Steps[1].Text != "pg_restore --file=/dev/null" || p.Steps[2].Text != "pg_restore --list "+path+".partial" {
		t.Errorf("steps:\n%+v", p.Steps)
	}
	for _, pw := range secret.Passwords(f.cfg.DB) {
		for _, s := range p.Steps {
			if strings.Contains(s.Text, pw) {
				t.Errorf("the password is on the command line: %s", s.Text)
			}
		}
	}
	for _, c := range p.Preconditions {
		if !c.Holds {
			t.Errorf("precondition %s does not hold: %s", c.Name, c.Detail)
		}
	}
	if p.Destructive || p.Risk != Low {
		t.Errorf("a backup is low risk and not destructive: %+v", p)
	}
}

func TestBackupTakesAndVerifiesADump(t *testing.T) {
	f := newFixture(t, fixtureOptions{})
	env := f.env(nil)
	p := plan(t, "backup", env, nil)
	out := newRecorder()
	o := execute(t, env, p, out)
	if o.Status != Succeeded {
		t.Fatalf("outcome %+v\n%s", o, out.text())
	}
	path := p.Facts[factPath]
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(data)
	want := map[string]string{
		ArtefactKind: "backup", ArtefactDatabase: f.tg.DBName(), ArtefactPath: path,
		ArtefactSHA256: hex.EncodeToString(sum[:]), ArtefactVerified: "true",
	}
	for k, v := range want {
		if o.Artefacts[k] != v {
			t.Errorf("artefact %s = %q, want %q", k, o.Artefacts[k], v)
		}
	}
	if o.Artefacts[ArtefactSize] != strconv.Itoa(len(data)) {
		t.Errorf("size %s, file has %d bytes", o.Artefacts[ArtefactSize], len(data))
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
		t.Errorf("backup mode %v, want 0600", fi.Mode().Perm())
	}
	if _, err := os.Stat(path + ".partial"); !os.IsNotExist(err) {
		t.Errorf("the .partial file is left behind: %v", err)
	}
	for _, pw := range secret.Passwords(f.cfg.DB) {
		if strings.Contains(out.text(), pw) || strings.Contains(o.Summary, pw) {
			t.Errorf("the password reached the output")
		}
	}
}

func TestBackupNeverOverwritesAFile(t *testing.T) {
	f := newFixture(t, fixtureOptions{})
	env := f.env(nil)
	p := plan(t, "backup", env, nil)
	path := p.Facts[factPath]
	// Someone (another steady?) wrote the same name after the plan.
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte("precious"), 0o600); err != nil {
		t.Fatal(err)
	}
	o := execute(t, env, p, nil)
	if o.Status != Refused || !strings.Contains(o.Summary, "never overwritten") {
		t.Errorf("outcome %+v, want refused: never overwritten", o)
	}
	if b, _ := os.ReadFile(path); string(b) != "precious" {
		t.Errorf("the existing file was changed: %q", b)
	}
	// Planning again picks a name that is free.
	again := plan(t, "backup", env, nil)
	if again.Facts[factPath] == path || !precondition(t, again, "backup file is new").Holds {
		t.Errorf("a new plan reuses %s", again.Facts[factPath])
	}
}

func TestBackupCorruptedOnTheWayFailsVerification(t *testing.T) {
	f := newFixture(t, fixtureOptions{})
	real, err := exec.LookPath("pg_dump")
	if err != nil {
		t.Fatal(err)
	}
	// A pg_dump whose output is cut short while it still says it ended
	// well, as a broken pipe or a failing copy would leave it.
	bin := t.TempDir()
	fake := `#!/bin/sh
` + real + ` "$@" | head -c 300
`
	if err := os.WriteFile(filepath.Join(bin, "pg_dump"), []byte(fake), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", bin+":"+os.Getenv("PATH"))
	env := f.env(nil)
	p := plan(t, "backup", env, nil)
	out := newRecorder()
	o := execute(t, env, p, out)
	if o.Status != Failed || !strings.Contains(o.Summary, "did not verify") {
		t.Fatalf("outcome %+v, want failed: did not verify\n%s", o, out.text())
	}
	if o.Artefacts[ArtefactVerified] == "true" {
		t.Error("a corrupt backup was recorded as verified")
	}
	if !strings.Contains(out.text(), "pg_restore") {
		t.Errorf("pg_restore's complaint is not in the output:\n%s", out.text())
	}
}

func TestBackupFreeSpaceGuard(t *testing.T) {
	dir := t.TempDir()
	cs := backupPreconditions(modePgDump, dir, filepath.Join(dir, "x.dump"), 1<<62, false)
	var space Precondition
	for _, c := range cs {
		if c.Name == "free disk space" {
			space = c
		}
	}
	if space.Holds || !space.Overridable || !strings.Contains(space.Detail, "free some space") {
		t.Errorf("a database larger than the disk: %+v", space)
	}
	p := &Plan{Preconditions: cs}
	if RefusedBy(p, &Env{}) == nil {
		t.Error("not refused without an override")
	}
	if o := RefusedBy(p, &Env{Override: "the dump compresses to 2% of the database"}); o != nil {
		t.Errorf("refused despite an override: %s", o.Summary)
	}
}

func TestBackupDumpdataMode(t *testing.T) {
	f := newFixture(t, fixtureOptions{})
	manage := f.script(t, "manage", `case "$1" in
dumpdata) echo '[{"model": "config.clinician", "pk": 1, "fields": {"name": "A"}},'
          echo ' {"model": "config.shift", "pk": 2, "fields": {}}]';;
*) echo "unknown $1" >&2; exit 2;;
esac`)
	f.cfg.Django.Manage = manage
	env := f.env(nil)
	p := plan(t, "backup", env, map[string]string{"mode": "dumpdata"})
	path := p.Facts[factPath]
	if len(p.Steps) != 1 || p.Steps[0].Text != manage+" dumpdata > "+path {
		t.Fatalf("steps %+v", p.Steps)
	}
	o := execute(t, env, p, nil)
	if o.Status != Succeeded || o.Artefacts["entries"] != "2" || o.Artefacts[ArtefactVerified] != "true" {
		t.Fatalf("outcome %+v", o)
	}

	// A dump cut short is caught.
	f.cfg.Django.Manage = f.script(t, "manage", `echo '[{"model": "config.clinician", "pk": 1, "fields": {}},'`)
	p = plan(t, "backup", env, map[string]string{"mode": "dumpdata"})
	if o := execute(t, env, p, nil); o.Status != Failed || !strings.Contains(o.Summary, "did not verify") {
		t.Errorf("truncated dumpdata: %+v", o)
	}
}

func TestBackupRemovesAFailedDump(t *testing.T) {
	f := newFixture(t, fixtureOptions{})
	f.cfg.Django.Manage = f.script(t, "manage", `echo '[' ; echo 'dumpdata: database gone' >&2; exit 1`)
	env := f.env(nil)
	p := plan(t, "backup", env, map[string]string{"mode": "dumpdata"})
	o := execute(t, env, p, nil)
	if o.Status != Failed || !strings.Contains(o.Summary, "removed") {
		t.Fatalf("outcome %+v", o)
	}
	if _, err := os.Stat(p.Facts[factPath]); !os.IsNotExist(err) {
		t.Errorf("the incomplete file is still there: %v", err)
	}
}

func TestLibpqConnKeepsThePasswordOffTheCommandLine(t *testing.T) {
	for _, tc := range []struct{ in, shown, env string }{
		{"postgres://app:s3cret@db:5432/app?sslmode=disable&pool_max_conns=4", "postgres://app@db:5432/app?sslmode=disable", "PGPASSWORD=s3cret"},
		{"postgres://app@db/app?password=s3cret", "postgres://app@db/app", "PGPASSWORD=s3cret"},
		{"host=db user=app password='s3 cret' dbname=app statement_cache_capacity=0", "host=db user=app dbname=app", "PGPASSWORD=s3 cret"},
		{"host=/run/postgresql dbname=app", "host=/run/postgresql dbname=app", ""},
	} {
		shown, env, err := libpqConn(tc.in)
		if err != nil {
			t.Errorf("%s: %v", tc.in, err)
			continue
		}
		if shown != tc.shown || strings.Join(env, " ") != tc.env {
			t.Errorf("%s: shown %q env %q, want %q %q", tc.in, shown, env, tc.shown, tc.env)
		}
	}
}

// A dump cut short keeps a readable table of contents: pg_restore --list
// passes on it. Reading every entry's data back is what catches it.
func TestACutShortBackupDoesNotVerify(t *testing.T) {
	f := newFixture(t, fixtureOptions{})
	env := f.env(nil)
	p := plan(t, "backup", env, nil)
	if o := execute(t, env, p, newRecorder()); o.Status != Succeeded {
		t.Fatalf("outcome %+v", o)
	}
	whole, err := os.ReadFile(p.Facts[factPath])
	if err != nil {
		t.Fatal(err)
	}
	cut := filepath.Join(t.TempDir(), "cut.dump")
	if err := os.WriteFile(cut, whole[:len(whole)*2/3], 0o600); err != nil {
		t.Fatal(err)
	}
	if _, o := verifyArchive(context.Background(), env, newRecorder(), pgRestoreListLine(cut), time.Now()); o != nil {
		t.Logf("pg_restore --list already fails on this cut: %s", o.Summary)
	}
	o := readArchive(context.Background(), env, newRecorder(), pgRestoreReadLine(cut), time.Now())
	if o == nil || o.Status != Failed || !strings.Contains(o.Summary, "did not verify") {
		t.Fatalf("reading a cut-short archive back: %+v", o)
	}
}
