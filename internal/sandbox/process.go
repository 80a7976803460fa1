package sandbox

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Temp dir prefixes. Every server process mentions its dir (or the dir's
// base name) on its command line, which is how Leftovers, Stop's final sweep
// and the reaper recognise our processes and nobody else's.
const (
	pgDirPrefix    = "steady-pg-"
	redisDirPrefix = "steady-redis-"
)

// ErrNotInstalled is wrapped by the Start functions when a server binary
// cannot be found; the message names the Debian package to install.
var ErrNotInstalled = errors.New("server binary not installed")

// server is one long-running child process (postgres or redis-server) plus
// what is needed to stop it for sure.
type server struct {
	cmd  *exec.Cmd
	done chan struct{} // closed once the process has been reaped
	err  error         // Wait's result; read only after done is closed
}

// startServer starts cmd in its own process group: a Ctrl-C in the terminal
// signals the foreground group only, so the servers survive until the
// program's own orderly shutdown stops them.
func startServer(cmd *exec.Cmd) (*server, error) {
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Setpgid = true
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	s := &server{cmd: cmd, done: make(chan struct{})}
	go func() {
		s.err = cmd.Wait()
		close(s.done)
	}()
	return s, nil
}

func (s *server) pid() int { return s.cmd.Process.Pid }

// untilExit derives a context that also ends when the process exits, so a
// readiness probe stuck on a port that someone else holds returns at once.
func (s *server) untilExit(ctx context.Context) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(ctx)
	go func() {
		select {
		case <-s.done:
			cancel()
		case <-ctx.Done():
		}
	}()
	return ctx, cancel
}

// stopStep is one rung of the shutdown ladder: send sig, then give the
// process wait to exit before climbing to the next rung.
type stopStep struct {
	sig  syscall.Signal
	wait time.Duration
}

// stop climbs the ladder and finally SIGKILLs the whole process group, so
// children that outlive a crashed leader go too. It returns an error only
// if the process is still there after all of that.
func (s *server) stop(ladder []stopStep, progress io.Writer, name string) error {
	for _, step := range ladder {
		select {
		case <-s.done:
			return nil
		default:
		}
		// Signalling a reaped process is harmless: os.Process refuses once
		// Wait has returned, and on Linux it goes through a pidfd anyway.
		_ = s.cmd.Process.Signal(step.sig)
		select {
		case <-s.done:
			return nil
		case <-time.After(step.wait):
			fmt.Fprintf(progress, "sandbox: %s (pid %d) ignored %v for %v, escalating\n", name, s.pid(), step.sig, step.wait)
		}
	}
	// done was still open a moment ago, so the leader is unreaped or only
	// just reaped: its pid, and with it the group id, cannot have been
	// handed to an unrelated process yet.
	_ = syscall.Kill(-s.pid(), syscall.SIGKILL)
	select {
	case <-s.done:
		return nil
	case <-time.After(10 * time.Second):
		return fmt.Errorf("%s (pid %d) survived SIGKILL for 10s; it is probably stuck in the kernel (D state), check `ps -o pid,stat,wchan -p %d`", name, s.pid(), s.pid())
	}
}

// logFile is a server's stdout+stderr. Its tail is kept in memory when the
// dir is removed so LogTail still works after Stop.
type logFile struct {
	path  string
	mu    sync.Mutex
	saved []byte
}

const maxSavedLog = 64 << 10

// open returns a file for the server's stdout/stderr and the offset at
// which this attempt's output starts.
func (l *logFile) open() (*os.File, int64, error) {
	f, err := os.OpenFile(l.path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return nil, 0, err
	}
	off, err := f.Seek(0, io.SeekEnd)
	if err != nil {
		f.Close()
		return nil, 0, err
	}
	return f, off, nil
}

func (l *logFile) read(from int64) []byte {
	l.mu.Lock()
	saved := l.saved
	l.mu.Unlock()
	if saved != nil {
		return saved
	}
	b, err := os.ReadFile(l.path)
	if err != nil {
		return nil
	}
	if from > 0 && from <= int64(len(b)) {
		b = b[from:]
	}
	if len(b) > maxSavedLog {
		b = b[len(b)-maxSavedLog:]
	}
	return b
}

// save snapshots the tail before the dir goes away.
func (l *logFile) save() {
	b := l.read(0)
	if b == nil {
		b = []byte{}
	}
	l.mu.Lock()
	l.saved = b
	l.mu.Unlock()
}

// since returns what was logged from offset on (one start attempt).
func (l *logFile) since(off int64) string { return string(l.read(off)) }

func (l *logFile) tail(n int) string { return lastLines(l.read(0), n) }

func lastLines(b []byte, n int) string {
	b = bytes.TrimRight(b, "\n")
	if n <= 0 || len(b) == 0 {
		return ""
	}
	lines := bytes.Split(b, []byte("\n"))
	return string(bytes.Join(lines[max(0, len(lines)-n):], []byte("\n")))
}

func indent(s string) string {
	if s == "" {
		return "  (empty)"
	}
	return "  " + strings.ReplaceAll(strings.TrimRight(s, "\n"), "\n", "\n  ")
}

// addrInUse reports whether a server's startup log says its port was taken
// between our probe and its bind; the caller then retries with a new port.
func addrInUse(log string) bool {
	return strings.Contains(log, "Address already in use")
}

