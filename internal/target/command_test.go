package target

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"steady/internal/poll"
)

func TestRunStreamsLinesAndExitStatus(t *testing.T) {
	var lines []string
	exit, err := Run(context.Background(), Command{Line: "echo one; echo two >&2; exit 3"}, RunOptions{OnLine: func(l Line) {
		lines = append(lines, l.Stream+":"+l.Text)
	}})
	if err != nil {
		t.Fatal(err)
	}
	if exit.Code != 3 || exit.OK() || exit.Cancelled {
		t.Errorf("exit %+v", exit)
	}
	got := strings.Join(lines, ",")
	if !strings.Contains(got, "stdout:one") || !strings.Contains(got, "stderr:two") {
		t.Errorf("lines %v", lines)
	}
}

// alive reports whether a process exists and is not a zombie.
func alive(pid int) bool {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	fields := strings.Fields(string(data))
	return len(fields) > 2 && fields[2] != "Z"
}

func TestCancelStopsTheWholeProcessGroup(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	pids := make(chan int, 4)
	done := make(chan Exit, 1)
	go func() {
		// The child ignores SIGINT, so only SIGKILL after the grace ends it.
		line := `trap "" INT; sleep 300 & echo $!; echo $$; wait`
		exit, err := Run(ctx, Command{Line: line}, RunOptions{Grace: 300 * time.Millisecond, OnLine: func(l Line) {
			if n, err := strconv.Atoi(l.Text); err == nil {
				pids <- n
			}
		}})
		if err != nil {
			t.Error(err)
		}
		done <- exit
	}()
	var started []int
	for len(started) < 2 {
		select {
		case p := <-pids:
			started = append(started, p)
		case <-time.After(10 * time.Second):
			t.Fatal("the command did not start")
		}
	}
	cancel()
	var exit Exit
	select {
	case exit = <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("cancel did not stop the command")
	}
	if !exit.Cancelled {
		t.Errorf("exit %+v should be cancelled", exit)
	}
	for _, pid := range started {
		poll.Until(t, 5*time.Second, fmt.Sprintf("process %d to end after the cancel", pid), func() bool { return !alive(pid) }, nil)
	}
}

func TestTimeout(t *testing.T) {
	exit, err := Run(context.Background(), Command{Line: "sleep 30"}, RunOptions{Timeout: 200 * time.Millisecond, Grace: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if !exit.TimedOut || !strings.Contains(exit.String(), "timed out") {
		t.Errorf("exit %+v", exit)
	}
}

func TestJoinQuotes(t *testing.T) {
	got := Join("docker compose exec -T web python manage.py", "migrate", "it's", "a b")
	want := `docker compose exec -T web python manage.py migrate 'it'"'"'s' 'a b'`
	if got != want {
		t.Errorf("got %s", got)
	}
}

// OnStart gets the pid of the shell running the line, which leads its own
// process group, before any output; the output line that records it reads
// back.
func TestOnStartNamesTheProcessGroup(t *testing.T) {
	started := 0
	var echoed string
	_, err := Run(context.Background(), Command{Line: "echo $$"}, RunOptions{
		OnStart: func(pid int) { started = pid },
		OnLine: func(l Line) {
			if started == 0 {
				t.Error("output before OnStart")
			}
			echoed = l.Text
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if strconv.Itoa(started) != echoed {
		t.Errorf("OnStart got pid %d, the shell says it is %s", started, echoed)
	}
	pid, host, ok := ParseStartedLine(StartedLine(started))
	if want, _ := os.Hostname(); !ok || pid != started || host != want {
		t.Errorf("ParseStartedLine(StartedLine(%d)) = %d, %q, %v", started, pid, host, ok)
	}
	if _, _, ok := ParseStartedLine("$ sleep 60"); ok {
		t.Error("an ordinary line parsed as a start")
	}
}

// Exit keeps the end of stderr (never stdout), however long the output.
func TestExitKeepsTheEndOfStderr(t *testing.T) {
	for _, tt := range []struct {
		line string
		want []string
	}{
		{"echo out; exit 1", nil},
		{"echo out; echo one >&2; exit 1", []string{"one"}},
		{"for i in 1 2 3 4 5 6 7; do echo err$i >&2; echo out$i; done", []string{"err3", "err4", "err5", "err6", "err7"}},
	} {
		exit, err := Run(context.Background(), Command{Line: tt.line}, RunOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(exit.Stderr, tt.want) {
			t.Errorf("%s: stderr tail %q, want %q", tt.line, exit.Stderr, tt.want)
		}
	}
}
