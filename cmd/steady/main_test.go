package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"

	"steady/internal/sandbox/sandboxtest"
)

// Tests in this package drive the real binary, built once per test run,
// against private servers from the sandbox harness.

func TestMain(m *testing.M) { sandboxtest.Main(m) }

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
	buildOut  []byte
)

// steadyBin returns the path of a freshly built steady binary.
func steadyBin(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "steady-bin-")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "steady")
		cmd := exec.Command("go", "build", "-o", binPath, ".")
		buildOut, buildErr = cmd.CombinedOutput()
	})
	if buildErr != nil {
		t.Fatalf("build steady: %v\n%s", buildErr, buildOut)
	}
	return binPath
}

// result is what one run of the binary did.
type result struct {
	stdout, stderr string
	code           int
}

// runSteady runs the binary with args in dir (a temp dir when empty), with
// only the given environment on top of a minimal one, so the machine's
// variables (DATABASE_URL…) never leak into a test.
func runSteady(t testing.TB, dir string, env []string, args ...string) result {
	t.Helper()
	return runSteadyUnder(t, nil, dir, env, args...)
}

// runSteadyUnder runs the binary as runSteady does, started through
// wrapper (e.g. prlimit and its options) when one is given.
func runSteadyUnder(t testing.TB, wrapper []string, dir string, env []string, args ...string) result {
	t.Helper()
	if dir == "" {
		dir = t.TempDir()
	}
	argv := append(append(append([]string(nil), wrapper...), steadyBin(t)), args...)
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir = dir
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + dir, "USER=tester", "NO_COLOR=1", "TERM=dumb"}, env...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("run steady %v: %v", args, err)
	}
	return result{stdout: out.String(), stderr: errb.String(), code: code}
}
