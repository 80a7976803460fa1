package actions

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"steady/internal/sandbox"
	"steady/internal/sandbox/sandboxtest"
	"steady/internal/target"
)

// pgbackrestRepo gives an archiving test cluster a real pgBackRest
// repository: a configuration, a stanza "steady", and archive_command
// pushing WAL into it. It returns the command prefix that runs pgbackrest
// as the cluster's account (which owns the repository).
func pgbackrestRepo(t *testing.T, pg *sandbox.Postgres, dsn string) string {
	t.Helper()
	if _, err := exec.LookPath("pgbackrest"); err != nil {
		t.Fatal("pgbackrest is not installed: apt-get install pgbackrest (make deps does)")
	}
	dir, err := pg.Subdir("pgbackrest")
	if err != nil {
		t.Fatal(err)
	}
	conf := filepath.Join(dir, "pgbackrest.conf")
	body := fmt.Sprintf(`[global]
repo1-path=%[1]s/repo
log-path=%[1]s/log
lock-path=%[1]s/lock
spool-path=%[1]s/spool
log-level-console=warn
log-level-stderr=warn
log-level-file=off
start-fast=y
repo1-retention-full=2

[steady]
pg1-path=%[2]s/data
pg1-socket-path=%[2]s
pg1-port=%[3]d
pg1-user=%[4]s
`, dir, pg.Dir(), pg.Port(), sandbox.PostgresUser)
	if err := os.WriteFile(conf, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	command := "pgbackrest --config=" + conf
	damage(t, dsn, "ALTER SYSTEM SET archive_command = "+quoteLiteral(command+" --stanza=steady archive-push %p"))
	damage(t, dsn, `SELECT pg_reload_conf()`)
	if me, err := user.Current(); err != nil || me.Username != pg.OSUser() {
		command = "runuser -u " + pg.OSUser() + " -- " + command
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if b, err := exec.CommandContext(ctx, "sh", "-c", command+" --stanza=steady stanza-create").CombinedOutput(); err != nil {
		t.Fatalf("stanza-create: %v\n%s", err, b)
	}
	return command
}

// The pgbackrest mode runs the stanza's backup (the first incremental one
// taken as full), finds it in info, has pgBackRest verify it, and records
// its label; the next is incremental; the rehearsal restores it into a
// temporary directory.
func TestPgBackRestBacksUpAndVerifies(t *testing.T) {
	ctx := context.Background()
	pg := sandboxtest.ArchivingPostgres(t)
	dsn, err := pg.CreateDatabase(ctx, "app")
	if err != nil {
		t.Fatal(err)
	}
	command := pgbackrestRepo(t, pg, dsn)
	env := archivingEnv(t, pg, dsn)
	cfg := env.Target.Config()
	cfg.Actions.PgBackRest.Command = command
	cfg.Actions.PgBackRest.Stanza = "steady"

	p := plan(t, "backup", env, map[string]string{"mode": "pgbackrest"})
	for _, c := range p.Preconditions {
		if !c.Holds {
			t.Errorf("precondition %s does not hold: %s", c.Name, c.Detail)
		}
	}
	want := []string{
		target.Join(command, "--stanza=steady", "--type=incr", "backup"),
		target.Join(command, "--stanza=steady", "--output=json", "info"),
		target.Join(command, "--stanza=steady", "--output=text", "--verbose", "verify"),
	}
	if got := commandSteps(p); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("steps:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if !strings.Contains(strings.Join(p.Warnings, "\n"), "takes this incr backup as full") {
		t.Errorf("warnings %q: the first incremental backup is a full one", p.Warnings)
	}
	out := newRecorder()
	o := execute(t, env, p, out)
	if o.Status != Succeeded {
		t.Fatalf("outcome %+v\n%s", o, out.text())
	}
	a := o.Artefacts
	if a[ArtefactMethod] != modePgBackRest || !strings.HasSuffix(a[ArtefactLabel], "F") || a["type"] != "full" || a[ArtefactVerified] != "true" || !strings.Contains(o.Summary, "verified by pgbackrest verify") {
		t.Fatalf("artefacts %v, summary %s", a, o.Summary)
	}
	first := backupOf(o)

	damage(t, dsn, `CREATE TABLE marks AS SELECT generate_series(1, 1000) AS n`)
	p = plan(t, "backup", env, map[string]string{"mode": "pgbackrest"})
	o = execute(t, env, p, newRecorder())
	if o.Status != Succeeded || o.Artefacts["type"] != "incr" || !strings.HasPrefix(o.Artefacts[ArtefactLabel], first.Label+"_") {
		t.Fatalf("the second backup: %+v", o)
	}

	h := &history{backups: []Backup{first, backupOf(o)}}
	rp := plan(t, "restore-check", &Env{Target: env.Target, History: h, Run: "action-9"}, nil)
	for _, c := range rp.Preconditions {
		if !c.Holds {
			t.Errorf("restore-check precondition %s: %s", c.Name, c.Detail)
		}
	}
	out = newRecorder()
	ro := execute(t, &Env{Target: env.Target, History: h, Run: "action-9"}, rp, out)
	if ro.Status != Succeeded || ro.Artefacts[ArtefactLabel] != o.Artefacts[ArtefactLabel] {
		t.Fatalf("restore-check %+v\n%s", ro, out.text())
	}
	if _, err := os.Stat(rp.Facts[factPath]); !os.IsNotExist(err) {
		t.Errorf("the temporary directory %s is left behind: %v", rp.Facts[factPath], err)
	}
}

// A missing pgbackrest, or a stanza that was never created, is a named
// precondition with its fix.
func TestPgBackRestBadInput(t *testing.T) {
	f := newFixture(t, fixtureOptions{})
	f.cfg.Actions.PgBackRest.Stanza = "main"
	f.cfg.Actions.PgBackRest.Command = "/nonexistent/pgbackrest"
	p := plan(t, "backup", f.env(&history{}), map[string]string{"mode": "pgbackrest"})
	if c := precondition(t, p, "pgBackRest installed"); c.Holds || !strings.Contains(c.Detail, "apt-get install pgbackrest") {
		t.Errorf("not installed: %+v", c)
	}

	conf := filepath.Join(t.TempDir(), "pgbackrest.conf")
	if err := os.WriteFile(conf, []byte("[global]\nrepo1-path="+filepath.Join(t.TempDir(), "repo")+"\nlog-level-file=off\nlog-level-console=off\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	f.cfg.Actions.PgBackRest.Command = "pgbackrest --config=" + conf
	p = plan(t, "backup", f.env(&history{}), map[string]string{"mode": "pgbackrest"})
	if c := precondition(t, p, "pgBackRest stanza main ready"); c.Holds || !strings.Contains(c.Detail, "missing stanza path") || !strings.Contains(c.Detail, "stanza-create") {
		t.Errorf("stanza missing: %+v", c)
	}
	if o := execute(t, f.env(&history{}), p, nil); o.Status != Refused {
		t.Errorf("backed up into a missing stanza: %+v", o)
	}

	f.cfg.Actions.PgBackRest.Stanza = ""
	p = plan(t, "backup", f.env(&history{}), map[string]string{"mode": "pgbackrest"})
	if c := precondition(t, p, "pgBackRest stanza configured"); c.Holds || !strings.Contains(c.Detail, "actions.pgbackrest.stanza") {
		t.Errorf("no stanza: %+v", c)
	}
}
