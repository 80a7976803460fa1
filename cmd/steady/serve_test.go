package main

import (
	"bufio"
	"bytes"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"steady/internal/poll"
	"steady/internal/serve/servetest"
	"steady/tui/tuitest"
)

// served is a running `steady serve`.
type served struct {
	cmd    *exec.Cmd
	mu     sync.Mutex
	stderr bytes.Buffer
	exited chan int
	// pipe is the read end of the command's stderr.
	pipe io.ReadCloser
}

// lockedWriter appends a command's stdout to the same log as its stderr.
type lockedWriter struct{ s *served }

func (w lockedWriter) Write(p []byte) (int, error) {
	w.s.mu.Lock()
	defer w.s.mu.Unlock()
	return w.s.stderr.Write(p)
}

func (s *served) log() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stderr.String()
}

// waitLog waits for a stderr line matching re and returns its submatches.
func (s *served) waitLog(t *testing.T, re string) []string {
	t.Helper()
	return s.waitLogWithin(t, tuitest.Wait, re)
}

// sandboxBuilt is how long a test waits for a drill's sandbox to be
// built: PostgreSQL alone took 14 s to start while the suite ran.
const sandboxBuilt = 2 * time.Minute

// waitBuilt waits, as waitLog does, for a line that comes once a drill's
// sandbox is built.
func (s *served) waitBuilt(t *testing.T, re string) []string {
	t.Helper()
	return s.waitLogWithin(t, sandboxBuilt, re)
}

func (s *served) waitLogWithin(t *testing.T, within time.Duration, re string) []string {
	t.Helper()
	rx := regexp.MustCompile(re)
	var m []string
	poll.Until(t, within, "steady serve to log "+re, func() bool { m = rx.FindStringSubmatch(s.log()); return m != nil }, s.log)
	return m
}

// startServe starts the binary's serve command in dir.
func startServe(t *testing.T, dir string, args ...string) *served {
	t.Helper()
	return startBackground(t, dir, append([]string{"serve"}, args...)...)
}

// startBackground starts the binary in dir and collects what it writes to
// stderr (and stdout) for waitLog.
func startBackground(t *testing.T, dir string, args ...string) *served {
	t.Helper()
	cmd := exec.Command(steadyBin(t), args...)
	cmd.Dir = dir
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + dir, "USER=tester", "NO_COLOR=1", "TERM=dumb"}
	pipe, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	s := &served{cmd: cmd, exited: make(chan int, 1), pipe: pipe}
	cmd.Stdout = lockedWriter{s}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(pipe)
		for sc.Scan() {
			s.mu.Lock()
			s.stderr.WriteString(sc.Text() + "\n")
			s.mu.Unlock()
		}
		err := cmd.Wait()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		}
		s.exited <- code
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		if t.Failed() {
			t.Logf("steady serve stderr:\n%s", s.log())
		}
	})
	return s
}

// stop sends SIGTERM and returns the exit status.
func (s *served) stop(t *testing.T) int {
	t.Helper()
	return s.signal(t, syscall.SIGTERM)
}

// signal sends sig and returns the exit status.
func (s *served) signal(t *testing.T, sig os.Signal) int {
	t.Helper()
	if err := s.cmd.Process.Signal(sig); err != nil {
		t.Fatal(err)
	}
	var code int
	poll.Until(t, tuitest.Wait, "steady serve to exit", func() bool {
		select {
		case code = <-s.exited:
			return true
		default:
			return false
		}
	}, s.log)
	return code
}

