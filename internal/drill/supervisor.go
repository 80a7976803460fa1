package drill

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
)

// supervisor keeps the sandbox worker running as a separate process
// (`steady sandbox worker --drill DIR`) and restarts it on request, as
// `docker compose restart celery_worker` would.
//
// The worker's command line names the drill dir, which lives inside the
// sandbox's Redis dir: so the sandbox's reaper, which kills every process
// naming its dirs when the drill dies without cleaning up (SIGKILL), takes
// the worker too. Its standard input is a pipe whose only write end the
// drill holds; the worker exits when it reads EOF, which is how it is told
// to stop and also how it notices the drill is gone.
type supervisor struct {
	exe, dir string
	env      []string
	log      string // the workers' combined output, appended across restarts

	mu       sync.Mutex
	cur      *workerProc
	restarts int
}

// workerProc is one worker process.
type workerProc struct {
	cmd      *exec.Cmd
	lifeline io.WriteCloser
	started  time.Time
	done     chan struct{}
	err      error // how it ended; read after done is closed
}

func (p *workerProc) pid() int { return p.cmd.Process.Pid }

// readyTimeout bounds a worker's start: connecting to two local servers.
const readyTimeout = 30 * time.Second

// start launches a worker and returns once it says it is ready.
func (s *supervisor) start(ctx context.Context) (*workerProc, error) {
	out, err := os.OpenFile(s.log, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("start the sandbox worker: open its log: %w", err)
	}
	r, w, err := os.Pipe()
	if err != nil {
		out.Close()
		return nil, fmt.Errorf("start the sandbox worker: %w", err)
	}
	cmd := exec.Command(s.exe, "sandbox", "worker", "--drill", s.dir)
	cmd.Dir = s.dir
	cmd.Env = s.env
	cmd.Stdout, cmd.Stderr = w, w
	// Its own process group: a Ctrl-C in the drill's terminal is the
	// drill's to handle, which stops the worker in order.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	lifeline, err := cmd.StdinPipe()
	if err == nil {
		err = cmd.Start()
	}
	if err != nil {
		r.Close()
		w.Close()
		out.Close()
		return nil, fmt.Errorf("start the sandbox worker (%s): %w", s.exe, err)
	}
	w.Close()
	p := &workerProc{cmd: cmd, lifeline: lifeline, started: time.Now(), done: make(chan struct{})}
	ready := make(chan struct{})
	var tail lastLines
	go func() {
		defer r.Close()
		defer out.Close()
		sc := bufio.NewScanner(r)
		said := false
		for sc.Scan() {
			line := sc.Text()
			tail.add(line)
			fmt.Fprintln(out, line)
			if !said && line == ReadyLine {
				said = true
				close(ready)
			}
		}
	}()
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	timer := time.NewTimer(readyTimeout)
	defer timer.Stop()
	select {
	case <-ready:
		return p, nil
	case <-p.done:
		return nil, fmt.Errorf("the sandbox worker exited before it was ready (%v):\n%s", p.err, tail.String())
	case <-ctx.Done():
		s.stop(p)
		return nil, fmt.Errorf("start the sandbox worker: %w", ctx.Err())
	case <-timer.C:
		s.stop(p)
		return nil, fmt.Errorf("the sandbox worker was not ready within %s; its log:\n%s", readyTimeout, tail.String())
	}
}

// stop closes the worker's lifeline so it finishes its task and exits,
// then escalates to SIGTERM and SIGKILL of its group if it lingers. It
// returns a description of how the worker ended.
func (s *supervisor) stop(p *workerProc) string {
	_ = p.lifeline.Close()
	for _, step := range []struct {
		sig  syscall.Signal
		wait time.Duration
	}{{0, 10 * time.Second}, {syscall.SIGTERM, 5 * time.Second}, {syscall.SIGKILL, 5 * time.Second}} {
		if step.sig != 0 {
			_ = syscall.Kill(-p.pid(), step.sig)
		}
		select {
		case <-p.done:
			if step.sig != 0 {
				return fmt.Sprintf("stopped with %v", step.sig)
			}
			return "finished its current task and stopped"
		case <-time.After(step.wait):
		}
	}
	return fmt.Sprintf("did not stop even after SIGKILL (pid %d); look at `ps -o pid,stat,wchan -p %d`", p.pid(), p.pid())
}

// Start begins supervising: the first worker.
func (s *supervisor) Start(ctx context.Context) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, err := s.start(ctx)
	if err != nil {
		return 0, err
	}
	s.cur = p
	return p.pid(), nil
}

// Restart stops the running worker and starts a new one, narrating to out.
func (s *supervisor) Restart(ctx context.Context, out io.Writer) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cur != nil {
		old := s.cur
		fmt.Fprintf(out, "Restarting worker (pid %d, up %s)...\n", old.pid(), time.Since(old.started).Round(time.Second))
		fmt.Fprintf(out, "worker pid %d %s\n", old.pid(), s.stop(old))
		s.cur = nil
	} else {
		fmt.Fprintln(out, "Starting worker (none was running)...")
	}
	p, err := s.start(ctx)
	if err != nil {
		return err
	}
	s.cur = p
	s.restarts++
	fmt.Fprintf(out, "worker pid %d started: %s\n", p.pid(), ReadyLine)
	return nil
}

// Status describes the worker in one line.
func (s *supervisor) Status() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cur == nil {
		return "worker: not running"
	}
	select {
	case <-s.cur.done:
		return fmt.Sprintf("worker: pid %d exited (%v); see %s", s.cur.pid(), s.cur.err, s.log)
	default:
	}
	return fmt.Sprintf("worker: pid %d, up %s, restarted %d times", s.cur.pid(), time.Since(s.cur.started).Round(time.Second), s.restarts)
}

// PID returns the running worker's process id, or 0.
func (s *supervisor) PID() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cur == nil {
		return 0
	}
	return s.cur.pid()
}

// Stop stops the worker for good.
func (s *supervisor) Stop() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cur == nil {
		return nil
	}
	p := s.cur
	s.cur = nil
	how := s.stop(p)
	select {
	case <-p.done:
		return nil
	default:
		return errors.New("the sandbox worker " + how)
	}
}

// lastLines keeps the last few lines of a worker's output for errors.
type lastLines struct {
	mu    sync.Mutex
	lines []string
}

func (l *lastLines) add(s string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, s)
	if len(l.lines) > 20 {
		l.lines = l.lines[len(l.lines)-20:]
	}
}

func (l *lastLines) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.lines) == 0 {
		return "  (it printed nothing)"
	}
	return "  " + strings.Join(l.lines, "\n  ")
}

// workerLog is where a drill keeps its workers' output.
func workerLog(dir string) string { return filepath.Join(dir, "worker.log") }
