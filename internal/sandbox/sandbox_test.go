package sandbox_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/redis/go-redis/v9"

	"steady/internal/poll"
	"steady/internal/sandbox"
)

// childEnv makes the test binary act as the child of TestSIGKILLLeavesNothing
// ("sigkill") or TestCtrlCSparesServers ("sigint").
const childEnv = "STEADY_SANDBOX_TEST_CHILD"

func TestMain(m *testing.M) {
	switch os.Getenv(childEnv) {
	case "sigkill":
		os.Exit(runChild())
	case "sigint":
		os.Exit(runInterruptedChild())
	}
	os.Exit(m.Run())
}

// childReport is what the child prints once its servers are up.
type childReport struct {
	Dirs []string
}

// runChild starts a sandbox and a cluster, reports their dirs and blocks
// until stdin closes; the parent SIGKILLs it long before that.
func runChild() int {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	s, err := sandbox.Start(ctx, sandbox.Options{})
	if err != nil {
		fmt.Fprintln(os.Stderr, "child:", err)
		return 1
	}
	defer s.Close()
	c, err := sandbox.StartRedisCluster(ctx, 3)
	if err != nil {
		fmt.Fprintln(os.Stderr, "child:", err)
		return 1
	}
	defer c.Stop()
	if err := json.NewEncoder(os.Stdout).Encode(childReport{Dirs: []string{s.Postgres.Dir(), s.Redis.Dir(), c.Dir()}}); err != nil {
		fmt.Fprintln(os.Stderr, "child:", err)
		return 1
	}
	_, _ = io.Copy(io.Discard, os.Stdin)
	return 0
}

// runInterruptedChild plays a program with an orderly Ctrl-C handler: on
// SIGINT it checks that its servers are still up, then closes the sandbox.
func runInterruptedChild() int {
	interrupted := make(chan os.Signal, 1)
	signal.Notify(interrupted, os.Interrupt)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	s, err := sandbox.Start(ctx, sandbox.Options{})
	if err != nil {
		fmt.Fprintln(os.Stderr, "child:", err)
		return 1
	}
	defer s.Close()
	if err := json.NewEncoder(os.Stdout).Encode(childReport{Dirs: []string{s.Postgres.Dir(), s.Redis.Dir()}}); err != nil {
		fmt.Fprintln(os.Stderr, "child:", err)
		return 1
	}
	select {
	case <-interrupted:
	case <-ctx.Done():
		fmt.Fprintln(os.Stderr, "child: no SIGINT came")
		return 1
	}
	conn, err := pgx.Connect(ctx, s.DatabaseURL)
	if err != nil {
		fmt.Fprintln(os.Stderr, "child: postgres died with the Ctrl-C:", err)
		return 1
	}
	conn.Close(ctx)
	rc := redis.NewClient(&redis.Options{Addr: s.Redis.Addr()})
	defer rc.Close()
	if err := rc.Ping(ctx).Err(); err != nil {
		fmt.Fprintln(os.Stderr, "child: redis died with the Ctrl-C:", err)
		return 1
	}
	if err := s.Close(); err != nil {
		fmt.Fprintln(os.Stderr, "child:", err)
		return 1
	}
	fmt.Println("servers survived the interrupt")
	return 0
}

// startChild re-executes the test binary in the given child mode and
// returns what it reports once its servers are up.
func startChild(t *testing.T, mode string, attr *syscall.SysProcAttr) (*exec.Cmd, childReport, *bufio.Reader, *bytes.Buffer) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"="+mode)
	cmd.SysProcAttr = attr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stdin.Close() })
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	stderr := &bytes.Buffer{}
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	out := bufio.NewReader(stdout)
	reported := make(chan childReport, 1)
	go func() {
		var r childReport
		if line, err := out.ReadBytes('\n'); err == nil {
			_ = json.Unmarshal(line, &r)
		}
		reported <- r
	}()
	var report childReport
	select {
	case report = <-reported:
	case <-time.After(2 * time.Minute):
		t.Fatalf("child did not report within 2m")
	}
	if len(report.Dirs) == 0 {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("child reported nothing; stderr:\n%s", stderr.String())
	}
	return cmd, report, out, stderr
}

