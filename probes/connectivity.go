package probes

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/redis/go-redis/v9"

	"steady/internal/plural"
	"steady/internal/profile"
	"steady/internal/secret"
	"steady/internal/target"
)

// Connectivity answers "can we reach every system, and what are they?"
// before any other evidence is trusted.
//
// Reads: PostgreSQL — one read-only transaction running SELECT 1 (timed as
// the round trip), server_version, current_user, default_transaction_read_only
// and pg_is_in_recovery(); each Redis (cache, broker, result backend) —
// PING (timed), INFO server and INFO replication, and on a cluster CLUSTER
// INFO and one PING per master.
// Cost: a handful of round trips per system, all systems at once, each
// bounded by probes.connect_timeout; it reads no table.
// Never: writes, runs a statement on an application table, or retries a
// failing system past the connect timeout. An unreachable system is a fail
// finding with the one-line reason (wrong password, refused, unknown host,
// no answer).
type Connectivity struct{}

func init() { Register(Connectivity{}) }

// ID implements Probe.
func (Connectivity) ID() string { return "connectivity" }

// Title implements Probe.
func (Connectivity) Title() string {
	return "Connections to PostgreSQL, the cache and the Celery broker"
}

// Params implements Probe.
func (Connectivity) Params() []Param { return nil }

// reach is what was learnt of one system.
type reach struct {
	system  string
	address string
	ok      bool
	version string
	latency time.Duration
	notes   []string
	finding Finding
	// extra are further findings about the system (the profile's fit).
	extra []Finding
}

// Run implements Probe.
func (c Connectivity) Run(ctx context.Context, t *target.Target, p Params) Result {
	return run(ctx, t, c.ID(), p, func(r *Result) error {
		cfg := t.Config()
		type check struct {
			system, url string
			fn          func(context.Context) reach
		}
		var checks []check
		if cfg.DB != "" {
			checks = append(checks, check{"postgres", cfg.DB, func(ctx context.Context) reach { return reachPostgres(ctx, t) }})
		}
		if cfg.Redis != "" {
			checks = append(checks, check{"cache", cfg.Redis, func(ctx context.Context) reach { return reachRedis(ctx, t, "cache", cfg.Redis, t.Cache) }})
		}
		if cfg.Broker != "" && cfg.Broker != cfg.Redis {
			checks = append(checks, check{"broker", cfg.Broker, func(ctx context.Context) reach { return reachRedis(ctx, t, "broker", cfg.Broker, t.Broker) }})
		}
		if res := cfg.ResultsURL(); res != "" && res != cfg.Broker && res != cfg.Redis {
			checks = append(checks, check{"results", res, func(ctx context.Context) reach { return reachRedis(ctx, t, "results", res, t.Results) }})
		}
		if len(checks) == 0 {
			return skip("nothing to reach: give --db, --redis and --broker (or DATABASE_URL, REDIS_URL, CELERY_BROKER_URL)")
		}
		// All at once, so a dead system costs one connect timeout, not one each.
		reaches := make([]reach, len(checks))
		var wg sync.WaitGroup
		for i, c := range checks {
			wg.Go(func() { reaches[i] = c.fn(ctx) })
		}
		wg.Wait()

		r.Evidence = Table{Title: "systems", Columns: []string{"system", "address", "reachable", "version", "latency", "notes"}}
		var down []string
		for _, x := range reaches {
			r.Findings = append(r.Findings, x.finding)
			r.Findings = append(r.Findings, x.extra...)
			reachable, latency := "yes", fmt.Sprintf("%.1f ms", float64(x.latency.Microseconds())/1000)
			if !x.ok {
				reachable, latency = "no", ""
				down = append(down, x.finding.Message)
			}
			r.Evidence.Rows = append(r.Evidence.Rows, []string{x.system, x.address, reachable, x.version, latency, strings.Join(x.notes, "; ")})
		}
		switch {
		case len(down) == 1:
			r.Summary = down[0]
		case len(down) > 1:
			r.Summary = fmt.Sprintf("%d of %d systems unreachable: %s", len(down), len(reaches), strings.Join(down, "; "))
		default:
			var names []string
			for _, x := range reaches {
				names = append(names, x.system)
			}
			r.Summary = fmt.Sprintf("%s reachable (%s)", plural.All(len(reaches), "system", "systems"), strings.Join(names, ", "))
		}
		for _, f := range r.Findings {
			if f.Code == "connectivity.profile" && f.Status != OK {
				r.Summary += "; " + f.Message
			}
		}
		return nil
	})
}

