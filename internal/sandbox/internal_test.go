package sandbox

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestFindPostgresFallsBackToVersionedDirs(t *testing.T) {
	// Debian keeps initdb off PATH; the glob must find it anyway.
	t.Setenv("PATH", t.TempDir())
	found, _ := filepath.Glob(pgBinGlob)
	initdb, postgres, err := findPostgres("")
	if len(found) == 0 {
		if err == nil {
			t.Fatalf("found %s without any %s", initdb, pgBinGlob)
		}
		t.Fatalf("no PostgreSQL under %s: %v", pgBinGlob, err)
	}
	if err != nil {
		t.Fatal(err)
	}
	if filepath.Dir(initdb) != filepath.Dir(postgres) || !strings.HasPrefix(initdb, "/usr/lib/postgresql/") {
		t.Errorf("findPostgres = %s, %s", initdb, postgres)
	}
}

func TestCompareVersions(t *testing.T) {
	got := []string{"9.6", "15", "10", "16", "9.5"}
	slices.SortFunc(got, func(a, b string) int { return compareVersions(b, a) })
	if want := []string{"16", "15", "10", "9.6", "9.5"}; !slices.Equal(got, want) {
		t.Errorf("newest first = %v, want %v", got, want)
	}
}

func TestMarkerDoesNotMatchLongerDirNames(t *testing.T) {
	re := markerRE("/tmp/steady-pg-12")
	for cmd, want := range map[string]bool{
		"postgres -D /tmp/steady-pg-12/data":     true,
		"postgres: steady-pg-12: checkpointer":   true,
		"steady-reaper /tmp/steady-pg-12":        true,
		"postgres -D /tmp/steady-pg-123/data":    false,
		"postgres: steady-pg-1234: checkpointer": false,
	} {
		if re.MatchString(cmd) != want {
			t.Errorf("marker of steady-pg-12 matches %q: %v, want %v", cmd, !want, want)
		}
	}
}

func TestLastLines(t *testing.T) {
	for _, c := range []struct {
		in   string
		n    int
		want string
	}{
		{"a\nb\nc\n", 2, "b\nc"},
		{"a\nb\nc", 5, "a\nb\nc"},
		{"a\nb\nc\n", 0, ""},
		{"", 3, ""},
		{"\nx\n", 1, "x"},
	} {
		if got := lastLines([]byte(c.in), c.n); got != c.want {
			t.Errorf("lastLines(%q, %d) = %q, want %q", c.in, c.n, got, c.want)
		}
	}
}

func TestRemoveDirRefusesForeignDirs(t *testing.T) {
	dir := t.TempDir()
	if err := removeDir(dir); err == nil {
		t.Fatal("removeDir accepted a dir without a sandbox prefix")
	}
	if _, err := os.Stat(dir); err != nil {
		t.Fatal(err)
	}
}

// TestPortCollisionIsRetried hands the servers a port that is already
// taken, as happens when another process grabs it between our probe and the
// server's bind; they must retry on a fresh one. Not parallel: it swaps
// pickPort, and parallel tests only start after it is restored.
func TestPortCollisionIsRetried(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	takenPort := taken.Addr().(*net.TCPAddr).Port
	defer func() { pickPort = freePort }()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	for _, start := range []struct {
		name string
		run  func() (port int, stop func() error, err error)
	}{
		{"redis", func() (int, func() error, error) {
			r, err := StartRedis(ctx, RedisOptions{})
			if err != nil {
				return 0, nil, err
			}
			return r.Port(), r.Stop, nil
		}},
		{"postgres", func() (int, func() error, error) {
			p, err := StartPostgres(ctx, PostgresOptions{})
			if err != nil {
				return 0, nil, err
			}
			return p.Port(), p.Stop, nil
		}},
	} {
		calls := 0
		pickPort = func() (int, error) {
			if calls++; calls == 1 {
				return takenPort, nil
			}
			return freePort()
		}
		port, stop, err := start.run()
		if err != nil {
			t.Fatalf("%s: %v", start.name, err)
		}
		if err := stop(); err != nil {
			t.Error(err)
		}
		if port == takenPort || calls < 2 {
			t.Errorf("%s: got port %d after %d picks; the taken port was %d", start.name, port, calls, takenPort)
		}
	}
}
