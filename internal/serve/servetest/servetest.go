// Package servetest drives `steady serve` the way responders do, for
// tests: keys made by the real ssh-keygen, the real OpenSSH client
// pinning the server's host key; the clients run in tuitest's tmux panes,
// and waits poll with a deadline (poll), never sleeping a fixed time.
package servetest

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"steady/tui/tuitest"
)

// Key is a key pair made with ssh-keygen.
type Key struct {
	// Path is the private key file; Path+".pub" is the public one.
	Path string
	// Line is the public key's authorized_keys line, without its comment.
	Line string
	// Fingerprint is the SHA256 fingerprint, as ssh-keygen -l prints it.
	Fingerprint string
}

// Keygen makes an unencrypted ed25519 key pair named name in dir.
func Keygen(t testing.TB, dir, name string) Key {
	t.Helper()
	path := filepath.Join(dir, name)
	run(t, "ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", name, "-f", path)
	pub, err := os.ReadFile(path + ".pub")
	if err != nil {
		t.Fatal(err)
	}
	fields := strings.Fields(string(pub))
	if len(fields) < 2 {
		t.Fatalf("ssh-keygen wrote an unexpected public key: %q", pub)
	}
	fp := strings.Fields(run(t, "ssh-keygen", "-l", "-E", "sha256", "-f", path+".pub"))
	if len(fp) < 2 {
		t.Fatalf("ssh-keygen -l printed no fingerprint")
	}
	return Key{Path: path, Line: fields[0] + " " + fields[1], Fingerprint: fp[1]}
}

// AuthorizedKeys writes an authorized_keys file of the given lines (mode
// 0600) and returns its path.
func AuthorizedKeys(t testing.TB, dir string, lines ...string) string {
	t.Helper()
	path := filepath.Join(dir, "authorized_keys")
	if err := os.WriteFile(path, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// KnownHosts writes a known_hosts file holding line (see
// serve.KnownHostsLine) and returns its path.
func KnownHosts(t testing.TB, dir, line string) string {
	t.Helper()
	path := filepath.Join(dir, "known_hosts")
	if err := os.WriteFile(path, []byte(line), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// Client is how one responder reaches the server.
type Client struct {
	Host, Port string
	User       string
	Key        Key
	KnownHosts string
}

// Args returns the ssh command line: the real OpenSSH client, no user
// configuration, the key alone, the host key pinned and checked
// strictly, never a prompt. extra are options, then, after a "--", a
// command for the server.
func (c Client) Args(extra ...string) []string {
	var command []string
	for i, a := range extra {
		if a == "--" {
			extra, command = extra[:i], extra[i+1:]
			break
		}
	}
	args := []string{"ssh", "-F", "/dev/null",
		"-i", c.Key.Path, "-p", c.Port,
		"-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes",
		"-o", "StrictHostKeyChecking=yes", "-o", "UserKnownHostsFile=" + c.KnownHosts,
		"-o", "GlobalKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR",
		"-o", "ConnectTimeout=10"}
	args = append(args, extra...)
	args = append(args, c.User+"@"+c.Host)
	return append(args, command...)
}

// Result is what one ssh command did.
type Result struct {
	Stdout, Stderr string
	Code           int
}

// Run runs ssh to the end (bounded by tuitest.Wait) with stdin empty, and returns
// its output and exit status.
func (c Client) Run(t testing.TB, extra ...string) Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), tuitest.Wait)
	defer cancel()
	args := c.Args(extra...)
	cmd := exec.CommandContext(ctx, args[0], args[1:]...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("ssh did not end within %s (it hangs): %v\nstdout: %s\nstderr: %s", tuitest.Wait, args, out.String(), errb.String())
	}
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("run %v: %v", args, err)
	}
	return Result{Stdout: out.String(), Stderr: errb.String(), Code: code}
}

func run(t testing.TB, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// Contains reports whether s holds every one of texts.
func Contains(s string, texts ...string) bool {
	for _, x := range texts {
		if !strings.Contains(s, x) {
			return false
		}
	}
	return true
}
