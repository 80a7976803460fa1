package actions

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"steady/internal/config"
	"steady/internal/secret"
)

func notConfigured(t *testing.T, id string, env *Env, key string) {
	t.Helper()
	a, _ := Get(id)
	_, err := a.Plan(context.Background(), env, nil)
	var nc *NotConfiguredError
	if !errors.As(err, &nc) || nc.Key != key || !strings.Contains(err.Error(), key) {
		t.Errorf("%s without %s: err %v, want a NotConfiguredError naming it", id, key, err)
	}
}

func TestCheckAndRunTests(t *testing.T) {
	f := newFixture(t, fixtureOptions{})
	env := f.env(nil)
	notConfigured(t, "check", env, "django.manage")
	notConfigured(t, "run-tests", env, "django.test")

	f.cfg.Django.Manage = f.script(t, "manage", `echo "System check identified no issues (0 silenced)."`)
	p := plan(t, "check", env, nil)
	if len(p.Steps) != 1 || p.Steps[0].Text != f.cfg.Django.Manage+" check" || p.Destructive {
		t.Errorf("check plan %+v", p)
	}
	out := newRecorder()
	if o := execute(t, env, p, out); o.Status != Succeeded || !strings.Contains(out.text(), "no issues") {
		t.Errorf("check: %+v\n%s", o, out.text())
	}

	f.cfg.Django.Test = "echo 'Ran 12 tests'; echo 'FAILED (failures=1)' >&2; exit 1"
	p = plan(t, "run-tests", env, nil)
	if p.Steps[0].Text != f.cfg.Django.Test {
		t.Errorf("run-tests step %q", p.Steps[0].Text)
	}
	out = newRecorder()
	o := execute(t, env, p, out)
	if o.Status != Failed || o.ExitCode != 1 || !strings.Contains(out.text(), "stderr: FAILED (failures=1)") {
		t.Errorf("failing tests: %+v\n%s", o, out.text())
	}
	// Why a command failed is in its outcome, which the screen, the
	// journal and the report show, not only in the output that scrolls.
	f.cfg.Django.Test = "echo 'Ran 12 tests'; i=0; while [ $i -lt 20 ]; do echo \"noise $i\" >&2; i=$((i+1)); done; " +
		"printf 'pg_dump: error: could not write to output file: No space left on device\\033[2J\\n' >&2; exit 1"
	o = execute(t, env, plan(t, "run-tests", env, nil), newRecorder())
	if !strings.Contains(o.Summary, "failed: exit 1") || !strings.Contains(o.Summary, "it said: noise 18 / noise 19 / pg_dump: error: could not write to output file: No space left on device") {
		t.Errorf("the outcome does not quote the end of stderr: %q", o.Summary)
	}
	if strings.ContainsRune(o.Summary, 0x1b) {
		t.Errorf("a control character of the command's stderr reached the outcome: %q", o.Summary)
	}
}

func TestCommandOutputIsScrubbedOfSecrets(t *testing.T) {
	f := newFixture(t, fixtureOptions{})
	// pg_dump and friends quote their connection string in errors.
	f.cfg.Django.Test = "echo \"connection to $DATABASE_URL_FOR_TEST failed\" >&2; exit 2"
	t.Setenv("DATABASE_URL_FOR_TEST", f.cfg.DB)
	env := f.env(nil)
	out := newRecorder()
	o := execute(t, env, plan(t, "run-tests", env, nil), out)
	pws := secret.Passwords(f.cfg.DB)
	if len(pws) == 0 || strings.Contains(out.text(), pws[0]) || !strings.Contains(out.text(), "***") {
		t.Errorf("the password was not scrubbed:\n%s", out.text())
	}
	if strings.Contains(o.Summary, pws[0]) || !strings.Contains(o.Summary, "it said: connection to") {
		t.Errorf("the outcome quotes stderr unscrubbed, or not at all: %q", o.Summary)
	}
}

func TestRestartRunsEachCommandWithAHealthCheck(t *testing.T) {
	f := newFixture(t, fixtureOptions{})
	env := f.env(nil)
	notConfigured(t, "restart", env, "django.restart")

	log := filepath.Join(t.TempDir(), "log")
	f.cfg.Django.Restart = []string{"echo web >> " + log, "echo worker >> " + log}
	p := plan(t, "restart", env, map[string]string{"health_timeout": "2s"})
	var kinds []string
	for _, s := range p.Steps {
		kinds = append(kinds, string(s.Kind)+" "+s.Text)
	}
	want := "command echo web >> " + log + "|probe connectivity|redis LLEN celery|command echo worker >> " + log + "|probe connectivity|redis LLEN celery"
	if strings.Join(kinds, "|") != want {
		t.Errorf("steps\n%s\nwant\n%s", strings.Join(kinds, "|"), want)
	}
	if !p.Destructive || p.ConfirmPhrase != f.tg.DBName() {
		t.Errorf("restart must be confirmed with the database name: %+v", p)
	}
	out := newRecorder()
	if o := execute(t, env, p, out); o.Status != Succeeded {
		t.Fatalf("outcome %+v\n%s", o, out.text())
	}
	if !strings.Contains(out.text(), "queue celery draining: 0 → 0") || !strings.Contains(out.text(), "connectivity probe: ") {
		t.Errorf("health checks not reported:\n%s", out.text())
	}

	// Tasks wait and no worker takes them: the queue does not drain, the
	// health check fails, and the second command never runs.
	noise(t, f, 4, 1)
	f.cfg.Django.Restart = []string{"echo first", "echo second"}
	p = plan(t, "restart", env, map[string]string{"health_timeout": "1s"})
	out = newRecorder()
	o := execute(t, env, p, out)
	if o.Status != Failed || !strings.Contains(o.Summary, "did not drain") {
		t.Errorf("outcome %+v", o)
	}
	if strings.Contains(out.text(), "$ echo second") {
		t.Errorf("the second restart ran after a failed health check:\n%s", out.text())
	}
}

func TestRestartCancelLeavesNoProcessBehind(t *testing.T) {
	f := newFixture(t, fixtureOptions{})
	pids := filepath.Join(t.TempDir(), "pids")
	f.cfg.Django.Restart = []string{"sleep 60 & echo $$ $! > " + pids + "; wait"}
	env := f.env(nil)
	p := plan(t, "restart", env, nil)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan Outcome, 1)
	go func() { done <- executeCtx(ctx, t, env, p, nil) }()
	procs := readPIDs(t, pids, 2, 10*time.Second)
	cancel()
	select {
	case o := <-done:
		if o.Status != Cancelled {
			t.Errorf("outcome %+v", o)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("restart did not stop after the cancel")
	}
	for _, pid := range procs {
		if !gone(pid, 5*time.Second) {
			t.Errorf("process %d outlived the cancel", pid)
		}
	}
}

func TestCommandTimeoutStopsTheCommand(t *testing.T) {
	f := newFixture(t, fixtureOptions{})
	f.cfg.Django.Test = "sleep 30"
	f.cfg.Actions.CommandTimeout = config.Duration(300 * time.Millisecond)
	env := f.env(nil)
	o := execute(t, env, plan(t, "run-tests", env, nil), nil)
	if o.Status != Failed || !strings.Contains(o.Summary, "timed out") || !strings.Contains(o.Summary, "command_timeout") {
		t.Errorf("outcome %+v", o)
	}
}
