package sandbox

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
)

// PostgresUser is the superuser every sandbox cluster is created with.
const PostgresUser = "steady"

// pgBinGlob is where Debian's postgresql-NN packages install the server
// binaries, which are deliberately not on PATH there.
const pgBinGlob = "/usr/lib/postgresql/*/bin"

// PostgresOptions tunes StartPostgres. The zero value is ready to use.
type PostgresOptions struct {
	// BinDir holds initdb and postgres. Empty means: PATH first, then
	// /usr/lib/postgresql/*/bin, newest version first.
	BinDir string
	// Keep leaves the temp dir (data, log) in place after Stop for a
	// post-mortem; the server processes are stopped regardless.
	Keep bool
	// Log receives one-line progress messages; nil discards them.
	Log io.Writer
	// StartTimeout bounds initdb plus startup if ctx has no earlier
	// deadline; zero means one minute.
	StartTimeout time.Duration
	// Archive turns continuous archiving on: archive_mode = on and an
	// archive_command copying each finished WAL segment into ArchiveDir(),
	// never over a file already there, as a team's own copy to a mount does.
	Archive bool
	// Recover starts the server from a base backup instead of a fresh
	// cluster and replays archived WAL up to a named restore point.
	Recover *Recovery
}

// Postgres is a private PostgreSQL server in a temp dir: TCP on
// 127.0.0.1:Port() with password authentication (scram-sha-256), and a
// unix socket in Dir() that trusts the local user.
type Postgres struct {
	dir      string
	binDir   string
	cred     *syscall.Credential
	archive  bool
	recover  *Recovery
	password string
	port     int
	keep     bool
	progress io.Writer
	log      *logFile
	srv      *server
	reaper   *reaper

	stopOnce sync.Once
	stopErr  error
}

// StartPostgres creates a fresh cluster with initdb and starts a server on
// it, returning once the server accepts password logins over TCP. The
// server keeps running after ctx ends; call Stop.
func StartPostgres(ctx context.Context, opts PostgresOptions) (_ *Postgres, err error) {
	initdb, postgres, err := findPostgres(opts.BinDir)
	if err != nil {
		return nil, err
	}
	cred, err := unprivilegedCredential()
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, orDefault(opts.StartTimeout, time.Minute))
	defer cancel()
	started := time.Now()

	dir, err := os.MkdirTemp("", pgDirPrefix)
	if err != nil {
		return nil, fmt.Errorf("start postgres: create temp dir: %w; check TMPDIR (%s)", err, os.TempDir())
	}
	p := &Postgres{
		dir:      dir,
		binDir:   filepath.Dir(initdb),
		cred:     cred,
		archive:  opts.Archive,
		recover:  opts.Recover,
		keep:     opts.Keep,
		progress: progressWriter(opts.Log),
		log:      &logFile{path: filepath.Join(dir, "postgres.log")},
	}
	defer func() {
		if err != nil {
			err = errors.Join(err, p.Stop())
		}
	}()
	// Arm the reaper before anything can run that it would have to kill.
	if p.reaper, err = startReaper("QUIT", opts.Keep, dir); err != nil {
		return nil, err
	}
	if err := p.prepareDir(ctx, opts, initdb); err != nil {
		return nil, err
	}

	for attempt := 1; ; attempt++ {
		retry, err := p.startServer(ctx, postgres, cred)
		if err == nil {
			break
		}
		if !retry || attempt == 5 {
			return nil, err
		}
		fmt.Fprintf(p.progress, "sandbox: postgres: port %d was taken meanwhile, retrying\n", p.port)
	}
	if opts.Recover != nil {
		if err := p.awaitPromotion(ctx); err != nil {
			return nil, err
		}
	}
	fmt.Fprintf(p.progress, "sandbox: postgres: ready on 127.0.0.1:%d in %v (dir %s, pid %d)\n",
		p.port, time.Since(started).Round(time.Millisecond), dir, p.srv.pid())
	return p, nil
}

