package bench

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
)

// GoBench is one Go benchmark's samples (one per -count), by unit:
// "ns/op", "B/op", "allocs/op" and custom ones such as "p99-ns".
type GoBench struct {
	Name    string
	Samples map[string][]float64
}

// Median returns the median sample of unit, and false when there is none.
func (b *GoBench) Median(unit string) (float64, bool) {
	s := slices.Clone(b.Samples[unit])
	if len(s) == 0 {
		return 0, false
	}
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2], true
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2, true
}

// RunGoBench runs `go test -run ^$ -bench pattern -benchmem -count count`
// in pkg of the checkout and returns the benchmarks by name (without the
// -GOMAXPROCS suffix) and the raw output, which benchstat reads.
func RunGoBench(ctx context.Context, repo, pkg, pattern string, count int) (map[string]*GoBench, string, error) {
	argv := []string{"test", "-run", "^$", "-bench", pattern, "-benchmem", "-count", strconv.Itoa(count), pkg}
	cmd := exec.CommandContext(ctx, goTool(), argv...)
	cmd.Dir = repo
	cmd.Env = os.Environ()
	out, err := cmd.CombinedOutput()
	if err != nil {
		return nil, string(out), fmt.Errorf("go %s: %w\n%s", strings.Join(argv, " "), err, out)
	}
	benches := parseGoBench(string(out))
	if len(benches) == 0 {
		return nil, string(out), fmt.Errorf("go %s ran no benchmark matching %s", strings.Join(argv, " "), pattern)
	}
	return benches, string(out), nil
}

// parseGoBench reads benchmark result lines:
//
//	BenchmarkName-2   100   10472458 ns/op   20123456 p99-ns   1234 B/op
func parseGoBench(out string) map[string]*GoBench {
	benches := map[string]*GoBench{}
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 4 || !strings.HasPrefix(f[0], "Benchmark") {
			continue
		}
		if _, err := strconv.Atoi(f[1]); err != nil {
			continue
		}
		name := f[0]
		if i := strings.LastIndexByte(name, '-'); i > 0 {
			if _, err := strconv.Atoi(name[i+1:]); err == nil {
				name = name[:i]
			}
		}
		b := benches[name]
		if b == nil {
			b = &GoBench{Name: name, Samples: map[string][]float64{}}
			benches[name] = b
		}
		for i := 2; i+1 < len(f); i += 2 {
			v, err := strconv.ParseFloat(f[i], 64)
			if err != nil {
				break
			}
			b.Samples[f[i+1]] = append(b.Samples[f[i+1]], v)
		}
	}
	return benches
}

// goTool is the go command: on PATH, else where the Makefile's PATH
// addition puts it.
func goTool() string {
	if p, err := exec.LookPath("go"); err == nil {
		return p
	}
	return "/usr/local/go/bin/go"
}
