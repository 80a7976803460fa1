package bench

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"time"
)

// Machine describes where the bench ran, for BENCHMARKS.md.
type Machine struct {
	CPU      string
	Cores    int
	MemBytes int64
	OS       string
	Kernel   string
	// Versions of the tools and servers, by name.
	Versions [][2]string
	// LoadStart and LoadEnd are /proc/loadavg at the start and the end:
	// the machine is shared, and this says how busy it was.
	LoadStart, LoadEnd string
}

// DescribeMachine reads the CPU, memory, OS and the client tools' versions.
func DescribeMachine(ctx context.Context) *Machine {
	m := &Machine{Cores: runtime.NumCPU(), OS: osName(), LoadStart: loadavg()}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPU = strings.TrimSpace(v)
				break
			}
		}
	}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, "MemTotal:"); ok {
				kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
				m.MemBytes = kb << 10
			}
		}
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = strings.TrimSpace(string(b))
	}
	m.Versions = append(m.Versions, [2]string{"go (the driver)", runtime.Version()})
	for _, t := range [][]string{
		{"psql", "--version"}, {"pg_dump", "--version"}, {"redis-cli", "--version"}, {"tmux", "-V"},
	} {
		m.Versions = append(m.Versions, [2]string{t[0], firstLine(ctx, t...)})
	}
	return m
}

// AddServerVersions adds the sandbox's PostgreSQL and Redis and the example
// app's Python, Django and Celery.
func (m *Machine) AddServerVersions(ctx context.Context, e *Env) {
	var pg string
	if err := e.DB.QueryRow(ctx, `SHOW server_version`).Scan(&pg); err == nil {
		m.Versions = append(m.Versions, [2]string{"PostgreSQL server", pg})
	}
	if info, err := e.Cache.Info(ctx, "server").Result(); err == nil {
		for _, line := range strings.Split(info, "\n") {
			if v, ok := strings.CutPrefix(strings.TrimSpace(line), "redis_version:"); ok {
				m.Versions = append(m.Versions, [2]string{"Redis server", v})
			}
		}
	}
	m.Versions = append(m.Versions, [2]string{"python3 (" + e.Python + ")", firstLine(ctx, e.Python, "-c",
		"import sys, django, celery, kombu; print(sys.version.split()[0], '· Django', django.get_version(), '· Celery', celery.__version__, '· kombu', kombu.__version__)")})
}

// LoadAtEnd records the load average when the bench finished.
func (m *Machine) LoadAtEnd() { m.LoadEnd = loadavg() }

func loadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}

func osName() string {
	b, err := os.ReadFile("/etc/os-release")
	if err != nil {
		return runtime.GOOS
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "PRETTY_NAME="); ok {
			return strings.Trim(v, `"`)
		}
	}
	return runtime.GOOS
}

func firstLine(ctx context.Context, argv ...string) string {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, argv[0], argv[1:]...).CombinedOutput()
	if err != nil {
		return fmt.Sprintf("unknown (%v)", err)
	}
	line, _, _ := strings.Cut(strings.TrimSpace(string(out)), "\n")
	return line
}

// gib formats bytes as GiB or MiB.
func gib(n int64) string {
	if n >= 1<<30 {
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	}
	return fmt.Sprintf("%.0f MiB", float64(n)/(1<<20))
}