func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// leftoversOf returns the Leftovers entries that belong to dir.
func leftoversOf(t *testing.T, dir string) []string {
	t.Helper()
	all, err := sandbox.Leftovers()
	if err != nil {
		t.Fatal(err)
	}
	re := regexp.MustCompile(regexp.QuoteMeta(dir[strings.LastIndexByte(dir, '/')+1:]) + `(?:[^0-9]|$)`)
	var out []string
	for _, l := range all {
		if re.MatchString(l) {
			out = append(out, l)
		}
	}
	return out
}

// traces describes what is left of a sandbox dir: live processes, the dir.
func traces(t *testing.T, dir string) string {
	t.Helper()
	var b strings.Builder
	for _, l := range leftoversOf(t, dir) {
		fmt.Fprintf(&b, "process %.150s\n", l)
	}
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		fmt.Fprintf(&b, "dir %s still exists (stat: %v)\n", dir, err)
	}
	return b.String()
}

// assertNoTraces checks right away: Stop must be synchronous.
func assertNoTraces(t *testing.T, dirs ...string) {
	t.Helper()
	for _, d := range dirs {
		if tr := traces(t, d); tr != "" {
			t.Errorf("after Stop:\n%s", tr)
		}
	}
}

// waitFor polls cond until it returns "" or the deadline passes.
func waitFor(t *testing.T, timeout time.Duration, cond func() string) {
	t.Helper()
	var msg string
	poll.Until(t, timeout, "it to be done", func() bool { msg = cond(); return msg == "" }, func() string { return msg })
}

// processGone reports whether pid has exited. A zombie counts as gone: it
// holds nothing, and in a container whose init does not reap orphans it
// may linger forever.
func processGone(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return true
	}
	fields := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
	return len(fields) > 0 && (fields[0] == "Z" || fields[0] == "X")
}