// prepareDir makes the server's data directory ready to start: the
// password, the directory's owner, the cluster (initdb, or the base backup
// to recover), the WAL archive and the configuration.
func (p *Postgres) prepareDir(ctx context.Context, opts PostgresOptions, initdb string) error {
	var err error
	if p.password, err = randomHex(16); err != nil {
		return fmt.Errorf("start postgres in %s: generate password: %w", p.dir, err)
	}
	if opts.Recover != nil {
		// The roles, and so the password, are the base backup's.
		p.password = opts.Recover.Password
	}
	// The socket path is limited to 107 bytes by the kernel (sun_path).
	if len(p.dir)+len("/.s.PGSQL.65535") > 107 {
		return fmt.Errorf("start postgres in %s: the unix socket path would exceed 107 bytes; point TMPDIR at a shorter path", p.dir)
	}
	if p.cred != nil {
		// initdb and postgres run as an unprivileged user and must own the dir.
		if err := os.Chown(p.dir, int(p.cred.Uid), int(p.cred.Gid)); err != nil {
			return fmt.Errorf("start postgres in %s: chown to uid %d: %w", p.dir, p.cred.Uid, err)
		}
	}

	if opts.Recover != nil {
		fmt.Fprintf(p.progress, "sandbox: postgres: restoring the base backup %s in %s\n", opts.Recover.BaseBackup, p.dir)
		if err := p.restoreBase(ctx, p.cred); err != nil {
			return err
		}
	} else {
		fmt.Fprintf(p.progress, "sandbox: postgres: initdb in %s\n", p.dir)
		if err := p.initdb(ctx, initdb, p.cred); err != nil {
			return err
		}
	}
	if err := p.prepareArchive(); err != nil {
		return err
	}
	return p.configure()
}

func (p *Postgres) initdb(ctx context.Context, initdb string, cred *syscall.Credential) error {
	// initdb reads the password from a file so it never shows up in ps.
	pwfile := filepath.Join(p.dir, "pwfile")
	if err := os.WriteFile(pwfile, []byte(p.password+"\n"), 0o600); err != nil {
		return fmt.Errorf("initdb in %s: write password file: %w", p.dir, err)
	}
	defer os.Remove(pwfile)
	if cred != nil {
		if err := os.Chown(pwfile, int(cred.Uid), int(cred.Gid)); err != nil {
			return fmt.Errorf("initdb in %s: chown password file: %w", p.dir, err)
		}
	}
	cmd := exec.CommandContext(ctx, initdb,
		"-D", filepath.Join(p.dir, "data"),
		"-U", PostgresUser,
		"--pwfile="+pwfile,
		"--auth-local=trust",
		"--auth-host=scram-sha-256",
		"--encoding=UTF8",
		"--no-locale",
		"--no-sync", // throwaway data: skip the fsync of a fresh cluster
	)
	cmd.Dir = p.dir
	cmd.Env = childEnv()
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred, Setpgid: true}
	// initdb runs postgres --boot/--single children; kill them all on cancel.
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	out, err := cmd.CombinedOutput()
	if err != nil {
		hint := ""
		if cred != nil && strings.Contains(string(out), "ermission denied") {
			hint = fmt.Sprintf("\nthe server runs as uid %d because PostgreSQL refuses root; every parent of %s must be searchable by it (set TMPDIR to a world-searchable dir)", cred.Uid, p.dir)
		}
		if ctx.Err() != nil {
			err = fmt.Errorf("%w (%w)", err, context.Cause(ctx))
		}
		return fmt.Errorf("initdb in %s: %w; output:\n%s%s", p.dir, err, indent(lastLines(out, 20)), hint)
	}
	return nil
}

// configure appends the sandbox settings to postgresql.conf rather than
// passing -c flags, so a kept dir can be restarted by hand with the same
// settings (`postgres -D DIR/data -p PORT`).
func (p *Postgres) configure() error {
	conf := filepath.Join(p.dir, "data", "postgresql.conf")
	f, err := os.OpenFile(conf, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		return fmt.Errorf("configure postgres in %s: %w", p.dir, err)
	}
	_, err = fmt.Fprintf(f, `
# steady sandbox: throwaway data, so durability is traded for speed.
listen_addresses = '127.0.0.1'
unix_socket_directories = %s
fsync = off
full_page_writes = off
synchronous_commit = off
logging_collector = off
# Puts the dir name into every backend's process title, so stray processes
# can be traced back to (and cleaned up with) this dir.
cluster_name = %s
%s`, pgQuote(p.dir), pgQuote(filepath.Base(p.dir)), p.archiveSettings())
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("configure postgres in %s: %w", p.dir, err)
	}
	return nil
}

