package config

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"

	"steady/internal/duration"
)

func env(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func newFlags(t *testing.T, args ...string) *pflag.FlagSet {
	t.Helper()
	fs := pflag.NewFlagSet("test", pflag.ContinueOnError)
	AddFlags(fs)
	if err := fs.Parse(args); err != nil {
		t.Fatal(err)
	}
	return fs
}

func writeFile(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "steady.yaml")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestPrecedenceFlagsOverEnvOverFile(t *testing.T) {
	file := writeFile(t, `
db: postgres://file@db/app
redis: redis://file:6379/1
broker: redis://file:6379/0
django:
  manage: python manage.py
profile:
  shift:
    table: app_shift
    clinician: member_id
    date: day
    status: state
    worked: [done]
`)
	fs := newFlags(t, "--config", file, "--db", "postgres://flag:pw@db/app")
	l, err := Load(fs, env(map[string]string{
		"DATABASE_URL": "postgres://env@db/app",
		"REDIS_URL":    "redis://env:6379/1",
	}))
	if err != nil {
		t.Fatal(err)
	}
	checks := []struct {
		key, got, want, source string
	}{
		{"db", l.DB, "postgres://flag:pw@db/app", "--db"},
		{"redis", l.Redis, "redis://env:6379/1", "$REDIS_URL"},
		{"broker", l.Broker, "redis://file:6379/0", file},
		{"django.manage", l.Django.Manage, "python manage.py", file},
		{"profile.shift.table", l.Profile.Shift.Table, "app_shift", file},
		// A profile in the file stands alone: no example name fills its gaps.
		{"profile.clinician.table", l.Profile.Clinician.Table, "", "default"},
		{"profile.shift.duration", l.Profile.Shift.Duration, "", "default"},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %q, want %q", c.key, c.got, c.want)
		}
		if s := l.Source(c.key).String(); s != c.source {
			t.Errorf("%s came from %q, want %q", c.key, s, c.source)
		}
	}
	if !l.ProfileGiven() {
		t.Error("ProfileGiven() = false for a file with a profile")
	}
}

