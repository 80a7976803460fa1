package actions

import (
	"context"
	"fmt"
	"os/exec"
	"strings"
)

// largeDatabase is the size from which a full dump stops being the obvious
// backup: at the assumed 50 MiB/s it takes over 20 seconds, and production
// databases of hundreds of gigabytes take hours, long enough for an
// on-call engineer to override the guard rather than wait. A variable so
// that tests can call a small database large.
var largeDatabase int64 = 1 << 30

// modeChoice is the mode auto proposes, why, and the others with what
// each would cost.
type modeChoice struct {
	mode, why    string
	alternatives []Alternative
	// scope is the scoped backup's scope when it was learnt for the
	// choice, so the plan does not ask Django twice.
	scope *scope
}

// chooseMode proposes a backup mode from the database's size and what the
// cluster offers: a full dump of a small database; for a large one a
// restore point where archiving works, else the team's pgBackRest stanza,
// else a dump of only the tables the pending migrations alter, else the
// full dump all the same.
func chooseMode(ctx context.Context, env *Env, size int64) (*modeChoice, error) {
	t := env.Target
	cfg := t.Config()
	c := &modeChoice{}
	large := size >= largeDatabase

	full := Alternative{Param: "mode=" + modePgDump, Available: true, Estimate: estimateText(env, size),
		Detail: "pg_dump -Fc of the whole database (" + humanBytes(size) + "), read back whole"}
	if _, err := exec.LookPath("pg_dump"); err != nil {
		full.Available, full.Estimate = false, "unavailable: pg_dump is not on PATH (Debian: postgresql-client)"
	}

	rp := Alternative{Param: "mode=" + modeRestorePoint, Detail: "a named point-in-time recovery target on the archiving cluster, not a file"}
	if a, err := readArchiving(ctx, t); err != nil {
		rp.Estimate = "unknown: " + t.Scrubber.Scrub(err.Error())
	} else if a.works() {
		rp.Available, rp.Estimate = true, "about 1–2s at any size (a WAL switch and one segment archived)"
	} else {
		rp.Estimate = "unavailable: " + a.why()
	}

	br := Alternative{Param: "mode=" + modePgBackRest, Detail: "the team's pgBackRest stanza, verified by pgBackRest"}
	if cfg.Actions.PgBackRest.Stanza == "" {
		br.Estimate = "unavailable: actions.pgbackrest.stanza is not set"
	} else {
		st := readPgBackRest(ctx, env)
		br.Available = true
		for _, p := range st.preconditions(env) {
			if !p.Holds {
				br.Available, br.Estimate = false, "unavailable: "+p.Name+": "+p.Detail
				break
			}
		}
		if br.Available {
			br.Estimate = st.estimate(env)
		}
	}

	sc := Alternative{Param: "mode=" + modeScoped, Detail: "only the tables the unapplied migrations alter, with their sequences and django_migrations"}
	switch {
	case !large:
		sc.Estimate = "not weighed: the database is small enough for a full dump; --mode scoped plans it"
	case cfg.Django.Manage == "":
		sc.Estimate = "unavailable: needs django.manage, to ask Django which tables the migrations alter"
	default:
		s, err := learnScope(ctx, env)
		switch {
		case err != nil:
			sc.Estimate = "unavailable: " + err.Error()
		case len(s.migrations) == 0:
			sc.Estimate = "unavailable: no unapplied migration to scope to"
			if s.listWarn != "" {
				sc.Estimate = "unavailable: " + s.listWarn
			}
		case len(s.unknown) > 0:
			sc.Estimate = "unavailable: " + strings.Join(s.unknown, "; ")
		default:
			c.scope = s
			sc.Available = true
			sc.Estimate = fmt.Sprintf("%s (%s) for %s: %s", strings.Join(s.names(), ", "), humanBytes(s.bytes), strings.Join(s.migrations, ", "), estimateText(env, s.bytes))
		}
	}

	switch {
	case !large:
		c.mode, c.why = modePgDump, fmt.Sprintf("the database is small (%s, under %s): a full dump (%s) restores anything", humanBytes(size), humanBytes(largeDatabase), estimateText(env, size))
	case rp.Available:
		c.mode, c.why = modeRestorePoint, fmt.Sprintf("the database is large (%s) and its cluster archives WAL: a restore point takes a second or two at any size", humanBytes(size))
	case br.Available:
		c.mode, c.why = modePgBackRest, fmt.Sprintf("the database is large (%s) and the team's pgBackRest stanza %s is ready", humanBytes(size), cfg.Actions.PgBackRest.Stanza)
	case sc.Available:
		c.mode, c.why = modeScoped, fmt.Sprintf("the database is large (%s) and the unapplied migrations alter only %s of it: a scoped dump instead of a full one (%s)", humanBytes(size), humanBytes(c.scope.bytes), estimateText(env, size))
	default:
		c.mode, c.why = modePgDump, fmt.Sprintf("the database is large (%s) but no cheaper mode is available here (see the alternatives): a full dump, %s", humanBytes(size), estimateText(env, size))
	}
	for _, a := range []*Alternative{&full, &sc, &rp, &br} {
		a.Chosen = a.Param == "mode="+c.mode
		c.alternatives = append(c.alternatives, *a)
	}
	return c, nil
}
