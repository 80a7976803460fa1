package sandbox_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"steady/internal/poll"
	"steady/internal/sandbox"
)

// An archiving cluster copies every finished WAL segment into its archive
// directory; a second cluster started from a base backup replays that
// archive up to a named restore point and no further.
func TestArchivingClusterRecoversToARestorePoint(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	src, err := sandbox.StartPostgres(ctx, sandbox.PostgresOptions{Archive: true})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Stop()
	conn, err := pgx.Connect(ctx, src.URL("postgres"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var mode string
	if err := conn.QueryRow(ctx, "SHOW archive_mode").Scan(&mode); err != nil || mode != "on" {
		t.Fatalf("archive_mode %q (%v), want on", mode, err)
	}
	exec := func(sql string) {
		t.Helper()
		if _, err := conn.Exec(ctx, sql); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}
	exec("CREATE TABLE marks (what text)")
	exec("INSERT INTO marks VALUES ('before the base backup')")
	base, err := src.BaseBackup(ctx)
	if err != nil {
		t.Fatal(err)
	}
	exec("INSERT INTO marks VALUES ('before the point')")
	var segment string
	if err := conn.QueryRow(ctx, "SELECT pg_walfile_name(pg_create_restore_point('drill-point'))").Scan(&segment); err != nil {
		t.Fatal(err)
	}
	exec("INSERT INTO marks VALUES ('after the point')")
	exec("SELECT pg_switch_wal()")
	archived := filepath.Join(src.ArchiveDir(), segment)
	poll.Until(t, time.Minute, "segment "+segment+" to be archived",
		func() bool { _, err := os.Stat(archived); return err == nil },
		func() string { return src.LogTail(20) })

	dst, err := sandbox.StartPostgres(ctx, sandbox.PostgresOptions{Recover: &sandbox.Recovery{
		BaseBackup: base, ArchiveDir: src.ArchiveDir(), TargetName: "drill-point", Password: src.Password(),
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer dst.Stop()
	rc, err := pgx.Connect(ctx, dst.URL("postgres"))
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close(ctx)
	rows, err := rc.Query(ctx, "SELECT what FROM marks ORDER BY what")
	if err != nil {
		t.Fatal(err)
	}
	got, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0] != "before the base backup" || got[1] != "before the point" {
		t.Errorf("recovered rows %q, want the two written before the restore point", got)
	}
	if err := rc.QueryRow(ctx, "SHOW archive_mode").Scan(&mode); err != nil || mode != "off" {
		t.Errorf("the recovered cluster archives (%q, %v): it would write into the source's archive", mode, err)
	}
}
