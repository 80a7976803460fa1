// Package config owns steady's configuration: one struct with its defaults,
// loaded from flags > environment > steady.yaml, with the origin of every
// value kept so `steady config` can say where each one came from.
package config

import (
	"fmt"
	"math"
	"reflect"
	"slices"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"steady/internal/duration"
	"steady/internal/profile"
)

// Config is the whole configuration of one steady process. The yaml tags
// are the keys of steady.yaml; Bindings lists which keys also have a flag
// and an environment variable.
type Config struct {
	// DB is the application's PostgreSQL (a URL or keyword/value DSN).
	DB string `yaml:"db"`
	// Redis is the Redis holding the Django cache; the db number is in the URL.
	Redis string `yaml:"redis"`
	// Broker is the Celery broker (Redis).
	Broker string `yaml:"broker"`
	// Results is the Celery result backend; empty means the broker.
	Results string `yaml:"results"`
	// JournalDir is where incident journals are written.
	JournalDir string `yaml:"journal_dir"`
	// BackupDir is where backups are written.
	BackupDir string `yaml:"backup_dir"`
	// Runbooks is an extra directory of runbooks besides the embedded ones.
	Runbooks string `yaml:"runbooks"`
	// Operator names the person at the keyboard; empty means the OS user.
	Operator string `yaml:"operator"`
	// Probes bounds what a probe may cost the systems it reads.
	Probes Probes `yaml:"probes"`
	// Django says where the application is and how to operate it.
	Django Django `yaml:"django"`
	// Profile is the application profile: every app-specific name steady
	// uses, by role (written by `steady init`).
	Profile profile.Profile `yaml:"profile"`
	// Audit scopes the audit-concurrency probe.
	Audit Audit `yaml:"audit"`
	// Actions configures the fixes.
	Actions Actions `yaml:"actions"`
	// Serve configures `steady serve`.
	Serve Serve `yaml:"serve"`
}

// Probes holds the limits every probe runs under.
type Probes struct {
	// StatementTimeout caps every SQL statement a probe runs.
	StatementTimeout Duration `yaml:"statement_timeout"`
	// LockTimeout caps how long a probe waits for a lock.
	LockTimeout Duration `yaml:"lock_timeout"`
	// ConnectTimeout caps connecting to PostgreSQL or Redis.
	ConnectTimeout Duration `yaml:"connect_timeout"`
	// SampleKeys is how many cache keys the cache probe examines at most.
	SampleKeys int `yaml:"sample_keys"`
	// ScanCount is the COUNT hint of each Redis SCAN call. Each call
	// walks about that many slots with the server blocked: 250 keeps one
	// call near half a millisecond on a million keys (1000 took 1.6 ms,
	// and longer when the host was busy; BENCHMARKS.md).
	ScanCount int `yaml:"scan_count"`
}

// Django describes where the application is and the commands that
// operate it; what it names things lives in the Profile.
type Django struct {
	// Dir is the Django project directory; migration files are read from it.
	Dir string `yaml:"dir"`
	// Manage is the command prefix that runs manage.py.
	Manage string `yaml:"manage"`
	// Migrations is the expected list of migrations per app, used when
	// neither the project directory nor the manage command is available.
	Migrations map[string][]string `yaml:"migrations"`
	// Restart lists the commands that restart the application's processes.
	Restart []string `yaml:"restart"`
	// Test is the command that runs the business-rule tests.
	Test string `yaml:"test"`
	// Recalculate, when set, is a command run instead of enqueueing Celery
	// tasks; {clinician}, {from} and {to} are substituted.
	Recalculate string `yaml:"recalculate"`
}

// Audit scopes the audit-concurrency probe.
type Audit struct {
	// Window is the span within which two writes of one entity count as concurrent.
	Window Duration `yaml:"window"`
	// Since is how far back the probe looks.
	Since Duration `yaml:"since"`
}

// Actions configures the fixes.
type Actions struct {
	// BackupMode is how the backup action backs up: "auto" (the default:
	// proposed from the database's size and what the cluster offers),
	// "pg_dump" (the whole database), "scoped" (only the tables the
	// pending migrations alter), "restore_point" (a named point-in-time
	// recovery target on a cluster that archives WAL), "pgbackrest" (the
	// team's stanza) or "dumpdata" (the manage command).
	BackupMode string `yaml:"backup_mode"`
	// PgBackRest is the team's pgBackRest, for backup_mode pgbackrest.
	PgBackRest PgBackRest `yaml:"pgbackrest"`
	// CommandTimeout caps each command an action runs.
	CommandTimeout Duration `yaml:"command_timeout"`
	// KillGrace is how long a cancelled command gets between SIGINT and SIGKILL.
	KillGrace Duration `yaml:"kill_grace"`
	// TaskTimeout is how long recalculate follows task results.
	TaskTimeout Duration `yaml:"task_timeout"`
	// Approval is the two-person rule of a local run and of `steady act`:
	// "off" (one operator decides), "destructive" or "all".
	Approval string `yaml:"approval"`
	// RepairMode is how repair-lost-updates writes: "app" (through the
	// manage command, so the application's own audit trail records the
	// repair) or "sql" (an UPDATE per row, its before-image journaled).
	RepairMode string `yaml:"repair_mode"`
}

