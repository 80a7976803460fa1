package actions

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"steady/internal/plural"
	"steady/internal/target"
)

// A restore point is a name in the WAL stream: on a cluster that archives
// its WAL, a base backup taken before it plus the archived WAL up to it
// recover the cluster to that moment. It takes a second at any size, which
// is why it is proposed for large databases; it is not a file.

// Facts of a restore point plan.
const (
	factPointName = "restore_point"
	factBaseFound = "base_backup"
)

// restorePointWait bounds the wait for the restore point's segment to be
// archived: archive_command runs once per segment, so anything longer is
// an archiver that is failing or far behind.
const restorePointWait = 2 * time.Minute

// archiving is what the cluster says about its WAL archiving and about
// the connected role's rights to mark and switch WAL.
type archiving struct {
	mode, command, library, walLevel string
	inRecovery                       bool
	archived, failed                 int64
	lastWAL, lastFailedWAL           string
	lastTime, lastFailedTime         *time.Time
	canMark, canSwitch               bool
	role                             string
}

// readArchiving reads archive_mode, the archiver's statistics and the
// role's privileges (read-only; archive_command is read where the role may
// read it, and left empty otherwise).
func readArchiving(ctx context.Context, t *target.Target) (*archiving, error) {
	a := &archiving{}
	err := t.ReadOnly(ctx, func(ctx context.Context, tx pgx.Tx) error {
		return tx.QueryRow(ctx, `
SELECT current_setting('archive_mode'), current_setting('wal_level'), pg_is_in_recovery(), current_user,
       s.archived_count, coalesce(s.last_archived_wal, ''), s.last_archived_time,
       s.failed_count, coalesce(s.last_failed_wal, ''), s.last_failed_time,
       has_function_privilege('pg_create_restore_point(text)', 'EXECUTE'),
       has_function_privilege('pg_switch_wal()', 'EXECUTE')
FROM pg_stat_archiver s`).Scan(&a.mode, &a.walLevel, &a.inRecovery, &a.role,
			&a.archived, &a.lastWAL, &a.lastTime, &a.failed, &a.lastFailedWAL, &a.lastFailedTime, &a.canMark, &a.canSwitch)
	})
	if err != nil {
		return nil, err
	}
	// archive_command and archive_library are readable by superusers and
	// pg_read_all_settings only: a role without that learns "(hidden)".
	_ = t.ReadOnly(ctx, func(ctx context.Context, tx pgx.Tx) error {
		return tx.QueryRow(ctx, `SELECT current_setting('archive_command'), coalesce(current_setting('archive_library', true), '')`).Scan(&a.command, &a.library)
	})
	return a, nil
}

// on reports whether the cluster archives at all.
func (a *archiving) on() bool {
	return (a.mode == "on" || a.mode == "always") && a.walLevel != "minimal"
}

// healthy reports whether the archiver's last success is newer than its
// last failure.
func (a *archiving) healthy() bool {
	if a.lastTime == nil {
		return false
	}
	return a.lastFailedTime == nil || a.lastFailedTime.Before(*a.lastTime)
}

// works reports whether a restore point can be made and archived now.
func (a *archiving) works() bool {
	return a.on() && a.healthy() && a.canMark && a.canSwitch && !a.inRecovery
}

// why says in one phrase why a restore point cannot be made, or "".
func (a *archiving) why() string {
	for _, c := range a.preconditions() {
		if !c.Holds {
			return c.Name + ": " + c.Detail
		}
	}
	return ""
}