// startServer makes one attempt on a fresh port. retry is true when the
// port was taken between picking it and the server binding it.
func (p *Postgres) startServer(ctx context.Context, postgres string, cred *syscall.Credential) (retry bool, err error) {
	if p.port, err = pickPort(); err != nil {
		return false, fmt.Errorf("start postgres in %s: %w", p.dir, err)
	}
	out, off, err := p.log.open()
	if err != nil {
		return false, fmt.Errorf("start postgres in %s: open log: %w", p.dir, err)
	}
	defer out.Close() // the child has its own copy
	cmd := exec.Command(postgres, "-D", filepath.Join(p.dir, "data"), "-p", strconv.Itoa(p.port))
	cmd.Dir = p.dir
	cmd.Env = childEnv()
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	srv, err := startServer(cmd)
	if err != nil {
		return false, fmt.Errorf("start postgres in %s: %w", p.dir, err)
	}
	p.srv = srv

	probeCtx, cancel := srv.untilExit(ctx)
	defer cancel()
	var lastErr error
	for {
		if lastErr = p.ping(probeCtx); lastErr == nil {
			return false, nil
		}
		select {
		case <-srv.done:
			log := p.log.since(off)
			p.srv = nil
			return addrInUse(log), fmt.Errorf("start postgres in %s: server exited during startup (%v); log:\n%s", p.dir, srv.err, indent(lastLines([]byte(log), 20)))
		case <-ctx.Done():
			return false, fmt.Errorf("start postgres in %s: not accepting connections on port %d: %w (last attempt: %v); log:\n%s",
				p.dir, p.port, context.Cause(ctx), lastErr, indent(p.log.tail(20)))
		case <-time.After(25 * time.Millisecond):
		}
	}
}

func (p *Postgres) ping(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, p.URL("postgres"))
	if err != nil {
		return err
	}
	return conn.Close(ctx)
}

// URL returns a password-authenticated TCP URL for dbname, the form Django,
// psql and pgx all accept.
func (p *Postgres) URL(dbname string) string {
	u := url.URL{
		Scheme:   "postgres",
		User:     url.UserPassword(PostgresUser, p.password),
		Host:     "127.0.0.1:" + strconv.Itoa(p.port),
		Path:     "/" + dbname,
		RawQuery: "sslmode=disable",
	}
	return u.String()
}

// SocketURL returns a URL for dbname over the unix socket in Dir(), where
// the local user is trusted and no password is needed.
func (p *Postgres) SocketURL(dbname string) string {
	q := url.Values{"host": {p.dir}, "port": {strconv.Itoa(p.port)}, "sslmode": {"disable"}}
	u := url.URL{Scheme: "postgres", User: url.User(PostgresUser), Path: "/" + dbname, RawQuery: q.Encode()}
	return u.String()
}

// Password returns the superuser's random password.
func (p *Postgres) Password() string { return p.password }

// Port returns the TCP port on 127.0.0.1.
func (p *Postgres) Port() int { return p.port }

// Dir returns the temp dir holding data/, the log and the unix socket.
func (p *Postgres) Dir() string { return p.dir }

// PID returns the postmaster's process id; after Stop it names a process
// that no longer exists.
func (p *Postgres) PID() int {
	if p.srv == nil {
		return 0
	}
	return p.srv.pid()
}

// LogTail returns the last n lines of the server log; it keeps working
// after Stop removed the dir.
func (p *Postgres) LogTail(n int) string { return p.log.tail(n) }

// CreateDatabase creates database name and returns its URL.
func (p *Postgres) CreateDatabase(ctx context.Context, name string) (string, error) {
	if err := p.exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		return "", fmt.Errorf("create database %q on 127.0.0.1:%d: %w", name, p.port, err)
	}
	return p.URL(name), nil
}

// DropDatabase drops database name if it exists, disconnecting any clients
// still using it.
func (p *Postgres) DropDatabase(ctx context.Context, name string) error {
	if err := p.exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)"); err != nil {
		return fmt.Errorf("drop database %q on 127.0.0.1:%d: %w", name, p.port, err)
	}
	return nil
}

func (p *Postgres) exec(ctx context.Context, sql string) error {
	conn, err := pgx.Connect(ctx, p.SocketURL("postgres"))
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	_, err = conn.Exec(ctx, sql)
	return err
}

