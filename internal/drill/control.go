package drill

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// The drill's control socket lets the restart commands it configures
// (`steady sandbox restart worker --drill DIR`) reach the drill process,
// which owns the worker: a restarted worker must be the drill's child so
// that its lifeline and the sandbox's reaper still cover it.
//
// Protocol: one request line ("restart worker", "status"), answered by
// lines of narration and a last line "OK" or "ERROR <reason>".

// socketName is the control socket's file name in the drill dir.
const socketName = "control.sock"

// restartTimeout bounds one restart as seen by the client.
const restartTimeout = time.Minute

// controlServer answers requests on the drill's control socket.
type controlServer struct {
	ln  net.Listener
	sup *supervisor
	wg  sync.WaitGroup
}

func listenControl(dir string, sup *supervisor) (*controlServer, error) {
	path := filepath.Join(dir, socketName)
	ln, err := net.Listen("unix", path)
	if err != nil {
		return nil, fmt.Errorf("open the drill's control socket %s: %w", path, err)
	}
	// Only this user may restart the drill's processes.
	if err := os.Chmod(path, 0o600); err != nil {
		ln.Close()
		return nil, fmt.Errorf("restrict the control socket %s: %w", path, err)
	}
	c := &controlServer{ln: ln, sup: sup}
	c.wg.Go(c.serve)
	return c, nil
}

func (c *controlServer) serve() {
	for {
		conn, err := c.ln.Accept()
		if err != nil {
			return // closed
		}
		c.wg.Go(func() { c.handle(conn) })
	}
}

func (c *controlServer) handle(conn net.Conn) {
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(restartTimeout))
	line, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil {
		return
	}
	w := bufio.NewWriter(conn)
	defer w.Flush()
	switch req := strings.TrimSpace(line); req {
	case "restart worker":
		ctx, cancel := context.WithTimeout(context.Background(), restartTimeout)
		defer cancel()
		if err := c.sup.Restart(ctx, w); err != nil {
			fmt.Fprintf(w, "ERROR %s\n", strings.ReplaceAll(err.Error(), "\n", " | "))
			return
		}
	case "status":
		fmt.Fprintln(w, c.sup.Status())
	default:
		fmt.Fprintf(w, "ERROR unknown request %q (known: restart worker, status)\n", req)
		return
	}
	fmt.Fprintln(w, "OK")
}

// Close stops accepting requests and waits for the ones in progress.
func (c *controlServer) Close() {
	_ = c.ln.Close()
	c.wg.Wait()
}

// Restart asks the drill running in dir to restart a service, copying its
// narration to out. The sandbox has one: "worker" (a real deployment's web
// process has no counterpart there). It fails when no drill runs in dir.
func Restart(ctx context.Context, dir, service string, out io.Writer) error {
	if service != "worker" {
		return fmt.Errorf("the sandbox has no %q to restart: it runs one restartable process, worker (the web process of a real deployment has no counterpart here)", service)
	}
	return request(ctx, dir, "restart "+service, out)
}

// Status prints one line about the drill's worker.
func Status(ctx context.Context, dir string, out io.Writer) error {
	return request(ctx, dir, "status", out)
}

func request(ctx context.Context, dir, req string, out io.Writer) error {
	path := filepath.Join(dir, socketName)
	var d net.Dialer
	conn, err := d.DialContext(ctx, "unix", path)
	if err != nil {
		return fmt.Errorf("no drill is running in %s (%v): the sandbox's processes can only be restarted while its `steady drill` runs", dir, err)
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	} else {
		_ = conn.SetDeadline(time.Now().Add(restartTimeout + 5*time.Second))
	}
	if _, err := fmt.Fprintln(conn, req); err != nil {
		return fmt.Errorf("send %q to the drill: %w", req, err)
	}
	sc := bufio.NewScanner(conn)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "OK":
			return nil
		case strings.HasPrefix(line, "ERROR "):
			return errors.New(strings.ReplaceAll(strings.TrimPrefix(line, "ERROR "), " | ", "\n"))
		}
		fmt.Fprintln(out, line)
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("the drill stopped answering: %w", err)
	}
	return errors.New("the drill closed the control socket without an answer; is it shutting down?")
}