func reachPostgres(ctx context.Context, t *target.Target) reach {
	x := reach{system: "postgres", address: secret.RedactURL(t.Config().DB)}
	var user, db string
	var defaultRO string
	var standby bool
	var gaps []profileGap
	pf := &t.Config().Profile
	err := t.ReadOnly(ctx, func(ctx context.Context, tx pgx.Tx) error {
		start := time.Now()
		if _, err := tx.Exec(ctx, "SELECT 1"); err != nil {
			return err
		}
		x.latency = time.Since(start)
		if err := tx.QueryRow(ctx, `SELECT current_setting('server_version'), current_user, current_database(),
  current_setting('default_transaction_read_only'), pg_is_in_recovery()`).Scan(&x.version, &user, &db, &defaultRO, &standby); err != nil {
			return err
		}
		// Does the application's profile fit these tables? Asked here once
		// so a stale profile is one plain finding, not an error per probe.
		return savepoint(ctx, tx, func(tx pgx.Tx) (err error) {
			gaps, err = profileGaps(ctx, tx, pf, profile.Roles...)
			return err
		})
	})
	if err != nil {
		return unreachable(x, err, t)
	}
	x.ok = true
	// What a normal session of this user gets (SHOW transaction_read_only
	// outside steady's read-only transaction): read-only when the role or
	// database defaults to it, or on a standby.
	readOnly := defaultRO == "on" || standby
	mode := "read-write sessions"
	if readOnly {
		mode = "read-only sessions"
	}
	x.notes = append(x.notes, "user "+user, "database "+db, mode)
	status, msg := OK, fmt.Sprintf("postgres %s reachable: PostgreSQL %s, %s, user %s, %s", x.address, x.version, fmtLatency(x.latency), user, mode)
	switch {
	case standby:
		status = Warn
		msg += " — this is a standby: figures may lag the primary and actions cannot write; point --db at the primary to fix"
		x.notes = append(x.notes, "standby (in recovery)")
	case defaultRO == "on":
		msg += " (default_transaction_read_only is on: fine for probes; actions that write need a read-write role)"
	}
	x.finding = Finding{Status: status, Code: "connectivity.postgres", Message: msg, Data: map[string]any{
		"version": x.version, "latency_ms": ms(x.latency), "user": user, "database": db, "read_only": readOnly, "standby": standby,
	}}
	if len(gaps) > 0 {
		x.notes = append(x.notes, "profile disagrees with the tables")
		x.extra = append(x.extra, Finding{Status: Warn, Code: "connectivity.profile",
			Message: fmt.Sprintf("the application profile (%s) and the live tables disagree: %s — %s; the probes reading them are skipped until then", pf.Origin(), joinGaps(gaps), gapAdvice),
			Data:    map[string]any{"missing": len(gaps)}})
	} else {
		x.extra = append(x.extra, Finding{Status: OK, Code: "connectivity.profile",
			Message: fmt.Sprintf("the application profile (%s) fits the live tables: every table and column it names exists", pf.Origin())})
	}
	return x
}

func reachRedis(ctx context.Context, t *target.Target, system, url string, open func(context.Context) (redis.UniversalClient, error)) reach {
	x := reach{system: system, address: secret.RedactURL(url)}
	c, err := open(ctx)
	if err != nil {
		return unreachable(x, err, t)
	}
	cctx, cancel := context.WithTimeout(ctx, t.Config().Probes.ConnectTimeout.D())
	defer cancel()
	start := time.Now()
	if err := c.Ping(cctx).Err(); err != nil {
		return unreachable(x, err, t)
	}
	x.latency = time.Since(start)
	info, err := c.Info(cctx, "server", "replication").Result()
	if err != nil {
		return unreachable(x, err, t)
	}
	fields := parseInfo(info)
	x.version = fields["redis_version"]
	role := fields["role"]
	x.ok = true
	x.notes = append(x.notes, "role "+role)
	status := OK
	msg := fmt.Sprintf("%s %s reachable: Redis %s, %s, role %s", system, x.address, x.version, fmtLatency(x.latency), role)
	data := map[string]any{"version": x.version, "latency_ms": ms(x.latency), "role": role}
	if cc, ok := c.(*redis.ClusterClient); ok {
		state := "unknown"
		if ci, err := cc.ClusterInfo(cctx).Result(); err == nil {
			state = parseInfo(ci)["cluster_state"]
		}
		var mu sync.Mutex
		masters := 0
		err := cc.ForEachMaster(cctx, func(ctx context.Context, n *redis.Client) error {
			mu.Lock()
			masters++
			mu.Unlock()
			return n.Ping(ctx).Err()
		})
		data["cluster_state"], data["masters"] = state, masters
		x.notes = append(x.notes, fmt.Sprintf("cluster %s, %d masters", state, masters))
		msg += fmt.Sprintf(", cluster state %s with %d masters", state, masters)
		if state != "ok" || err != nil {
			status = Fail
			msg += " — some slots are not served: keys there can be neither read nor written"
			if err != nil {
				msg += " (" + t.Scrubber.Scrub(oneLine(err.Error())) + ")"
			}
		}
	} else if role == "slave" || role == "replica" {
		status = Warn
		msg += " — a replica: reads may lag and the cache actions cannot write; point the URL at the primary"
	}
	x.finding = Finding{Status: status, Code: "connectivity." + system, Message: msg, Data: data}
	return x
}

// unreachable records a system steady could not reach, with the reason
// in one line.
func unreachable(x reach, err error, t *target.Target) reach {
	var ce *target.ConnectError
	reason := ""
	if errors.As(err, &ce) {
		reason = ce.Reason
	} else {
		_, reason = classify(err, t)
	}
	x.ok = false
	x.notes = append(x.notes, reason)
	x.finding = Finding{Status: Fail, Code: "connectivity.unreachable", Message: fmt.Sprintf("%s %s unreachable: %s", x.system, x.address, reason),
		Data: map[string]any{"system": x.system, "reason": reason}}
	return x
}

// parseInfo reads "key:value" lines of INFO and CLUSTER INFO.
func parseInfo(s string) map[string]string {
	out := map[string]string{}
	for _, line := range strings.Split(s, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || line[0] == '#' {
			continue
		}
		if k, v, ok := strings.Cut(line, ":"); ok {
			out[k] = v
		}
	}
	return out
}

func fmtLatency(d time.Duration) string {
	return fmt.Sprintf("round trip %.1f ms", float64(d.Microseconds())/1000)
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
