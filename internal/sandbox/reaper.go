package sandbox

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
)

// A reaper guards one sandbox against its parent dying without Stop
// (SIGKILL, a panic in another goroutine, the OOM killer): defers do not
// run then, and Linux's Pdeathsig fires when the *thread* that forked the
// child exits, which the Go runtime does whenever it likes, so neither can
// be trusted.
//
// The reaper is a separate `sh` in its own session whose stdin is a pipe
// whose only write end lives in this process (O_CLOEXEC keeps it out of
// every other child). The kernel closes that end when this process dies,
// however it dies, and the reaper's `read` sees EOF. Then it signals every
// process whose command line names one of the guarded dirs, SIGKILLs the
// ones that linger, and removes the dirs.
//
// A normal Stop first stops the servers and removes the dirs itself, and
// only then writes "done": the reaper exits without touching anything. Stop
// never closes the pipe without "done", so EOF means the parent is gone,
// and while the parent lives the reaper does nothing at all: the two can
// never act at the same time. If the parent dies half-way through Stop, the
// reaper redoes the remaining steps, all of which are idempotent.
//
// Processes are found by the unique dir name on their command line, not by
// a remembered pid, so a recycled pid is never signalled and servers forked
// between their start and any bookkeeping are covered too. The dirs travel
// in the environment rather than in argv so the reaper (and the subshells
// it forks, which share its argv) never matches its own pattern.
const reaperScript = `
sig=$1 keep=$2
trap '' HUP INT
if IFS= read -r line && [ "$line" = done ]; then exit 0; fi
exec </dev/null
patterns() {
	printf '%s\n' "$STEADY_REAPER_DIRS" | while IFS= read -r d; do
		[ -n "$d" ] && printf '%s([^0-9]|$)\n' "${d##*/}"
	done
}
ours() {
	patterns | grep -laE -f - /proc/[0-9]*/cmdline 2>/dev/null |
		sed -n 's,^/proc/\([0-9]*\)/cmdline$,\1,p'
}
nap() { sleep 0.1 2>/dev/null || sleep 1; }
settle() {
	n=0
	pids=$(ours)
	while [ -n "$pids" ] && [ "$n" -lt "$1" ]; do nap; n=$((n+1)); pids=$(ours); done
}
pids=$(ours)
[ -n "$pids" ] && kill -s "$sig" $pids 2>/dev/null
settle 100
[ -n "$pids" ] && kill -s KILL $pids 2>/dev/null
settle 50
[ "$keep" = keep ] && exit 0
printf '%s\n' "$STEADY_REAPER_DIRS" | while IFS= read -r d; do
	case ${d##*/} in steady-pg-*|steady-redis-*) ;; *) continue ;; esac
	rm -rf -- "$d" 2>/dev/null || { nap; rm -rf -- "$d"; }
done
`

const (
	reaperName = "steady-reaper"
	reaperEnv  = "STEADY_REAPER_DIRS"
)

type reaper struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	once  sync.Once
	err   error
}

// startReaper arms a reaper for dirs. sig is the signal that makes the
// servers exit at once (QUIT for postgres, TERM for redis); with keep the
// dirs are left for a post-mortem but the processes still die.
func startReaper(sig string, keep bool, dirs ...string) (*reaper, error) {
	sh, err := exec.LookPath("sh")
	if err != nil {
		return nil, fmt.Errorf("start reaper: %w; a POSIX sh on PATH is required", err)
	}
	mode := "remove"
	if keep {
		mode = "keep"
	}
	cmd := exec.Command(sh, "-c", reaperScript, reaperName, sig, mode)
	cmd.Env = childEnv(reaperEnv + "=" + strings.Join(dirs, "\n"))
	cmd.Dir = os.TempDir()
	// Own session: a Ctrl-C or terminal hangup aimed at the program must not
	// take the guard down with it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, fmt.Errorf("start reaper for %s: %w", strings.Join(dirs, ", "), err)
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start reaper for %s: %w", strings.Join(dirs, ", "), err)
	}
	return &reaper{cmd: cmd, stdin: stdin}, nil
}

// dismiss tells the reaper that Stop did the cleanup, and waits for it to
// exit. Call it only after the servers are gone and the dirs handled.
func (r *reaper) dismiss() error {
	if r == nil {
		return nil
	}
	r.once.Do(func() {
		_, werr := io.WriteString(r.stdin, "done\n")
		_ = r.stdin.Close()
		if err := r.cmd.Wait(); err != nil || werr != nil {
			r.err = fmt.Errorf("reaper (pid %d) exited before it was dismissed: %w", r.cmd.Process.Pid, errors.Join(err, werr))
		}
	})
	return r.err
}

func isReaper(p procEntry) bool {
	return len(p.argv) >= 4 && p.argv[1] == "-c" && p.argv[3] == reaperName
}

// reaperDirs reads the dirs a reaper guards from its environment; it needs
// the same uid (or root), otherwise it returns nothing.
func reaperDirs(pid int) []string {
	raw, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "environ"))
	if err != nil {
		return nil
	}
	for _, kv := range strings.Split(string(raw), "\x00") {
		if v, ok := strings.CutPrefix(kv, reaperEnv+"="); ok {
			return strings.Split(v, "\n")
		}
	}
	return nil
}