func connect(ctx context.Context, t *testing.T, url string) *pgx.Conn {
	t.Helper()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatalf("connect %s: %v", url, err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

func TestPostgres(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	pg, err := sandbox.StartPostgres(ctx, sandbox.PostgresOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pg.Stop() })

	t.Run("tcp with password", func(t *testing.T) {
		conn := connect(ctx, t, pg.URL("postgres"))
		var user, fsync, fpw, syncCommit, addr string
		err := conn.QueryRow(ctx, `SELECT current_user, current_setting('fsync'), current_setting('full_page_writes'),
			current_setting('synchronous_commit'), host(inet_server_addr())`).Scan(&user, &fsync, &fpw, &syncCommit, &addr)
		if err != nil {
			t.Fatal(err)
		}
		if user != sandbox.PostgresUser || addr != "127.0.0.1" {
			t.Errorf("connected as %q to %q, want %q to 127.0.0.1", user, addr, sandbox.PostgresUser)
		}
		if fsync != "off" || fpw != "off" || syncCommit != "off" {
			t.Errorf("fsync=%s full_page_writes=%s synchronous_commit=%s, want all off", fsync, fpw, syncCommit)
		}
	})

	t.Run("unix socket without password", func(t *testing.T) {
		url := pg.SocketURL("postgres")
		if strings.Contains(url, pg.Password()) {
			t.Errorf("SocketURL %s carries the password", url)
		}
		conn := connect(ctx, t, url)
		var viaSocket bool
		if err := conn.QueryRow(ctx, "SELECT inet_server_addr() IS NULL").Scan(&viaSocket); err != nil {
			t.Fatal(err)
		}
		if !viaSocket {
			t.Error("SocketURL connected over TCP")
		}
	})

	t.Run("wrong password rejected", func(t *testing.T) {
		bad := strings.Replace(pg.URL("postgres"), pg.Password(), "not-the-password", 1)
		conn, err := pgx.Connect(ctx, bad)
		if err == nil {
			conn.Close(ctx)
			t.Fatal("login with a wrong password succeeded")
		}
		var pgErr *pgconn.PgError
		if !errors.As(err, &pgErr) || pgErr.Code != "28P01" {
			t.Fatalf("got %v, want SQLSTATE 28P01 (invalid_password)", err)
		}
	})

	t.Run("create and drop database", func(t *testing.T) {
		url, err := pg.CreateDatabase(ctx, "App-DB")
		if err != nil {
			t.Fatal(err)
		}
		conn := connect(ctx, t, url)
		var name string
		if err := conn.QueryRow(ctx, "SELECT current_database()").Scan(&name); err != nil {
			t.Fatal(err)
		}
		if name != "App-DB" {
			t.Errorf("connected to %q, want App-DB", name)
		}
		// The connection is still open: DropDatabase must force it out.
		if err := pg.DropDatabase(ctx, "App-DB"); err != nil {
			t.Fatal(err)
		}
		if _, err := pgx.Connect(ctx, url); err == nil {
			t.Error("dropped database still accepts connections")
		}
	})

	t.Run("own process group", func(t *testing.T) {
		pgid, err := syscall.Getpgid(pg.PID())
		if err != nil {
			t.Fatal(err)
		}
		if pgid != pg.PID() || pgid == syscall.Getpgrp() {
			t.Errorf("postmaster %d is in process group %d (ours: %d); a Ctrl-C would reach it", pg.PID(), pgid, syscall.Getpgrp())
		}
	})

	// A client still connected must not hold up Stop.
	idle := connect(ctx, t, pg.URL("postgres"))
	_ = idle
	dir, pid := pg.Dir(), pg.PID()
	if len(leftoversOf(t, dir)) < 2 {
		t.Fatalf("Leftovers does not see the running server and its reaper: %q", leftoversOf(t, dir))
	}
	if err := pg.Stop(); err != nil {
		t.Fatal(err)
	}
	assertNoTraces(t, dir)
	if !processGone(pid) {
		t.Errorf("postmaster %d still running after Stop", pid)
	}
	if err := pg.Stop(); err != nil {
		t.Errorf("second Stop: %v", err)
	}
	if tail := pg.LogTail(3); !strings.Contains(tail, "shut down") {
		t.Errorf("LogTail after Stop = %q, want the shutdown messages", tail)
	}
}

func TestPostgresMissingBinaries(t *testing.T) {
	t.Parallel()
	_, err := sandbox.StartPostgres(testContext(t), sandbox.PostgresOptions{BinDir: t.TempDir()})
	if !errors.Is(err, sandbox.ErrNotInstalled) {
		t.Fatalf("got %v, want ErrNotInstalled", err)
	}
}

func TestRedis(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	r, err := sandbox.StartRedis(ctx, sandbox.RedisOptions{Password: `p"a\ss w`, MaxMemory: "32mb"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Stop() })

	opts, err := redis.ParseURL(r.URL(2))
	if err != nil {
		t.Fatalf("parse %s: %v", r.URL(2), err)
	}
	if opts.DB != 2 || opts.Addr != r.Addr() {
		t.Errorf("URL(2) = %s parses to db %d at %s", r.URL(2), opts.DB, opts.Addr)
	}
	c := redis.NewClient(opts)
	defer c.Close()
	if err := c.Ping(ctx).Err(); err != nil {
		t.Fatalf("PING: %v", err)
	}
	if err := c.Set(ctx, "k", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	cfg, err := c.ConfigGet(ctx, "*").Result()
	if err != nil {
		t.Fatal(err)
	}
	for k, want := range map[string]string{"maxmemory": strconv.Itoa(32 << 20), "save": "", "appendonly": "no", "bind": "127.0.0.1"} {
		if cfg[k] != want {
			t.Errorf("CONFIG GET %s = %q, want %q", k, cfg[k], want)
		}
	}

	anon := redis.NewClient(&redis.Options{Addr: r.Addr()})
	defer anon.Close()
	if err := anon.Ping(ctx).Err(); err == nil || !strings.Contains(err.Error(), "NOAUTH") {
		t.Errorf("PING without password: got %v, want NOAUTH", err)
	}

	dir, pid := r.Dir(), r.PID()
	if err := r.Stop(); err != nil {
		t.Fatal(err)
	}
	assertNoTraces(t, dir)
	if !processGone(pid) {
		t.Errorf("redis-server %d still running after Stop", pid)
	}
	if err := r.Stop(); err != nil {
		t.Errorf("second Stop: %v", err)
	}
}

func TestRedisStartFailureLeavesNothing(t *testing.T) {
	t.Parallel()
	_, err := sandbox.StartRedis(testContext(t), sandbox.RedisOptions{MaxMemory: "plenty"})
	if err == nil {
		t.Fatal("redis started with maxmemory=plenty")
	}
	if !strings.Contains(err.Error(), "maxmemory") {
		t.Errorf("error does not show the server's complaint: %v", err)
	}
	dir := regexp.MustCompile(`\S*steady-redis-[0-9]+`).FindString(err.Error())
	if dir == "" {
		t.Fatalf("error does not name the dir: %v", err)
	}
	assertNoTraces(t, dir)
}

func TestRedisCluster(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	c, err := sandbox.StartRedisCluster(ctx, 3)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Stop() })

	opts, err := redis.ParseClusterURL(c.URL())
	if err != nil {
		t.Fatalf("parse %s: %v", c.URL(), err)
	}
	if fmt.Sprint(opts.Addrs) != fmt.Sprint(c.Addrs()) {
		t.Errorf("URL %s parses to %v, want %v", c.URL(), opts.Addrs, c.Addrs())
	}
	cc := redis.NewClusterClient(opts)
	defer cc.Close()
	for i := range 30 {
		if err := cc.Set(ctx, fmt.Sprint("key", i), i, 0).Err(); err != nil {
			t.Fatalf("SET key%d: %v", i, err)
		}
	}
	var mu sync.Mutex
	holding := 0
	err = cc.ForEachMaster(ctx, func(ctx context.Context, m *redis.Client) error {
		n, err := m.DBSize(ctx).Result()
		if n > 0 {
			mu.Lock()
			holding++
			mu.Unlock()
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if holding != 3 {
		t.Errorf("30 keys landed on %d of 3 masters; slots are not spread", holding)
	}

	dir := c.Dir()
	if err := c.Stop(); err != nil {
		t.Fatal(err)
	}
	assertNoTraces(t, dir)
}

func TestParallelSandboxes(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	var boxes [2]*sandbox.Sandbox
	var errs [2]error
	var wg sync.WaitGroup
	for i := range boxes {
		wg.Go(func() { boxes[i], errs[i] = sandbox.Start(ctx, sandbox.Options{Database: fmt.Sprint("app", i)}) })
	}
	wg.Wait()
	for i, b := range boxes {
		if errs[i] != nil {
			t.Fatal(errs[i])
		}
		t.Cleanup(func() { b.Close() })
	}

	ports := map[int]string{}
	for i, b := range boxes {
		for what, port := range map[string]int{"postgres": b.Postgres.Port(), "redis": b.Redis.Port()} {
			if other, dup := ports[port]; dup {
				t.Errorf("port %d used by both %s and sandbox %d's %s", port, other, i, what)
			}
			ports[port] = fmt.Sprintf("sandbox %d's %s", i, what)
		}
		var db string
		if err := connect(ctx, t, b.DatabaseURL).QueryRow(ctx, "SELECT current_database()").Scan(&db); err != nil {
			t.Fatal(err)
		}
		if db != fmt.Sprint("app", i) {
			t.Errorf("sandbox %d: DatabaseURL points to %q", i, db)
		}
		opts, err := redis.ParseURL(b.RedisURL)
		if err != nil {
			t.Fatal(err)
		}
		rc := redis.NewClient(opts)
		if err := rc.Ping(ctx).Err(); err != nil {
			t.Errorf("sandbox %d: redis PING: %v", i, err)
		}
		rc.Close()
	}

	for _, b := range boxes {
		if err := b.Close(); err != nil {
			t.Error(err)
		}
		assertNoTraces(t, b.Postgres.Dir(), b.Redis.Dir())
	}
}

func TestKeep(t *testing.T) {
	t.Parallel()
	var progress bytes.Buffer
	s, err := sandbox.Start(testContext(t), sandbox.Options{Keep: true, Log: &progress})
	if err != nil {
		t.Fatal(err)
	}
	dirs := []string{s.Postgres.Dir(), s.Redis.Dir()}
	t.Cleanup(func() {
		s.Close()
		for _, d := range dirs {
			os.RemoveAll(d)
		}
	})
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	for _, d := range dirs {
		if left := leftoversOf(t, d); len(left) > 0 {
			t.Errorf("processes left with Keep: %q", left)
		}
		if _, err := os.Stat(d); err != nil {
			t.Errorf("Keep did not keep %s: %v", d, err)
		}
		if !strings.Contains(progress.String(), "kept "+d) {
			t.Errorf("progress log does not mention kept %s:\n%s", d, progress.String())
		}
	}
	if _, err := os.Stat(dirs[0] + "/data/PG_VERSION"); err != nil {
		t.Errorf("kept postgres dir lacks its data: %v", err)
	}
}

// TestSIGKILLLeavesNothing kills a process that runs a sandbox and a
// cluster with SIGKILL, so no defer and no Stop runs; the reapers must
// still take the servers and dirs down.
func TestSIGKILLLeavesNothing(t *testing.T) {
	t.Parallel()
	cmd, report, _, stderr := startChild(t, "sigkill", nil)
	if len(report.Dirs) != 3 {
		t.Fatalf("child reported %+v; stderr:\n%s", report, stderr.String())
	}

	// Everything the child started, reapers included, as seen before the kill.
	var pids []int
	for _, d := range report.Dirs {
		left := leftoversOf(t, d)
		if len(left) < 2 {
			t.Fatalf("expected a server and a reaper for %s, Leftovers shows %q", d, left)
		}
		for _, l := range left {
			pid, _ := strconv.Atoi(strings.Fields(l)[0])
			pids = append(pids, pid)
		}
	}

	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	start := time.Now()
	waitFor(t, 30*time.Second, func() string {
		var b strings.Builder
		for _, d := range report.Dirs {
			b.WriteString(traces(t, d))
		}
		for _, pid := range pids {
			if !processGone(pid) {
				fmt.Fprintf(&b, "pid %d still alive\n", pid)
			}
		}
		return b.String()
	})
	t.Logf("reapers cleaned up %d processes and %d dirs %v after SIGKILL", len(pids), len(report.Dirs), time.Since(start).Round(time.Millisecond))
}

// TestCtrlCSparesServers sends SIGINT to a child's whole process group, as
// a terminal does on Ctrl-C: the servers must still be up when the child's
// own handler runs, and its orderly Close must leave nothing behind.
func TestCtrlCSparesServers(t *testing.T) {
	t.Parallel()
	cmd, report, out, stderr := startChild(t, "sigint", &syscall.SysProcAttr{Setpgid: true})
	if err := syscall.Kill(-cmd.Process.Pid, syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	rest, _ := io.ReadAll(out)
	if err := cmd.Wait(); err != nil || !strings.Contains(string(rest), "survived") {
		t.Fatalf("child: %v; stdout %q; stderr:\n%s", err, rest, stderr.String())
	}
	assertNoTraces(t, report.Dirs...)
}