// preconditions are a restore point's guards, each with its fix.
func (a *archiving) preconditions() []Precondition {
	on := Precondition{Name: "WAL archiving on", Holds: a.on(), Detail: fmt.Sprintf("archive_mode = %s, wal_level = %s", a.mode, a.walLevel)}
	if a.command != "" {
		on.Detail += ", archive_command = " + a.command
	} else if a.library != "" {
		on.Detail += ", archive_library = " + a.library
	}
	if !on.Holds {
		on.Detail += ": a restore point is only a recovery target when the WAL up to it is archived; set archive_mode = on (a restart) with an archive_command, or take a dump instead: --mode scoped or --mode pg_dump"
	}
	ok := Precondition{Name: "WAL archiving succeeds", Holds: a.healthy()}
	switch {
	case a.lastTime == nil && a.failed > 0:
		ok.Detail = fmt.Sprintf("no segment was ever archived and %d attempts failed (last: %s at %s): fix archive_command (the server log says why), or take a dump instead: --mode pg_dump", a.failed, a.lastFailedWAL, a.lastFailedTime.UTC().Format(time.RFC3339))
	case a.lastTime == nil:
		ok.Detail = "the archiver has archived nothing since the statistics were reset: `SELECT pg_switch_wal()` and watch pg_stat_archiver, or take a dump instead: --mode pg_dump"
	case !ok.Holds:
		ok.Detail = fmt.Sprintf("the archiver's last failure (%s at %s) is newer than its last success (%s at %s): archiving is failing, so a restore point would not reach the archive; fix archive_command (the server log says why), or take a dump instead: --mode pg_dump",
			a.lastFailedWAL, a.lastFailedTime.UTC().Format(time.RFC3339), a.lastWAL, a.lastTime.UTC().Format(time.RFC3339))
	default:
		ok.Detail = fmt.Sprintf("last archived %s at %s; %d archived, %d failed since the statistics were reset", a.lastWAL, a.lastTime.UTC().Format(time.RFC3339), a.archived, a.failed)
	}
	priv := Precondition{Name: "privileges for a restore point", Holds: a.canMark && a.canSwitch, Detail: "role " + a.role + " may execute pg_create_restore_point(text) and pg_switch_wal()"}
	if !priv.Holds {
		var lack []string
		if !a.canMark {
			lack = append(lack, "pg_create_restore_point(text)")
		}
		if !a.canSwitch {
			lack = append(lack, "pg_switch_wal()")
		}
		priv.Detail = fmt.Sprintf("role %s may not execute %s: a superuser can `GRANT EXECUTE ON FUNCTION %s TO %s`, or connect as a superuser; or take a dump instead: --mode pg_dump",
			a.role, plural.List(lack), strings.Join(lack, ", "), patternPart(a.role))
	}
	primary := Precondition{Name: "a primary, not a standby", Holds: !a.inRecovery, Detail: "the server is not in recovery"}
	if !primary.Holds {
		primary.Detail = "the server is a standby (in recovery): restore points are made on the primary; connect steady to it"
	}
	return []Precondition{on, ok, priv, primary}
}

// recentArchive is how old the archiver's last success may be before the
// plan warns that archiving may have stalled.
const recentArchive = 24 * time.Hour

// pointName names the restore point after the incident and the run, within
// PostgreSQL's 63 bytes.
func pointName(env *Env) string {
	name := "steady-" + env.Incident + "-" + env.Run
	if env.Incident == "" || env.Run == "" {
		name = "steady-" + unsafeName.ReplaceAllString(env.Target.DBName(), "_") + "-" + time.Now().UTC().Format("20060102T150405.000Z")
	}
	if len(name) > 63 {
		name = name[:63]
	}
	return name
}

// Statements a restore point runs, on a connection of its own.
const (
	switchWALSQL   = "SELECT pg_switch_wal()"
	archiverSQL    = "SELECT coalesce(last_archived_wal, ''), last_archived_time, coalesce(last_failed_wal, ''), last_failed_time FROM pg_stat_archiver"
	pointSQLFormat = "SELECT lsn::text, pg_walfile_name(lsn) FROM pg_create_restore_point(%s) AS lsn"
)

// planRestorePoint plans a named restore point and the wait for its
// segment to reach the archive.
func planRestorePoint(ctx context.Context, env *Env, plan *Plan) error {
	t := env.Target
	a, err := readArchiving(ctx, t)
	if err != nil {
		return fmt.Errorf("read the archiving status of %s: %w", t.DBName(), err)
	}
	name := pointName(env)
	plan.Facts[factPointName] = name
	plan.Steps = []Step{
		{Kind: StepSQL, Text: fmt.Sprintf(pointSQLFormat, quoteLiteral(name)), Note: "writes the named point into the WAL and returns its LSN and the segment holding it"},
		{Kind: StepSQL, Text: switchWALSQL, Note: "closes that segment now, so the archiver takes it instead of waiting for it to fill"},
		{Kind: StepSQL, Text: archiverSQL, Note: fmt.Sprintf("polled until the segment holding the point is archived (up to %s; a failure of it is reported)", restorePointWait)},
	}
	plan.Preconditions = append(plan.Preconditions, a.preconditions()...)
	base := findBaseBackup(ctx, env, a)
	plan.Facts[factBaseFound] = base.text
	bb := Precondition{Name: "a base backup to recover from", Holds: base.found || !base.looked, Detail: base.text}
	if base.looked && !base.found {
		bb.Overridable = true
		bb.Detail += ": without a base backup older than the point the archive cannot be replayed to it; take one first (pg_basebackup, or the team's backup tool), or take a dump instead: --mode pg_dump"
	}
	plan.Preconditions = append(plan.Preconditions, bb)
	if !base.looked {
		plan.Warnings = append(plan.Warnings, "steady cannot see the base backups ("+base.text+"): make sure the team's backup tool has one older than this point, or the point cannot be recovered to")
	}
	if a.lastTime != nil && time.Since(*a.lastTime) > recentArchive {
		plan.Warnings = append(plan.Warnings, fmt.Sprintf("the last segment was archived %s ago: a quiet database, or an archiver that stalled without failing; this plan's wait will tell", time.Since(*a.lastTime).Round(time.Minute)))
	}
	plan.Summary = fmt.Sprintf("restore point %q on the cluster of %s, seen archived: a point-in-time recovery target, not a file (about 1–2s at any size). "+
		"Recovering to it takes the base backup (%s) restored into a new data directory, restore_command fetching the archived WAL, recovery_target_name = '%s' with recovery.signal, and a start that replays the archive up to the point; "+
		"it rewinds the whole cluster, so recover into a side instance and copy back what the fix damaged",
		name, t.DBName(), base.text, name)
	plan.rests("archiving", orNone(a.why()))
	plan.rests("base backup", base.text)
	return nil
}

