package examples

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// WorkerArgs are the arguments of the clinic's Celery worker: one process,
// no pool children, no cluster chatter, only the default queue. An App's
// own are App.WorkerArgs.
var WorkerArgs = workerArgs(clinicCeleryApp, clinicQueue)

func workerArgs(celeryApp, queue string) []string {
	return []string{"-m", "celery", "-A", celeryApp, "worker",
		"--pool=solo", "--concurrency=1", "--without-heartbeat", "--without-gossip",
		"--without-mingle", "-Q", queue, "--loglevel=INFO"}
}

// WorkerArgs are the arguments of this application's Celery worker, as the
// package's WorkerArgs are the clinic's: its Celery app, its queue.
func (a *App) WorkerArgs() []string { return workerArgs(a.CeleryAppName(), a.QueueName()) }

// Worker is a running Celery worker of the example application.
type Worker struct {
	cmd    *exec.Cmd
	log    *logBuffer
	exited chan struct{}
	err    error // how the process ended; valid once exited is closed

	stopOnce sync.Once
	stopErr  error
}

// StartWorker starts the real Celery worker and returns once it reports
// ready; the worker is stopped when the test ends. It fails the test with
// the worker's log if the worker dies or is not ready within a minute.
func (a *App) StartWorker(t testing.TB) *Worker {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	w, err := a.startWorker(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := w.Stop(); err != nil {
			t.Errorf("stop the Celery worker: %v\n%s", err, tail(w.Log(), 20))
		}
	})
	return w
}

func (a *App) startWorker(ctx context.Context) (*Worker, error) {
	// Not CommandContext: the worker outlives ctx, which only bounds startup.
	args := a.WorkerArgs()
	cmd := exec.Command(a.Python, args...)
	cmd.Dir = a.Dir
	cmd.Env = a.Environ()
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	w := &Worker{cmd: cmd, log: newLogBuffer(), exited: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = w.log, w.log
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start the Celery worker (%s %s): %w", a.Python, strings.Join(args, " "), err)
	}
	go func() {
		w.err = cmd.Wait()
		close(w.exited)
	}()
	for {
		text, changed := w.log.snapshot()
		if strings.Contains(text, " ready.") {
			return w, nil
		}
		select {
		case <-changed:
		case <-w.exited:
			return nil, fmt.Errorf("the Celery worker exited before it was ready (%v):\n%s", w.err, tail(w.Log(), 40))
		case <-ctx.Done():
			err := fmt.Errorf("the Celery worker was not ready in time (%w):\n%s", ctx.Err(), tail(text, 40))
			return nil, errors.Join(err, w.Stop())
		}
	}
}

// PID returns the worker's process id.
func (w *Worker) PID() int { return w.cmd.Process.Pid }

// Exited is closed when the worker process has ended.
func (w *Worker) Exited() <-chan struct{} { return w.exited }

// Alive reports whether the worker process is still running.
func (w *Worker) Alive() bool {
	select {
	case <-w.exited:
		return false
	default:
		return true
	}
}

// Log returns everything the worker has printed so far.
func (w *Worker) Log() string {
	text, _ := w.log.snapshot()
	return text
}

// WaitLog waits until the worker's output contains s, the worker exits, or
// ctx ends.
func (w *Worker) WaitLog(ctx context.Context, s string) error {
	for {
		text, changed := w.log.snapshot()
		if strings.Contains(text, s) {
			return nil
		}
		select {
		case <-changed:
		case <-w.exited:
			return fmt.Errorf("the Celery worker exited (%v) before logging %q", w.err, s)
		case <-ctx.Done():
			return fmt.Errorf("the Celery worker did not log %q: %w", s, ctx.Err())
		}
	}
}

// Stop asks the worker for a warm shutdown (SIGTERM to its process group),
// then kills the group if it has not exited within ten seconds. A worker
// that already died is not an error here; check Alive for that.
func (w *Worker) Stop() error {
	w.stopOnce.Do(func() {
		pgid := w.cmd.Process.Pid
		if w.Alive() {
			_ = syscall.Kill(-pgid, syscall.SIGTERM)
		}
		select {
		case <-w.exited:
		case <-time.After(10 * time.Second):
			w.stopErr = fmt.Errorf("the Celery worker (pid %d) ignored SIGTERM for 10s; killed it", pgid)
		}
		// Whatever the worker left in its group goes too.
		if err := syscall.Kill(-pgid, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
			w.stopErr = errors.Join(w.stopErr, fmt.Errorf("kill process group %d: %w", pgid, err))
		}
		<-w.exited
	})
	return w.stopErr
}
