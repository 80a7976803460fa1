package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"steady/internal/config"
	"steady/internal/poll"
	"steady/internal/session"
	"steady/internal/target"
)

// The two-person rule headless: alice's `steady act migrate --yes` waits
// for a second operator; alice cannot approve her own plan; bob's `steady
// approve` lets it run; both names are in the journal and the report.
func TestActWaitsForASecondOperator(t *testing.T) {
	a := newApp(t)
	dir := t.TempDir()
	manage := filepath.Join(dir, "manage")
	if err := os.WriteFile(manage, []byte("#!/bin/sh\necho \"manage $*\"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	// Each operator's own steady.yaml names them; the incident's rule is
	// the two-person rule for destructive plans.
	for _, who := range []string{"alice", "bob"} {
		if err := os.WriteFile(filepath.Join(dir, who+".yaml"), []byte("operator: "+who+"\nactions:\n  approval: destructive\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	env := append(a.env(), "STEADY_MANAGE="+manage, "STEADY_JOURNAL_DIR="+filepath.Join(dir, "incidents"), "STEADY_BACKUP_DIR="+filepath.Join(dir, "backups"))
	as := func(user string) []string {
		return append(append([]string{}, env...), "STEADY_CONFIG="+filepath.Join(dir, user+".yaml"))
	}
	db := target.New(&config.Config{DB: a.db}).DBName()

	expect(t, runSteady(t, dir, as("alice"), "act", "backup", "--yes"), 0, "Outcome: succeeded")
	r := runSteady(t, dir, as("alice"), "act", "migrate", "--yes", "--confirm", db, "--no-wait")
	expect(t, r, 1, "awaiting approval by a second operator", "steady approve action-")
	run := regexp.MustCompile(`steady approve (action-\d+)`).FindStringSubmatch(r.stdout)[1]
	expect(t, runSteady(t, dir, as("alice"), "approve", run, "--confirm", db), 1, "a second, different operator approves it")

	// A waiting act: it takes bob's approval and runs.
	cmd := exec.Command(steadyBin(t), "act", "migrate", "--yes", "--confirm", db)
	cmd.Dir = dir
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + dir, "NO_COLOR=1"}, as("alice")...)
	var out syncBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	poll.Until(t, 30*time.Second, "act to wait for approval", func() bool { return strings.Contains(out.String(), "waiting up to") }, out.String)
	waiting := regexp.MustCompile(`steady approve (action-\d+)`).FindStringSubmatch(out.String())[1]
	expect(t, runSteady(t, dir, as("bob"), "approve", waiting, "--confirm", "wrong"), 1, "not accepted", "type")
	expect(t, runSteady(t, dir, as("bob"), "approve", waiting, "--confirm", db), 0, "Approved by bob")
	select {
	case err := <-exited:
		if err != nil || !strings.Contains(out.String(), "Outcome: succeeded") || !strings.Contains(out.String(), "approved by bob") {
			t.Fatalf("the waiting act: %v\n%s", err, out.String())
		}
	case <-time.After(30 * time.Second):
		_ = cmd.Process.Kill()
		t.Fatalf("the approved act did not finish:\n%s", out.String())
	}

	files, _ := filepath.Glob(filepath.Join(dir, "incidents", "*.jsonl"))
	events, _, err := session.ReadJournal(files[0])
	if err != nil {
		t.Fatal(err)
	}
	m := session.Fold(nil, events).Action(waiting)
	if m.ConfirmedBy == nil || m.ConfirmedBy.Name != "alice" || m.ApprovedBy == nil || m.ApprovedBy.Name != "bob" {
		t.Errorf("journal: confirmed by %v, approved by %v", m.ConfirmedBy, m.ApprovedBy)
	}
	rep := runSteady(t, dir, nil, "report", files[0])
	if !strings.Contains(rep.stdout, "Confirmed by alice") || !strings.Contains(rep.stdout, "Approved by bob") {
		t.Errorf("the report does not name both operators:\n%s", rep.stdout)
	}
}