// quoteLiteral quotes a SQL string literal.
func quoteLiteral(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// baseBackup is what steady could find out about the cluster's newest base
// backup.
type baseBackup struct {
	// looked is false when steady has no way to see them.
	looked, found bool
	text          string
}

// archiveDirRE finds the directory of the usual `cp %p DIR/%f` (or
// `test ! -f DIR/%f && cp %p DIR/%f`) archive_command.
var archiveDirRE = regexp.MustCompile(`\bcp\s+(?:-\S+\s+)*"?%p"?\s+['"]?([^'"\s]+?)/?['"]?/%f`)

// findBaseBackup looks for the newest base backup where steady can see
// one: the configured pgBackRest stanza, or the backup history files
// (*.backup) in an archive directory on this machine.
func findBaseBackup(ctx context.Context, env *Env, a *archiving) baseBackup {
	cfg := env.Target.Config()
	if cfg.Actions.PgBackRest.Stanza != "" {
		info, err := pgbackrestInfo(ctx, env)
		if err == nil && info.usable() {
			if b := info.latest(); b != nil {
				return baseBackup{looked: true, found: true, text: fmt.Sprintf("pgBackRest %s backup %s of stanza %s, finished %s", b.Type, b.Label, cfg.Actions.PgBackRest.Stanza, b.stopped().UTC().Format(time.RFC3339))}
			}
			return baseBackup{looked: true, text: "pgBackRest stanza " + cfg.Actions.PgBackRest.Stanza + " holds no backup"}
		}
	}
	m := archiveDirRE.FindStringSubmatch(a.command)
	if m == nil {
		why := "archive_command is not a copy into a directory steady could read"
		if a.command == "" {
			why = "archive_command is hidden from this role or empty"
		}
		return baseBackup{text: why}
	}
	dir := m[1]
	entries, err := os.ReadDir(dir)
	if err != nil {
		return baseBackup{text: "the archive directory " + dir + " is not readable here (" + err.Error() + ")"}
	}
	newest := ""
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".backup") && e.Name() > newest {
			newest = e.Name()
		}
	}
	if newest == "" {
		return baseBackup{looked: true, text: "no backup history file (*.backup) in the archive directory " + dir}
	}
	return baseBackup{looked: true, found: true, text: describeHistoryFile(filepath.Join(dir, newest))}
}

// describeHistoryFile reads a backup history file's label and times.
func describeHistoryFile(path string) string {
	f, err := os.Open(path)
	if err != nil {
		return "base backup " + filepath.Base(path)
	}
	defer f.Close()
	fields := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), ": "); ok {
			fields[k] = v
		}
	}
	out := "base backup " + filepath.Base(path)
	if l := fields["LABEL"]; l != "" {
		out += " (label " + l + ")"
	}
	if s := fields["STOP TIME"]; s != "" {
		out += ", finished " + s
	}
	return out
}