// PgBackRest says how to reach the team's pgBackRest repository.
type PgBackRest struct {
	// Command runs pgbackrest as the account that owns the repository,
	// e.g. "sudo -u postgres pgbackrest" or "ssh db-1 pgbackrest"; options
	// such as --config=FILE may follow.
	Command string `yaml:"command"`
	// Stanza is the stanza of the application's cluster.
	Stanza string `yaml:"stanza"`
	// Type is the backup type: incr (the default), diff or full.
	Type string `yaml:"type"`
}

// BackupModes are the values actions.backup_mode takes.
var BackupModes = []string{"auto", "pg_dump", "scoped", "restore_point", "pgbackrest", "dumpdata"}

// Serve configures the SSH server.
type Serve struct {
	// Listen is the address the server listens on; put it behind the
	// team's bastion rather than on a public address.
	Listen string `yaml:"listen"`
	// HostKey is the server's private ed25519 host key, created (mode
	// 0600) when missing.
	HostKey string `yaml:"host_key"`
	// AuthorizedKeys is the team's public keys, one a line, each ending in
	// role=operator, role=approver or role=observer (no role: observer);
	// watched, so a removed key's session ends.
	AuthorizedKeys string `yaml:"authorized_keys"`
	// MaxSessions caps the SSH sessions open at once.
	MaxSessions int `yaml:"max_sessions"`
	// IdleTimeout ends a session nobody typed in for this long.
	IdleTimeout Duration `yaml:"idle_timeout"`
	// MaxTimeout ends any session this long after it began.
	MaxTimeout Duration `yaml:"max_timeout"`
	// Operators lists key fingerprints (SHA256:...) or authorized_keys
	// comments that may act: run probes, plan and run actions; where a
	// key's line names a role too, the lesser role wins.
	Operators []string `yaml:"operators"`
	// Approvers lists the keys that may approve another operator's
	// destructive plan but not act themselves.
	Approvers []string `yaml:"approvers"`
	// Observers lists the keys that may only watch, tick and write notes.
	Observers []string `yaml:"observers"`
	// Approval is the two-person rule when serving: "destructive" (a
	// destructive plan confirmed by one operator waits for a second),
	// "all" (every plan does) or "off".
	Approval string `yaml:"approval"`
}

// Default returns the configuration used when nothing else is given. Its
// profile is steady's example application's (profile.Example): a team's
// application gets its own from `steady init`.
func Default() Config {
	return Config{
		JournalDir: "./incidents",
		BackupDir:  "./backups",
		Probes: Probes{
			StatementTimeout: Duration(5 * time.Second),
			LockTimeout:      Duration(time.Second),
			ConnectTimeout:   Duration(5 * time.Second),
			SampleKeys:       1000,
			ScanCount:        250,
		},
		Profile: profile.Example(),
		Audit: Audit{
			Window: Duration(time.Second),
			Since:  Duration(7 * 24 * time.Hour),
		},
		Actions: Actions{
			BackupMode:     "auto",
			PgBackRest:     PgBackRest{Command: "pgbackrest", Type: "incr"},
			CommandTimeout: Duration(30 * time.Minute),
			KillGrace:      Duration(5 * time.Second),
			TaskTimeout:    Duration(2 * time.Minute),
			Approval:       "off",
			RepairMode:     "app",
		},
		Serve: Serve{
			Listen:      "127.0.0.1:2222",
			HostKey:     ".steady/host_ed25519",
			MaxSessions: 16,
			IdleTimeout: Duration(30 * time.Minute),
			MaxTimeout:  Duration(12 * time.Hour),
			Approval:    "destructive",
		},
	}
}

// ResultsURL is the Celery result backend: Results, or the broker when unset.
func (c *Config) ResultsURL() string {
	if c.Results != "" {
		return c.Results
	}
	return c.Broker
}

// Problem is a setting that cannot work.
type Problem struct {
	// Key is the setting's key in steady.yaml, e.g. "probes.sample_keys".
	Key string
	// Msg says what is wrong, after the key: "must be from 1 to 1000000, not -1".
	Msg string
}

// InvalidError lists the settings that cannot work, each with where it was
// set (FILE:LINE, $VARIABLE or --flag) when that is known.
type InvalidError struct {
	Problems []Problem
	// where returns where a key was set, or "".
	where func(key string) string
}

func (e *InvalidError) Error() string {
	lines := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		lines[i] = p.Key + " " + p.Msg
		if e.where != nil {
			if w := e.where(p.Key); w != "" {
				lines[i] = w + ": " + lines[i]
			}
		}
	}
	if len(lines) == 1 {
		return "invalid configuration: " + lines[0]
	}
	return "invalid configuration:\n  " + strings.Join(lines, "\n  ")
}

