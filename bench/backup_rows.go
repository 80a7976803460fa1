package bench

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"steady/internal/clinic"
)

// pendingMigration is the example application's migration the backup rows
// leave unapplied: it adds two constraints to the shift table, so a scoped
// backup holds that table (and django_migrations) and nothing else.
const pendingMigration = "config.0003_shift_constraints"

// unapplyPending takes pendingMigration back out, as `manage.py migrate
// config 0002` would, and returns how to put it back.
func (e *Env) unapplyPending(ctx context.Context) (restore func(context.Context) error, err error) {
	var mig *clinic.Migration
	for i := range clinic.Migrations {
		if clinic.Migrations[i].Key() == pendingMigration {
			mig = &clinic.Migrations[i]
		}
	}
	if mig == nil {
		return nil, errors.New("the example schema has no " + pendingMigration)
	}
	if _, err := e.DB.Exec(ctx, `ALTER TABLE config_shift DROP CONSTRAINT config_shift_duration_positive, DROP CONSTRAINT config_shift_unique_clinician_date_type`); err != nil {
		return nil, fmt.Errorf("unapply %s: %w", pendingMigration, err)
	}
	if _, err := e.DB.Exec(ctx, `DELETE FROM django_migrations WHERE app = 'config' AND name = '0003_shift_constraints'`); err != nil {
		return nil, fmt.Errorf("unapply %s: %w", pendingMigration, err)
	}
	return func(ctx context.Context) error {
		if _, err := e.DB.Exec(ctx, mig.SQL); err != nil {
			return fmt.Errorf("apply %s again: %w", pendingMigration, err)
		}
		return clinic.Record(ctx, e.DB, pendingMigration)
	}, nil
}

// scopedBackupRow: steady's scoped backup of what the pending migration
// alters (Django asked which tables, pg_dump of those, read back whole)
// against a full pg_dump -Fc of the database.
func scopedBackupRow(ctx context.Context, e *Env, runs, warmup int) *Result {
	const what = "scoped backup + verify for the pending migration"
	restore, err := e.unapplyPending(ctx)
	if err != nil {
		return failed("backup-scoped", what, err)
	}
	defer func() {
		if err := restore(context.WithoutCancel(ctx)); err != nil {
			fmt.Fprintf(e.Log, "bench: %v\n", err)
		}
	}()
	bare := filepath.Join(e.Work, "bare.dump")
	steady := e.steadyCmd(exitIn(0), "act", "backup", "--mode", "scoped", "--yes")
	steady.Env = append(append(e.Clinic.Environ(), steady.Env...), "STEADY_MANAGE="+e.Python+" manage.py")
	steady.Show = "STEADY_MANAGE='python3 manage.py' bin/steady act backup --mode scoped --yes"
	var sizes [2]int64
	var covered string
	c := &Comparison{ID: "backup-scoped", What: what, Target: 0.2, Steady: steady,
		Other: Command{
			Show:  `pg_dump -Fc -f bare.dump "$DATABASE_URL"`,
			Argv:  []string{"pg_dump", "-Fc", "-f", bare, e.DatabaseURL},
			Dir:   e.Work,
			Check: exitIn(0),
		},
		Prepare: func(ctx context.Context, _ Side) error {
			if err := freshDir(e.JournalDir()); err != nil {
				return err
			}
			if err := freshDir(e.BackupDir()); err != nil {
				return err
			}
			return removeIfThere(bare)
		},
		Observe: func(ctx context.Context, side Side, r Run) error {
			path := bare
			if side == SteadySide {
				files, err := filepath.Glob(filepath.Join(e.BackupDir(), "*-scoped.dump"))
				if err != nil || len(files) != 1 {
					return fmt.Errorf("want one scoped dump in the backup dir, found %v (%v)", files, err)
				}
				path = files[0]
				m := outcomeTables.FindSubmatch(r.Stdout)
				if m == nil || !strings.Contains(string(m[1]), "public.config_shift") || !strings.Contains(string(m[1]), "public.django_migrations") {
					return fmt.Errorf("the backup's artefacts do not name the shift table and django_migrations:\n%s", tailOf(r))
				}
				covered = strings.ReplaceAll(string(m[1]), ",", ", ")
			}
			st, err := os.Stat(path)
			if err != nil {
				return err
			}
			i := 0
			if side == OtherSide {
				i = 1
			}
			sizes[i] = st.Size()
			return os.Remove(path)
		},
	}
	res := c.Measure(ctx, runs, warmup, e.Log)
	res.Notes = append(res.Notes, fmt.Sprintf("%s unapplied for the row (its constraints dropped and its django_migrations row deleted, put back afterwards); steady asks Django which tables it alters (one `manage.py shell`), dumps %s with their sequences and reads the archive back whole (pg_restore --list, then --file=/dev/null); database %s; dumps: steady's %s, the full pg_dump's %s",
		pendingMigration, covered, gib(e.Data.DBBytes), gib(sizes[0]), gib(sizes[1])))
	return res
}