// Stop shuts the server down (fast shutdown, then immediate, then SIGKILL
// of its process group), kills any straggler that still references the dir,
// removes the dir unless Keep was set, and dismisses the reaper. It is
// idempotent and safe to call from several goroutines.
func (p *Postgres) Stop() error {
	p.stopOnce.Do(func() {
		var errs []error
		if p.srv != nil {
			// SIGINT is "fast shutdown": disconnect clients, checkpoint, exit.
			errs = append(errs, p.srv.stop([]stopStep{
				{syscall.SIGINT, 15 * time.Second},
				{syscall.SIGQUIT, 5 * time.Second},
			}, p.progress, "postgres"))
		}
		errs = append(errs, sweep(p.dir))
		p.log.save()
		if !p.keep {
			errs = append(errs, removeDir(p.dir))
		}
		// Only now, with nothing left to clean up, stand the reaper down.
		errs = append(errs, p.reaper.dismiss())
		if p.stopErr = errors.Join(errs...); p.stopErr != nil {
			p.stopErr = fmt.Errorf("stop postgres in %s: %w", p.dir, p.stopErr)
		} else if p.keep {
			fmt.Fprintf(p.progress, "sandbox: postgres: stopped, kept %s\n", p.dir)
		}
	})
	return p.stopErr
}

// findPostgres locates initdb and the postgres server binary of one and the
// same installation.
func findPostgres(binDir string) (initdb, postgres string, err error) {
	var dirs []string
	if binDir != "" {
		dirs = []string{binDir}
	} else {
		if path, err := exec.LookPath("initdb"); err == nil {
			dirs = append(dirs, filepath.Dir(path))
		}
		found, _ := filepath.Glob(pgBinGlob)
		slices.SortFunc(found, func(a, b string) int {
			return compareVersions(filepath.Base(filepath.Dir(b)), filepath.Base(filepath.Dir(a)))
		})
		dirs = append(dirs, found...)
	}
	for _, d := range dirs {
		i, p := filepath.Join(d, "initdb"), filepath.Join(d, "postgres")
		if isExecutable(i) && isExecutable(p) {
			return i, p, nil
		}
	}
	if binDir != "" {
		return "", "", fmt.Errorf("%w: no initdb and postgres in %s (PostgresOptions.BinDir)", ErrNotInstalled, binDir)
	}
	return "", "", fmt.Errorf("%w: initdb and postgres are neither on PATH nor in %s; install the Debian package postgresql (apt-get install postgresql) or set PostgresOptions.BinDir",
		ErrNotInstalled, pgBinGlob)
}

// compareVersions orders "9.6" < "10" < "15" numerically, part by part.
func compareVersions(a, b string) int {
	as, bs := strings.Split(a, "."), strings.Split(b, ".")
	for i := range max(len(as), len(bs)) {
		var x, y int
		if i < len(as) {
			x, _ = strconv.Atoi(as[i])
		}
		if i < len(bs) {
			y, _ = strconv.Atoi(bs[i])
		}
		if x != y {
			return x - y
		}
	}
	return strings.Compare(a, b)
}

func isExecutable(path string) bool {
	st, err := os.Stat(path)
	return err == nil && st.Mode().IsRegular() && st.Mode()&0o111 != 0
}

// unprivilegedCredential returns who to run PostgreSQL as: nil (ourselves)
// normally, the nobody account when we are root, since postgres and initdb
// refuse to run as root.
func unprivilegedCredential() (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	u, err := user.Lookup("nobody")
	if err != nil {
		return nil, fmt.Errorf("start postgres: running as root, and PostgreSQL refuses root, but the unprivileged account to run it as is missing: %w; create the user nobody or run as a normal user", err)
	}
	uid, err1 := strconv.ParseUint(u.Uid, 10, 32)
	gid, err2 := strconv.ParseUint(u.Gid, 10, 32)
	if err := errors.Join(err1, err2); err != nil {
		return nil, fmt.Errorf("start postgres: parse ids of user nobody: %w", err)
	}
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), Groups: []uint32{}}, nil
}

// pgQuote quotes a postgresql.conf string value.
func pgQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

func randomHex(n int) (string, error) {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return hex.EncodeToString(b), nil
}

func orDefault(d, def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return d
}