func TestWithoutAProfileTheExampleApplicationsNamesApply(t *testing.T) {
	l, err := Load(newFlags(t, "--config", writeFile(t, "db: postgres://db/app\n")), env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if l.ProfileGiven() {
		t.Error("ProfileGiven() = true for a file without one")
	}
	if l.Profile.Shift.Table == "" || l.Profile.Source != "example" {
		t.Errorf("default profile = %+v; want the example application's, marked so", l.Profile.Shift)
	}
}

func TestEveryBindingHasFlagAndEnv(t *testing.T) {
	want := map[string]string{
		"db": "DATABASE_URL", "redis": "REDIS_URL", "broker": "CELERY_BROKER_URL",
		"results": "CELERY_RESULT_BACKEND", "django-dir": "STEADY_DJANGO_DIR",
		"manage": "STEADY_MANAGE", "journal-dir": "STEADY_JOURNAL_DIR", "backup-dir": "STEADY_BACKUP_DIR",
	}
	got := map[string]string{}
	for _, b := range Bindings {
		got[b.Flag] = b.Env
		if _, ok := fieldByKey(reflectConfig(), b.Key); !ok {
			t.Errorf("binding %s names unknown key %q", b.Flag, b.Key)
		}
	}
	for flag, e := range want {
		if got[flag] != e {
			t.Errorf("flag --%s: env %q, want %q", flag, got[flag], e)
		}
	}
	for _, b := range Bindings {
		fs := newFlags(t, "--"+b.Flag, "x")
		if f := fs.Lookup(b.Flag); f == nil || !f.Changed {
			t.Errorf("flag --%s not registered", b.Flag)
		}
	}
}

func TestUnknownKeyIsReportedWithLine(t *testing.T) {
	file := writeFile(t, "db: postgres://db/app\ndjango:\n  tabels:\n    shift: x\n")
	_, err := Load(newFlags(t, "--config", file), env(nil))
	if err == nil {
		t.Fatal("expected an error for a misspelt key")
	}
	if !strings.Contains(err.Error(), "line 3") || !strings.Contains(err.Error(), "tabels") {
		t.Errorf("error should name line 3 and the key: %v", err)
	}
}

func TestMissingExplicitConfigFile(t *testing.T) {
	_, err := Load(newFlags(t, "--config", filepath.Join(t.TempDir(), "nope.yaml")), env(nil))
	if err == nil || !strings.Contains(err.Error(), "nope.yaml") {
		t.Fatalf("want an error naming the file, got %v", err)
	}
}

func TestBadValues(t *testing.T) {
	for _, body := range []string{
		"probes:\n  statement_timeout: soon\n",
		"audit:\n  window: 0s\n",
		"actions:\n  backup_mode: tar\n",
		"actions:\n  pgbackrest:\n    type: weekly\n",
		"profile:\n  shift:\n    table: app_shift\n    clinician: c\n    date: d\n    status: s\n",
		"profile:\n  audit:\n    kind: journal\n    table: t\n",
	} {
		if _, err := Load(newFlags(t, "--config", writeFile(t, body)), env(nil)); err == nil {
			t.Errorf("config %q: expected an error", body)
		}
	}
}

func TestSettingsAreRedacted(t *testing.T) {
	fs := newFlags(t, "--db", "postgres://app:topsecret@db/app", "--redis", "redis://:alsosecret@cache/1")
	l, err := Load(fs, env(nil))
	if err != nil {
		t.Fatal(err)
	}
	var all strings.Builder
	for _, s := range l.Settings() {
		all.WriteString(s.Key + "=" + s.Value + " (" + s.Source.String() + ")\n")
	}
	out := all.String()
	for _, secret := range []string{"topsecret", "alsosecret"} {
		if strings.Contains(out, secret) {
			t.Errorf("settings leak %q:\n%s", secret, out)
		}
	}
	if !strings.Contains(out, "db=postgres://app:***@db/app (--db)") {
		t.Errorf("db setting missing or unredacted:\n%s", out)
	}
	if got := l.Secrets(); len(got) != 2 {
		t.Errorf("Secrets() = %v, want both passwords", got)
	}
}

func TestDurationsOfSteadyYAML(t *testing.T) {
	tests := map[string]time.Duration{"5s": 5 * time.Second, "7d": 7 * 24 * time.Hour, "1.5h": 90 * time.Minute, "30": 30 * time.Second}
	for in, want := range tests {
		got, err := duration.Parse(in)
		if err != nil || got != want {
			t.Errorf("duration.Parse(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "soon", "5 parsecs"} {
		if _, err := duration.Parse(bad); err == nil {
			t.Errorf("duration.Parse(%q) should fail", bad)
		}
	}
}

// The sample, read as a steady.yaml, is the defaults: every key and value
// but the profile's, which `steady init` writes.
func TestSampleRoundTrips(t *testing.T) {
	l := &Loaded{Config: Config{}, Sources: map[string]Source{}}
	if err := l.applyYAML("sample", []byte(Sample())); err != nil {
		t.Fatalf("the sample does not load: %v", err)
	}
	want := defaultValues()
	for _, s := range l.Settings() {
		if !strings.HasPrefix(s.Key, "profile.") && s.Value != want[s.Key] {
			t.Errorf("the sample's %s is %q, the default %q", s.Key, s.Value, want[s.Key])
		}
	}
}

func reflectConfig() reflect.Value {
	c := Default()
	return reflect.ValueOf(&c).Elem()
}

// Every number has its range and every duration its bounds; a value out
// of them names the file and line it came from.
func TestOutOfRangeValuesNameFileAndLine(t *testing.T) {
	tests := []struct {
		body, want string
	}{
		{"probes:\n  sample_keys: -1\n", ":2: probes.sample_keys must be from 1 to 1000000, not -1"},
		{"serve:\n  listen: 127.0.0.1:2222\n  max_sessions: -3\n", ":3: serve.max_sessions must be from 1 to 1000, not -3"},
		{"probes: {connect_timeout: 1ns}\n", ":1: probes.connect_timeout must be from 100ms to 5m0s, not 1ns"},
		{"audit:\n  since: 20000d\n", ":2: audit.since must be from 1m0s to 87600h0m0s, not 480000h0m0s"},
		{"actions:\n  kill_grace: 0s\n", ":2: actions.kill_grace must be from 100ms to 10m0s, not 0s"},
		{"serve:\n  idle_timeout: 2h\n  max_timeout: 1h\n", ":2: serve.idle_timeout (2h0m0s) is longer than serve.max_timeout"},
		{"\n\nactions:\n  backup_mode: tar\n", ":4: actions.backup_mode must be one of auto, pg_dump, scoped"},
	}
	for _, tt := range tests {
		file := writeFile(t, tt.body)
		_, err := Load(newFlags(t, "--config", file), env(nil))
		var ie *InvalidError
		if !errors.As(err, &ie) || !strings.Contains(err.Error(), file+tt.want) {
			t.Errorf("config %q: %v\nwant %q", tt.body, err, file+tt.want)
		}
	}
}

// No number or duration of the configuration goes without a range, so a
// new setting cannot slip through unchecked.
func TestEveryNumberHasItsRange(t *testing.T) {
	walk(reflectConfig(), "", func(key string, v reflect.Value) {
		_, isDuration := v.Interface().(Duration)
		switch {
		case isDuration:
			if _, ok := DurationRanges[key]; !ok {
				t.Errorf("%s has no range in DurationRanges", key)
			}
		case v.Kind() >= reflect.Int && v.Kind() <= reflect.Float64:
			if _, ok := IntRanges[key]; !ok {
				t.Errorf("%s has no range in IntRanges", key)
			}
		}
	})
	if err := func() *Config { c := Default(); return &c }().Validate(); err != nil {
		t.Errorf("the defaults are out of their own ranges: %v", err)
	}
}