// executeRestorePoint creates the point, switches WAL and waits until the
// segment holding the point is archived.
func executeRestorePoint(ctx context.Context, env *Env, plan *Plan, pl backupPayload, out Output) Outcome {
	started := time.Now()
	t := env.Target
	db := pl.Database
	name := pl.PointName
	fail := func(status OutcomeStatus, summary string, err error) Outcome {
		o := Outcome{Status: status, ExitCode: -1, Summary: summary, Duration: time.Since(started)}
		if err != nil {
			o.Error = t.Scrubber.Scrub(err.Error())
		}
		return o
	}
	if name == "" || len(plan.Steps) != 3 {
		return fail(Failed, "the plan names no restore point: plan the backup again", nil)
	}
	// The plan may be old: archiving and privileges are judged now.
	a, err := readArchiving(ctx, t)
	if err != nil {
		return fail(Failed, "could not read the archiving status", err)
	}
	if refused := refusedNow(env, a.preconditions()); refused != nil {
		refused.Duration = time.Since(started)
		return *refused
	}
	conn, err := pgx.Connect(ctx, t.Config().DB)
	if err != nil {
		return fail(Failed, "could not connect to make the restore point", errors.New(t.Scrubber.Scrub(err.Error())))
	}
	defer conn.Close(context.WithoutCancel(ctx))
	var lsn, segment string
	say(env, out, "%s", plan.Steps[0].Text)
	if err := conn.QueryRow(ctx, plan.Steps[0].Text).Scan(&lsn, &segment); err != nil {
		return fail(Failed, "could not create the restore point", err)
	}
	say(env, out, "restore point %s at LSN %s, in WAL segment %s", name, lsn, segment)
	say(env, out, "%s", plan.Steps[1].Text)
	if _, err := conn.Exec(ctx, plan.Steps[1].Text); err != nil {
		return fail(Failed, "the restore point "+name+" exists (LSN "+lsn+") but the WAL switch failed, so its segment is not archived yet: NOT counted as a verified backup", err)
	}
	say(env, out, "waiting for %s to be archived (up to %s)", segment, restorePointWait)
	archivedAt, err := awaitArchived(ctx, conn, plan.Steps[2].Text, segment, started)
	if err != nil {
		status := Failed
		if ctx.Err() != nil {
			status = Cancelled
		}
		return fail(status, "the restore point "+name+" exists (LSN "+lsn+") but its segment "+segment+" was not seen archived: "+err.Error()+"; NOT counted as a verified backup", nil)
	}
	say(env, out, "archived %s at %s", segment, archivedAt.UTC().Format(time.RFC3339))
	base := pl.BaseFound
	return Outcome{
		Status:   Succeeded,
		Summary:  fmt.Sprintf("restore point %s of %s's cluster at LSN %s, archived in segment %s (base backup: %s)", name, db, lsn, segment, base),
		Duration: time.Since(started),
		Artefacts: map[string]string{
			ArtefactKind: "backup", ArtefactMethod: modeRestorePoint, ArtefactDatabase: db, ArtefactLabel: name, ArtefactVerified: "true",
			"lsn": lsn, "segment": segment, "archived_at": archivedAt.UTC().Format(time.RFC3339), "base_backup": base,
		},
	}
}

// awaitArchived polls pg_stat_archiver until segment (or a later one) is
// the last archived; archiving is in order, so that covers it.
func awaitArchived(ctx context.Context, conn *pgx.Conn, sql, segment string, since time.Time) (time.Time, error) {
	ctx, cancel := context.WithTimeout(ctx, restorePointWait)
	defer cancel()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	var lastFailure string
	for {
		var last, failedWAL string
		var at, failedAt *time.Time
		if err := conn.QueryRow(ctx, sql).Scan(&last, &at, &failedWAL, &failedAt); err != nil {
			if ctx.Err() != nil {
				break
			}
			return time.Time{}, err
		}
		if walName(last) >= segment && at != nil {
			return *at, nil
		}
		if failedAt != nil && failedAt.After(since) {
			lastFailure = fmt.Sprintf("archiving %s failed at %s", failedWAL, failedAt.UTC().Format(time.RFC3339))
		}
		select {
		case <-ctx.Done():
		case <-tick.C:
			continue
		}
		break
	}
	why := "not archived within " + restorePointWait.String()
	if lastFailure != "" {
		why += " (" + lastFailure + ": the server log says why)"
	}
	if ctx.Err() != nil && !errors.Is(ctx.Err(), context.DeadlineExceeded) {
		why = "cancelled while waiting"
	}
	return time.Time{}, errors.New(why)
}

// walName is the segment part of an archived file name: the 24 hex digits
// of "000000010000000000000003", also of "….00000028.backup" or
// "….partial"; "" for a timeline history file.
func walName(file string) string {
	if len(file) < 24 {
		return ""
	}
	return file[:24]
}