// `steady serve` end to end: the host key is made on first start and
// reused after; two responders with the real OpenSSH client get their
// screens with their roles; SIGTERM says goodbye to both and closes a
// journal that verifies; the next start resumes the same incident.
func TestServeCommand(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	alice := servetest.Keygen(t, dir, "alice")
	bob := servetest.Keygen(t, dir, "bob")
	ak := servetest.AuthorizedKeys(t, dir, alice.Line+" alice role=operator", bob.Line+" bob")
	args := []string{"--listen", "127.0.0.1:0", "--authorized-keys", ak, "--journal-dir", "incidents"}

	srv := startServe(t, dir, args...)
	m := srv.waitLog(t, `msg="serving the incident over SSH" incident=(\S+) .*listen=127\.0\.0\.1:(\d+) host_key=(\S+)`)
	incident, port, hostKey := m[1], m[2], m[3]
	if !strings.Contains(srv.log(), `msg="host key created" file=.steady/host_ed25519 fingerprint=`+hostKey) {
		t.Errorf("the first start did not say it created the host key")
	}
	for path, want := range map[string]os.FileMode{filepath.Join(dir, ".steady"): 0o700, filepath.Join(dir, ".steady", "host_ed25519"): 0o600} {
		if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != want {
			t.Errorf("%s: %v, mode %v; want %04o", path, err, fi.Mode().Perm(), want)
		}
	}
	pub, err := os.ReadFile(filepath.Join(dir, ".steady", "host_ed25519.pub"))
	if err != nil {
		t.Fatal(err)
	}
	known := servetest.KnownHosts(t, dir, "[127.0.0.1]:"+port+" "+string(pub))

	tm := tuitest.NewTmux(t)
	client := func(name string, k servetest.Key) servetest.Client {
		return servetest.Client{Host: "127.0.0.1", Port: port, User: name, Key: k, KnownHosts: known}
	}
	ap := tm.Start("alice", 100, 30, client("alice", alice).Args("-tt")...)
	ap.WaitFor("Checklist", "alice", "R run diagnosis")
	bp := tm.Start("bob", 100, 30, client("bob", bob).Args("-tt")...)
	bp.WaitFor("Checklist", "bob (observer)")
	srv.waitLog(t, `msg=connected .*name=bob role=observer fingerprint=`+regexp.QuoteMeta(bob.Fingerprint))

	if code := srv.stop(t); code != 0 {
		t.Errorf("steady serve exit status %d after SIGTERM, want 0", code)
	}
	for _, p := range []*tuitest.Pane{ap, bp} {
		if code, said := p.WaitExit(); code != 75 || !strings.Contains(said, "the server is stopping") {
			t.Errorf("client after the stop: exit %d, terminal %q", code, said)
		}
	}
	journal := filepath.Join(dir, "incidents", incident+".jsonl")
	if !strings.Contains(srv.log(), "journal closed") {
		t.Errorf("no journal closed line in the log")
	}
	if res := runSteady(t, dir, nil, "report", "verify", journal); res.code != 0 {
		t.Errorf("report verify: exit %d\n%s%s", res.code, res.stdout, res.stderr)
	}

	// The next start reuses the host key and resumes the incident.
	again := startServe(t, dir, args...)
	m = again.waitLog(t, `msg="serving the incident over SSH" incident=(\S+) .*host_key=(\S+)`)
	if m[1] != incident || m[2] != hostKey {
		t.Errorf("restart served incident %s with host key %s; want %s and %s", m[1], m[2], incident, hostKey)
	}
	if strings.Contains(again.log(), "host key created") {
		t.Error("the restart created a new host key")
	}
	if code := again.stop(t); code != 0 {
		t.Errorf("restarted steady serve exit status %d, want 0", code)
	}
}

// `steady serve 2>&1 | tee log`, then ctrl+c: the terminal's SIGINT ends
// tee too, so every later write of the server's log meets a closed pipe.
// Or the terminal itself goes, with a SIGHUP. Either way the clients read
// the goodbye, and the journal is closed.
func TestServeSaysGoodbyeWhenItsOwnOutputIsGone(t *testing.T) {
	t.Parallel()
	for _, sig := range []os.Signal{os.Interrupt, syscall.SIGHUP} {
		t.Run(sig.String(), func(t *testing.T) {
			t.Parallel()
			goodbyeWithoutOutput(t, sig)
		})
	}
}

func goodbyeWithoutOutput(t *testing.T, sig os.Signal) {
	dir := t.TempDir()
	alice := servetest.Keygen(t, dir, "alice")
	ak := servetest.AuthorizedKeys(t, dir, alice.Line+" alice role=operator")
	srv := startServe(t, dir, "--listen", "127.0.0.1:0", "--authorized-keys", ak, "--journal-dir", "incidents")
	m := srv.waitLog(t, `msg="serving the incident over SSH" incident=(\S+) .*listen=127\.0\.0\.1:(\d+)`)
	incident, port := m[1], m[2]
	pub, err := os.ReadFile(filepath.Join(dir, ".steady", "host_ed25519.pub"))
	if err != nil {
		t.Fatal(err)
	}
	known := servetest.KnownHosts(t, dir, "[127.0.0.1]:"+port+" "+string(pub))
	tm := tuitest.NewTmux(t)
	c := servetest.Client{Host: "127.0.0.1", Port: port, User: "alice", Key: alice, KnownHosts: known}
	ap := tm.Start("alice", 100, 30, c.Args("-tt")...)
	ap.WaitFor("Checklist", "alice")

	if err := srv.pipe.Close(); err != nil {
		t.Fatal(err)
	}
	if code := srv.signal(t, sig); code != 0 {
		t.Errorf("steady serve exit status %d after %v with its output gone, want 0", code, sig)
	}
	if code, said := ap.WaitExit(); code != 75 || !strings.Contains(said, "the server is stopping") {
		t.Errorf("client after the stop: exit %d, terminal %q; want 75 and the goodbye", code, said)
	}
	journal := filepath.Join(dir, "incidents", incident+".jsonl")
	if res := runSteady(t, dir, nil, "report", "verify", journal); res.code != 0 {
		t.Errorf("report verify: exit %d\n%s%s", res.code, res.stdout, res.stderr)
	}
}