// handedOut remembers ports this process recently gave to a server, so two
// sandboxes started at the same instant do not race for one port. After a
// minute the server has either bound the port or given up on it.
var handedOut = struct {
	sync.Mutex
	ports map[int]time.Time
}{ports: map[int]time.Time{}}

// pickPort is freePort; tests swap it to force a port collision.
var pickPort = freePort

// freePort asks the kernel for an unused 127.0.0.1 port by binding :0. The
// port is free only at that moment; callers retry when the server reports
// the address in use.
func freePort() (int, error) {
	for range 20 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return 0, fmt.Errorf("pick a free port on 127.0.0.1: %w", err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		l.Close()
		handedOut.Lock()
		now := time.Now()
		for p, at := range handedOut.ports {
			if now.Sub(at) > time.Minute {
				delete(handedOut.ports, p)
			}
		}
		_, seen := handedOut.ports[port]
		if !seen {
			handedOut.ports[port] = now
		}
		handedOut.Unlock()
		if !seen {
			return port, nil
		}
	}
	return 0, errors.New("pick a free port on 127.0.0.1: the kernel keeps returning ports already handed out; is the ephemeral range (net.ipv4.ip_local_port_range) tiny?")
}

// markerRE matches a temp dir's base name not followed by another digit,
// so steady-pg-12 never matches a process of steady-pg-123.
func markerRE(dir string) *regexp.Regexp {
	return regexp.MustCompile(regexp.QuoteMeta(filepath.Base(dir)) + `(?:[^0-9]|$)`)
}

// procEntry is one live process as seen in /proc.
type procEntry struct {
	pid  int
	argv []string
}

func (p procEntry) cmdline() string { return strings.Join(p.argv, " ") }

// processes lists live processes. Zombies and kernel threads have an empty
// cmdline and are skipped: they hold no resources we care about.
func processes() ([]procEntry, error) {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil, fmt.Errorf("list processes: %w (is /proc mounted?)", err)
	}
	self := os.Getpid()
	var out []procEntry
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == self {
			continue
		}
		raw, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil || len(raw) == 0 {
			continue // exited meanwhile, or a zombie
		}
		argv := strings.Split(strings.TrimRight(string(raw), "\x00"), "\x00")
		out = append(out, procEntry{pid: pid, argv: argv})
	}
	return out, nil
}

// processesOf returns the live processes whose command line mentions dir.
func processesOf(dir string) []procEntry {
	re := markerRE(dir)
	all, _ := processes()
	var out []procEntry
	for _, p := range all {
		if isReaper(p) {
			continue // the reaper is dismissed separately, never killed
		}
		if re.MatchString(p.cmdline()) {
			out = append(out, p)
		}
	}
	return out
}

// sweep SIGKILLs whatever still references dir (a postgres backend that
// outlived a killed postmaster, say) and waits until they are gone. Only
// processes whose command line names our unique dir are touched.
func sweep(dir string) error {
	deadline := time.Now().Add(10 * time.Second)
	for {
		left := processesOf(dir)
		if len(left) == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			var b strings.Builder
			for _, p := range left {
				fmt.Fprintf(&b, "\n  %d %s", p.pid, p.cmdline())
			}
			return fmt.Errorf("processes of %s survived SIGKILL for 10s:%s", dir, b.String())
		}
		for _, p := range left {
			_ = syscall.Kill(p.pid, syscall.SIGKILL)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Leftovers lists live processes that belong to a sandbox, one
// "PID COMMAND LINE" string each: servers whose command line references a
// steady-pg-*/steady-redis-* temp dir, and reapers (shown as
// "PID steady-reaper DIR..." with the dirs they guard). Tests call it after
// Stop to prove nothing was orphaned; filter by Dir() when other sandboxes
// may legitimately be running.
func Leftovers() ([]string, error) {
	all, err := processes()
	if err != nil {
		return nil, err
	}
	var out []string
	for _, p := range all {
		cmd := p.cmdline()
		switch {
		case isReaper(p):
			out = append(out, fmt.Sprintf("%d %s %s", p.pid, reaperName, strings.Join(reaperDirs(p.pid), " ")))
		case strings.Contains(cmd, pgDirPrefix) || strings.Contains(cmd, redisDirPrefix):
			out = append(out, fmt.Sprintf("%d %s", p.pid, cmd))
		}
	}
	return out, nil
}

// removeDir deletes a sandbox temp dir, refusing anything we did not name.
func removeDir(dir string) error {
	base := filepath.Base(dir)
	if !strings.HasPrefix(base, pgDirPrefix) && !strings.HasPrefix(base, redisDirPrefix) {
		return fmt.Errorf("refusing to remove %s: not a sandbox dir", dir)
	}
	if err := os.RemoveAll(dir); err != nil {
		return fmt.Errorf("remove %s: %w; remove it by hand once nothing uses it", dir, err)
	}
	return nil
}

// lockedWriter serialises progress lines from servers starting in parallel.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func progressWriter(w io.Writer) io.Writer {
	switch w.(type) {
	case nil:
		return io.Discard
	case *lockedWriter:
		return w
	}
	return &lockedWriter{w: w}
}

// childEnv is the environment for server processes: enough to run, nothing
// that could redirect them (PGDATA, PGPORT, ... from the caller's shell).
func childEnv(extra ...string) []string {
	env := []string{"PATH=" + os.Getenv("PATH"), "LC_ALL=C"}
	if tz, ok := os.LookupEnv("TZ"); ok {
		env = append(env, "TZ="+tz)
	}
	return append(env, extra...)
}
