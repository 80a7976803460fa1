package probes

import (
	"net/url"
	"strings"
	"testing"
	"time"

	"steady/internal/config"
	"steady/internal/sandbox"
	"steady/internal/sandbox/sandboxtest"
)

func TestConnectivityReportsEachUnreachableSystem(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOptions{noSeed: true, broker: true})
	dead := sandboxtest.RedisServer(t, sandbox.RedisOptions{})
	deadURL := dead.URL(0)
	must(t, dead.Stop())
	u, err := url.Parse(f.cfg.DB)
	if err != nil {
		t.Fatal(err)
	}
	u.User = url.UserPassword(u.User.Username(), "not-the-password")
	wrongPassword := u.String()

	tests := []struct {
		name    string
		mutate  func(c *config.Config)
		status  Status
		reasons []string // one unreachable finding per entry, in order
	}{
		{"all reachable", func(c *config.Config) {}, OK, nil},
		{"dead cache Redis", func(c *config.Config) { c.Redis = deadURL }, Fail, []string{"cache redis://" + dead.Addr() + "/0 unreachable: connection refused"}},
		{"wrong PostgreSQL password", func(c *config.Config) { c.DB = wrongPassword }, Fail, []string{"unreachable: authentication failed"}},
		{"both", func(c *config.Config) { c.DB, c.Broker = wrongPassword, deadURL }, Fail, []string{"postgres", "broker"}},
		// Offline, the lookup may time out instead: "no answer within".
		{"unknown host", func(c *config.Config) { c.Broker = "redis://no-such-host.invalid:6379/0" }, Fail, []string{"broker redis://no-such-host.invalid:6379/0 unreachable: "}},
	}
	base := *f.cfg
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := base
			cfg.Probes.ConnectTimeout = config.Duration(2 * time.Second)
			tt.mutate(&cfg)
			f.setConfig(t, &cfg)
			start := time.Now()
			r := f.run(t, "connectivity", nil)
			if took := time.Since(start); took > cfg.Probes.ConnectTimeout.D()+time.Second {
				t.Errorf("took %s, more than the connect timeout %s", took, cfg.Probes.ConnectTimeout)
			}
			want(t, r, tt.status)
			down := findings(r, "connectivity.unreachable")
			if len(down) != len(tt.reasons) {
				t.Fatalf("%d unreachable findings, want %d\n%s", len(down), len(tt.reasons), describe(r))
			}
			for i, reason := range tt.reasons {
				msg := down[i].Message
				if !strings.Contains(msg, reason) || strings.Contains(msg, "\n") || strings.Contains(msg, "not-the-password") {
					t.Errorf("finding %q: want one line containing %q and no password", msg, reason)
				}
			}
			if len(r.Evidence.Rows) != 3 {
				t.Errorf("evidence rows %v, want postgres, cache and broker", r.Evidence.Rows)
			}
		})
	}
}

// TestProbesReportUnreachableSystemsAsErrors: a probe that cannot reach its
// system is an error with the one-line reason, not a verdict; the probes
// after it that need the same system are skipped with that reason, at
// once, rather than each trying again.
func TestProbesReportUnreachableSystemsAsErrors(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOptions{noSeed: true})
	dead := sandboxtest.RedisServer(t, sandbox.RedisOptions{})
	deadURL := dead.URL(0)
	must(t, dead.Stop())
	u, _ := url.Parse(f.cfg.DB)
	u.User = url.UserPassword(u.User.Username(), "not-the-password")

	cfg := *f.cfg
	cfg.Redis, cfg.DB = deadURL, u.String()
	f.setConfig(t, &cfg)
	for _, tt := range []struct {
		id, reason string
		status     Status
	}{
		{"cache", "connection refused", Error},
		{"summaries", "authentication failed", Error},
		{"constraints", "authentication failed", Skipped},
		{"audit-concurrency", "authentication failed", Skipped},
		{"migrations", "authentication failed", Skipped},
	} {
		r := f.run(t, tt.id, nil)
		text := r.Error
		if tt.status == Skipped {
			text = r.Summary
		}
		if r.Status != tt.status || !strings.Contains(text, tt.reason) || strings.Contains(text, "\n") || strings.Contains(text, "not-the-password") {
			t.Errorf("%s: status %s, %q; want %s, one line with %q", tt.id, r.Status, text, tt.status, tt.reason)
		}
	}
}

// A profile that names a column the database lacks is one plain finding
// of connectivity, and the probes that read it are skipped saying which
// role and column, rather than each failing with an SQL error.
func TestAProfileThatNoLongerFitsTheTables(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOptions{})
	cfg := *f.cfg
	cfg.Profile.Shift.Duration = "hours"
	cfg.Profile.Summary.Worked = "duties_worked"
	f.setConfig(t, &cfg)
	r := f.run(t, "connectivity", nil)
	want(t, r, Warn)
	gap := findings(r, "connectivity.profile")
	if len(gap) != 1 || !strings.Contains(gap[0].Message, "profile.shift.duration (config_shift.hours) does not exist") ||
		!strings.Contains(gap[0].Message, "profile.summary.worked (calculations_shiftsummary.duties_worked) does not exist") ||
		!strings.Contains(gap[0].Message, "steady init") || !strings.Contains(r.Summary, "disagree") {
		t.Errorf("want one finding naming both columns:\n%s", describe(r))
	}
	for _, id := range []string{"summaries", "source-data", "audit-concurrency"} {
		params := map[string]string(nil)
		if id == "source-data" {
			params = map[string]string{"clinician": "1", "from": "2026-01-01", "to": "2026-01-31"}
		}
		r := f.run(t, id, params)
		if id == "audit-concurrency" {
			// The audit log's own columns are all there.
			if r.Status == Skipped || r.Status == Error {
				t.Errorf("%s: %s %s", id, r.Status, r.Summary)
			}
			continue
		}
		if r.Status != Skipped || !strings.Contains(r.Summary, "profile.shift.duration (config_shift.hours)") {
			t.Errorf("%s: %s %q, want skipped naming the role and column", id, r.Status, r.Summary)
		}
	}
}