// Refusals at start say what to do: no authorized keys file, a file with
// a bad line.
func TestServeRefusesBadKeys(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	res := runSteady(t, dir, nil, "serve", "--listen", "127.0.0.1:0", "--journal-dir", "incidents")
	if res.code != exitUsage || !strings.Contains(res.stderr, "give --authorized-keys FILE") {
		t.Errorf("no keys: exit %d, stderr %q", res.code, res.stderr)
	}
	alice := servetest.Keygen(t, dir, "alice")
	ak := servetest.AuthorizedKeys(t, dir, alice.Line+" alice role=admin")
	res = runSteady(t, dir, nil, "serve", "--listen", "127.0.0.1:0", "--authorized-keys", ak, "--journal-dir", "incidents")
	if res.code != exitUsage || !strings.Contains(res.stderr, ak+":1: role=admin") {
		t.Errorf("bad role: exit %d, stderr %q", res.code, res.stderr)
	}
}

// A taken address is refused before any incident is opened: no empty
// journal is left behind to be offered for resuming.
func TestServeBusyAddressOpensNoIncident(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	alice := servetest.Keygen(t, dir, "alice")
	ak := servetest.AuthorizedKeys(t, dir, alice.Line+" alice role=operator")
	res := runSteady(t, dir, nil, "serve", "--new", "--listen", busy.Addr().String(), "--authorized-keys", ak, "--journal-dir", "incidents")
	if res.code != exitUsage || !strings.Contains(res.stderr, "address already in use") || !strings.Contains(res.stderr, "--listen") {
		t.Errorf("busy address: exit %d, stderr %q", res.code, res.stderr)
	}
	if strings.Contains(res.stderr, "opened incident") {
		t.Errorf("an incident was opened for a server that could not listen: %q", res.stderr)
	}
	if journals, _ := filepath.Glob(filepath.Join(dir, "incidents", "*.jsonl")); len(journals) > 0 {
		t.Errorf("journals left behind: %v", journals)
	}
}

func TestDrillServe(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	trainee := servetest.Keygen(t, dir, "trainee")
	facilitator := servetest.Keygen(t, dir, "facilitator")
	ak := servetest.AuthorizedKeys(t, dir, trainee.Line+" trainee role=operator", facilitator.Line+" facilitator role=observer")
	d := startBackground(t, dir, "drill", "stale-cache", "--seed", "3", "--serve", "--listen", "127.0.0.1:0", "--authorized-keys", ak)
	port := d.waitBuilt(t, `serving the drill on 127\.0\.0\.1:(\d+)`)[1]
	pub, err := os.ReadFile(filepath.Join(dir, ".steady", "host_ed25519.pub"))
	if err != nil {
		t.Fatal(err)
	}
	known := servetest.KnownHosts(t, dir, "[127.0.0.1]:"+port+" "+string(pub))
	client := func(name string, k servetest.Key) servetest.Client {
		return servetest.Client{Host: "127.0.0.1", Port: port, User: name, Key: k, KnownHosts: known}
	}
	tm := tuitest.NewTmux(t)
	tp := tm.Start("trainee", 110, 32, client("trainee", trainee).Args("-tt")...)
	tp.WaitFor("DRILL", "stale-cache", "Checklist")
	fp := tm.Start("facilitator", 110, 32, client("facilitator", facilitator).Args("-tt")...)
	fp.WaitFor("DRILL", "Checklist")
	// The trainee runs the probes; the facilitator sees the verdict.
	tp.Send("R")
	fp.WaitFor("Cache invalidation issue", "CONFIRMED")
	tp.Send("q")
	fp.Send("q")
	var code int
	poll.Until(t, tuitest.Wait, "the drill to end once everyone left", func() bool {
		select {
		case code = <-d.exited:
			return true
		default:
			return false
		}
	}, d.log)
	out := d.log()
	if code != 0 || !strings.Contains(out, "Drill debrief — stale-cache (seed 3)") || !strings.Contains(out, "sandbox stopped and removed") {
		t.Errorf("drill --serve: exit %d\n%s", code, out)
	}
	if !strings.Contains(out, "+35 diagnosis") {
		t.Errorf("the trainee's confirmed cause should score:\n%s", out)
	}
}