// restorePointRow: steady's restore point (made, WAL switched, its segment
// seen archived) on the bench database, whose cluster archives into a
// directory; psql making the same point and switch without waiting for the
// archive is shown beside it. The target is absolute: the time does not
// grow with the database.
func restorePointRow(ctx context.Context, e *Env, runs, warmup int) *Result {
	res := &Result{ID: "restore-point", What: "restore point, archived",
		SteadyShow: "bin/steady act backup --mode restore_point --yes",
		OtherShow:  `psql -X -q -c "SELECT pg_create_restore_point('bench')" -c "SELECT pg_switch_wal()" "$DATABASE_URL"`,
		TargetText: "≤ 2 s at any database size"}
	// The sandbox archives with archive_command 'true' while the data set
	// is built; now into its archive directory, as a team's cp to a mount.
	if err := e.archiveInto(ctx, true); err != nil {
		res.Err = err
		return res
	}
	defer e.archiveInto(context.WithoutCancel(ctx), false)
	base, err := e.SB.Postgres.BaseBackup(ctx)
	if err != nil {
		res.Err = fmt.Errorf("the base backup a restore point needs: %w", err)
		return res
	}
	defer os.RemoveAll(filepath.Dir(base))
	// Its history file reaches the archive as the archiver gets to it.
	for deadline := time.Now().Add(time.Minute); ; {
		if found, _ := filepath.Glob(filepath.Join(e.SB.Postgres.ArchiveDir(), "*.backup")); len(found) > 0 {
			break
		}
		if time.Now().After(deadline) {
			res.Err = errors.New("the base backup's history file was not archived within a minute")
			return res
		}
		time.Sleep(50 * time.Millisecond)
	}
	steady := e.steadyCmd(exitIn(0), "act", "backup", "--mode", "restore_point", "--yes")
	other := Command{Show: res.OtherShow, Dir: e.Work, Check: exitIn(0),
		Argv: []string{"psql", "-X", "-q", "-c", "SELECT pg_create_restore_point('bench')", "-c", "SELECT pg_switch_wal()", e.DatabaseURL}}
	var own []time.Duration
	for i := 0; i < warmup+runs; i++ {
		if err := freshDir(e.JournalDir()); err != nil {
			res.Err = err
			return res
		}
		// Some WAL since the last switch, as a live database has.
		if _, err := e.DB.Exec(ctx, `UPDATE config_clinician SET active = active WHERE id = 1`); err != nil {
			res.Err = err
			return res
		}
		r, err := steady.Exec(ctx)
		if err != nil {
			res.Err = err
			return res
		}
		if !strings.Contains(string(r.Stdout), "segment:") {
			res.Err = fmt.Errorf("the restore point's outcome names no archived segment:\n%s", tailOf(r))
			return res
		}
		o, err := other.Exec(ctx)
		if err != nil {
			res.Err = err
			return res
		}
		if i >= warmup {
			res.Steady = append(res.Steady, r.Took)
			res.Other = append(res.Other, o.Took)
			own = append(own, actionTook(r.Stdout))
		}
	}
	res.SteadyMedian, res.OtherMedian = Median(res.Steady), Median(res.Other)
	res.SteadyText, res.OtherText = ms(res.SteadyMedian), ms(res.OtherMedian)
	res.Met = res.SteadyMedian <= 2*time.Second
	res.Notes = append(res.Notes,
		fmt.Sprintf("whole command, from start to exit (a new incident journal, the plan made twice — shown, then again just before it runs — the point, the WAL switch and the wait for the archiver): %s", samplesText(res.Steady)),
		fmt.Sprintf("the action alone, as its outcome reports it: median %s (%s)", ms(Median(own)), samplesText(own)),
		fmt.Sprintf("the psql side makes the same point and switch but does not wait for the segment to be archived; database %s, WAL archived with cp into a directory, a pg_basebackup taken beforehand (untimed) so the plan finds a base backup", gib(e.Data.DBBytes)))
	return res
}

// actionTook reads the action's own duration from `steady act` output
// ("  exit 0 · 215ms"), or 0.
func actionTook(stdout []byte) time.Duration {
	m := outcomeTook.FindSubmatch(stdout)
	if m == nil {
		return 0
	}
	d, _ := time.ParseDuration(string(m[1]))
	return d
}

var outcomeTables = regexp.MustCompile(`(?m)^  tables: (\S+)$`)

var outcomeTook = regexp.MustCompile(`(?m)^  exit -?\d+ · (\S+)$`)

// archiveInto points the sandbox's archive_command at its archive
// directory (on) or back at 'true' (off), which is what it runs while the
// data set is built: archiving every segment of a bulk load would copy
// gigabytes nobody reads.
func (e *Env) archiveInto(ctx context.Context, on bool) error {
	stmt := `ALTER SYSTEM SET archive_command = 'true'`
	if on {
		stmt = `ALTER SYSTEM RESET archive_command`
	}
	if _, err := e.DB.Exec(ctx, stmt); err != nil {
		return fmt.Errorf("set archive_command: %w", err)
	}
	_, err := e.DB.Exec(ctx, `SELECT pg_reload_conf()`)
	return err
}
