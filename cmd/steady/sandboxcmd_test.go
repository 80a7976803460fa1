package main

import (
	"regexp"
	"strings"
	"testing"
)

// The hidden sandbox commands outside a drill: each says what it needs
// and touches nothing.
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
	if r := runSteady(t, "", nil, "--help"); regexp.MustCompile(`(?m)^\s+sandbox\s`).MatchString(r.stdout) {
		t.Errorf("steady --help lists the hidden sandbox command:\n%s", r.stdout)
	}
}
