package sandbox

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
)

// Recovery says how a server started from a base backup recovers: it
// restores archived WAL from ArchiveDir and replays it up to the restore
// point TargetName, then is promoted and accepts writes.
type Recovery struct {
	// BaseBackup is a directory written by (*Postgres).BaseBackup.
	BaseBackup string
	// ArchiveDir holds the archived WAL segments (the source's ArchiveDir).
	ArchiveDir string
	// TargetName is the restore point to stop at (recovery_target_name).
	TargetName string
	// Password is the superuser's password in the base backup (the
	// source's Password()): the roles come with the backup.
	Password string
}

// ArchiveDir is where an archiving server (PostgresOptions.Archive) copies
// its WAL segments; "" when it does not archive.
func (p *Postgres) ArchiveDir() string {
	if !p.archive {
		return ""
	}
	return filepath.Join(p.dir, "archive")
}

// OSUser is the operating-system account the server runs as: the current
// user, or nobody when the sandbox was started by root. Tools that share
// the server's files (pgBackRest's archive-push writes into the same
// repository as its backup) must run as it.
func (p *Postgres) OSUser() string {
	if p.cred == nil {
		if u, err := user.Current(); err == nil {
			return u.Username
		}
		return strconv.Itoa(os.Getuid())
	}
	if u, err := user.LookupId(strconv.Itoa(int(p.cred.Uid))); err == nil {
		return u.Username
	}
	return strconv.Itoa(int(p.cred.Uid))
}

// Subdir creates a directory inside Dir() that the server's account owns,
// for files the server itself must write or read (a backup tool's
// repository, its configuration). It is removed with the sandbox.
func (p *Postgres) Subdir(name string) (string, error) {
	dir := filepath.Join(p.dir, name)
	if err := os.Mkdir(dir, 0o700); err != nil {
		return "", fmt.Errorf("sandbox dir %s: %w", dir, err)
	}
	if err := p.own(dir); err != nil {
		return "", err
	}
	return dir, nil
}

// own hands a path to the server's account.
func (p *Postgres) own(path string) error {
	if p.cred == nil {
		return nil
	}
	if err := os.Chown(path, int(p.cred.Uid), int(p.cred.Gid)); err != nil {
		return fmt.Errorf("chown %s to uid %d: %w", path, p.cred.Uid, err)
	}
	return nil
}

// archiveSettings are the postgresql.conf lines of continuous archiving.
// A recovered server that is not asked to archive gets archiving off
// explicitly: its base backup's settings would otherwise send its WAL into
// the source's archive.
func (p *Postgres) archiveSettings() string {
	var s string
	if p.archive {
		dir := filepath.Join(p.dir, "archive")
		s += "# continuous archiving into a directory, never over an existing file\n"
		s += "archive_mode = on\n"
		s += "archive_command = " + pgQuote("test ! -f "+shellQuote(dir)+"/%f && cp %p "+shellQuote(dir)+"/%f") + "\n"
	} else if p.recover != nil {
		s += "archive_mode = off\n"
	}
	if r := p.recover; r != nil {
		s += "# recovery to a named restore point from the archive\n"
		s += "restore_command = " + pgQuote("cp "+shellQuote(r.ArchiveDir)+"/%f %p") + "\n"
		s += "recovery_target_name = " + pgQuote(r.TargetName) + "\n"
		s += "recovery_target_action = 'promote'\n"
	}
	return s
}

// shellQuote quotes a path for the shell that runs archive_command.
func shellQuote(s string) string {
	out := "'"
	for _, r := range s {
		if r == '\'' {
			out += `'\''`
			continue
		}
		out += string(r)
	}
	return out + "'"
}

// prepareArchive creates the archive directory the server writes into.
func (p *Postgres) prepareArchive() error {
	if !p.archive {
		return nil
	}
	dir := filepath.Join(p.dir, "archive")
	if err := os.Mkdir(dir, 0o700); err != nil {
		return fmt.Errorf("archive dir %s: %w", dir, err)
	}
	return p.own(dir)
}

// BaseBackup takes a base backup of the running server with pg_basebackup
// (plain format, the WAL it needs streamed alongside, a fast checkpoint)
// into a new directory inside Dir(), and returns that directory.
func (p *Postgres) BaseBackup(ctx context.Context) (string, error) {
	tool := filepath.Join(p.binDir, "pg_basebackup")
	if !isExecutable(tool) {
		var err error
		if tool, err = exec.LookPath("pg_basebackup"); err != nil {
			return "", fmt.Errorf("%w: pg_basebackup is neither beside initdb nor on PATH; install postgresql-client", ErrNotInstalled)
		}
	}
	parent, err := os.MkdirTemp(p.dir, "basebackup-")
	if err != nil {
		return "", fmt.Errorf("base backup: %w", err)
	}
	if err := p.own(parent); err != nil {
		return "", err
	}
	dest := filepath.Join(parent, "data")
	cmd := exec.CommandContext(ctx, tool, "-D", dest, "-d", p.SocketURL("postgres"), "-X", "stream", "-c", "fast", "--no-sync")
	cmd.Env = childEnv()
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: p.cred, Setpgid: true}
	cmd.WaitDelay = 5 * time.Second
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("pg_basebackup of 127.0.0.1:%d: %w\n%s", p.port, err, indent(lastLines(out, 20)))
	}
	return dest, nil
}

// restoreBase copies a base backup into the new cluster's data directory
// and marks it for targeted recovery.
func (p *Postgres) restoreBase(ctx context.Context, cred *syscall.Credential) error {
	r := p.recover
	if r.BaseBackup == "" || r.ArchiveDir == "" || r.TargetName == "" {
		return errors.New("start postgres: Recovery needs BaseBackup, ArchiveDir and TargetName")
	}
	data := filepath.Join(p.dir, "data")
	// cp -a as the server's account: ownership and the 0700 mode come along.
	cmd := exec.CommandContext(ctx, "cp", "-a", r.BaseBackup, data)
	cmd.Env = childEnv()
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("copy the base backup %s into %s: %w: %s", r.BaseBackup, data, err, out)
	}
	if err := os.Chmod(data, 0o700); err != nil {
		return fmt.Errorf("recover in %s: %w", p.dir, err)
	}
	signal := filepath.Join(data, "recovery.signal")
	if err := os.WriteFile(signal, nil, 0o600); err != nil {
		return fmt.Errorf("recover in %s: %w", p.dir, err)
	}
	return p.own(signal)
}

// awaitPromotion waits until recovery has reached its target and the server
// left recovery, or fails with the server's log when it stopped short.
func (p *Postgres) awaitPromotion(ctx context.Context) error {
	for {
		conn, err := pgx.Connect(ctx, p.SocketURL("postgres"))
		if err == nil {
			var inRecovery bool
			err = conn.QueryRow(ctx, "SELECT pg_is_in_recovery()").Scan(&inRecovery)
			conn.Close(context.WithoutCancel(ctx))
			if err == nil && !inRecovery {
				return nil
			}
		}
		select {
		case <-p.srv.done:
			return fmt.Errorf("recover in %s: the server stopped before reaching restore point %q; log:\n%s", p.dir, p.recover.TargetName, indent(p.log.tail(20)))
		case <-ctx.Done():
			return fmt.Errorf("recover in %s: still in recovery: %w; log:\n%s", p.dir, context.Cause(ctx), indent(p.log.tail(20)))
		case <-time.After(50 * time.Millisecond):
		}
	}
}