// Ranges of the numeric settings, by key: a value outside is a mistake
// (a negative sample, a timeout of a nanosecond or of a year), and steady
// stops and says where it was set rather than guess. Every number and
// duration of Config has one (a test sees to it); `steady config --sample`
// prints them.
var (
	IntRanges = map[string][2]int{
		"probes.sample_keys":    {1, 1_000_000},
		"probes.scan_count":     {1, 100_000},
		"serve.max_sessions":    {1, 1_000},
		"profile.cache.db":      {0, math.MaxInt32},
		"profile.cache.version": {math.MinInt32, math.MaxInt32},
	}
	DurationRanges = map[string][2]time.Duration{
		"probes.statement_timeout": {100 * time.Millisecond, time.Hour},
		"probes.lock_timeout":      {10 * time.Millisecond, 10 * time.Minute},
		"probes.connect_timeout":   {100 * time.Millisecond, 5 * time.Minute},
		"audit.window":             {time.Millisecond, 24 * time.Hour},
		"audit.since":              {time.Minute, 3650 * 24 * time.Hour},
		"actions.command_timeout":  {time.Second, 7 * 24 * time.Hour},
		"actions.kill_grace":       {100 * time.Millisecond, 10 * time.Minute},
		"actions.task_timeout":     {time.Second, 24 * time.Hour},
		"serve.idle_timeout":       {time.Minute, 7 * 24 * time.Hour},
		"serve.max_timeout":        {time.Minute, 30 * 24 * time.Hour},
	}
)

// Validate reports the values that cannot work, as an *InvalidError.
func (c *Config) Validate() error {
	var ps []Problem
	walk(reflect.ValueOf(*c), "", func(key string, v reflect.Value) {
		if d, ok := v.Interface().(Duration); ok {
			if r, ok := DurationRanges[key]; ok && (d.D() < r[0] || d.D() > r[1]) {
				ps = append(ps, Problem{key, fmt.Sprintf("must be from %s to %s, not %s", Duration(r[0]), Duration(r[1]), d)})
			}
			return
		}
		if v.Kind() == reflect.Int {
			if r, ok := IntRanges[key]; ok && (v.Int() < int64(r[0]) || v.Int() > int64(r[1])) {
				ps = append(ps, Problem{key, fmt.Sprintf("must be from %d to %d, not %d", r[0], r[1], v.Int())})
			}
		}
	})
	for _, a := range []struct{ key, v string }{{"actions.approval", c.Actions.Approval}, {"serve.approval", c.Serve.Approval}} {
		switch a.v {
		case "off", "destructive", "all":
		default:
			ps = append(ps, Problem{a.key, fmt.Sprintf("must be off, destructive or all, not %q", a.v)})
		}
	}
	if !slices.Contains(BackupModes, c.Actions.BackupMode) {
		ps = append(ps, Problem{"actions.backup_mode", fmt.Sprintf("must be one of %s, not %q", strings.Join(BackupModes, ", "), c.Actions.BackupMode)})
	}
	switch c.Actions.PgBackRest.Type {
	case "full", "diff", "incr":
	default:
		ps = append(ps, Problem{"actions.pgbackrest.type", fmt.Sprintf("must be full, diff or incr, not %q", c.Actions.PgBackRest.Type)})
	}
	switch c.Actions.RepairMode {
	case "app", "sql":
	default:
		ps = append(ps, Problem{"actions.repair_mode", fmt.Sprintf("must be app or sql, not %q", c.Actions.RepairMode)})
	}
	if c.Serve.IdleTimeout > c.Serve.MaxTimeout {
		ps = append(ps, Problem{"serve.idle_timeout", fmt.Sprintf("(%s) is longer than serve.max_timeout (%s): a session would end before it could idle out", c.Serve.IdleTimeout, c.Serve.MaxTimeout)})
	}
	for _, msg := range c.Profile.Validate() {
		// The profile's messages start with the key they are about.
		key, rest, _ := strings.Cut(msg, " ")
		ps = append(ps, Problem{key, rest})
	}
	if len(ps) > 0 {
		return &InvalidError{Problems: ps}
	}
	return nil
}

// Duration is a time.Duration written as "5s" or "24h" in steady.yaml.
type Duration time.Duration

// D returns the value as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// String formats the duration the way it is written in steady.yaml.
func (d Duration) String() string { return time.Duration(d).String() }

// UnmarshalYAML accepts Go duration strings and plain seconds.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	v, err := duration.Parse(n.Value)
	if err != nil {
		return fmt.Errorf("line %d: %w", n.Line, err)
	}
	*d = Duration(v)
	return nil
}

// MarshalYAML writes the duration as a string.
func (d Duration) MarshalYAML() (any, error) { return d.String(), nil }
