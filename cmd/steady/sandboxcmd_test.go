package main

import (
	"regexp"
	"strings"
	"testing"
)

// The sandbox's own machinery outside a drill: each command says what it
// needs and touches nothing; `steady --help` lists `steady sandbox`, whose
// help hides that machinery.
func TestSandboxCommandsOutsideADrill(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	for _, tt := range []struct {
		args []string
		env  []string
		code int
		says string
	}{
		{[]string{"sandbox", "manage", "migrate"}, nil, 1, "STEADY_SANDBOX_DATABASE_URL is not set"},
		{[]string{"sandbox", "manage"}, nil, 2, "Available subcommands"},
		{[]string{"sandbox", "worker"}, nil, 2, "--drill DIR is required"},
		{[]string{"sandbox", "worker", "--drill", dir}, nil, 2, "not meant to be run by hand"},
		{[]string{"sandbox", "restart", "worker", "--drill", dir}, nil, 1, "no drill is running in " + dir},
		{[]string{"sandbox", "restart", "web", "--drill", dir}, nil, 1, "runs one restartable process, worker"},
		{[]string{"sandbox", "status", "--drill", dir}, nil, 1, "no drill is running"},
	} {
		r := runSteady(t, "", tt.env, tt.args...)
		if r.code != tt.code || !strings.Contains(r.stdout+r.stderr, tt.says) {
			t.Errorf("steady %s: exit %d\n%s%s\nwant exit %d saying %q", strings.Join(tt.args, " "), r.code, r.stdout, r.stderr, tt.code, tt.says)
		}
	}
	if r := runSteady(t, "", nil, "--help"); !regexp.MustCompile(`(?m)^\s+sandbox\s+Start a private PostgreSQL and Redis`).MatchString(r.stdout) {
		t.Errorf("steady --help does not list the sandbox command:\n%s", r.stdout)
	}
	if r := runSteady(t, "", nil, "sandbox", "--help"); r.code != 0 || regexp.MustCompile(`(?m)^\s+(manage|worker|restart|status)\s`).MatchString(r.stdout) {
		t.Errorf("steady sandbox --help: exit %d, lists the drill's machinery:\n%s", r.code, r.stdout)
	}
	if r := runSteady(t, "", nil, "sandbox", "no-such-fault"); r.code != 2 || !strings.Contains(r.stderr, `no drill scenario "no-such-fault"`) {
		t.Errorf("steady sandbox no-such-fault: exit %d\n%s", r.code, r.stderr)
	}
}
