// Command steadybench is `make bench`: it builds the production-scale data
// set once in a private sandbox, runs every comparison of the benchmark table (steady
// against psql, manage.py, redis-cli, pg_dump and Celery's delay(), run by
// run, alternately), runs the Go benchmarks of the hot paths, prints a
// table of medians and ratios and writes BENCHMARKS.md.
//
//	make bench                      the full scale; writes BENCHMARKS.md
//	make bench BENCH_SCALE=0.05     a quick smoke run; prints, writes a temp file
//	bin/steadybench -only audit,cache -scale 0.1
//
// It is never run by `go test ./...` or CI.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"steady/bench"
)

func main() {
	var o options
	flag.Float64Var(&o.scale, "scale", 1, "data set scale: 1 is production scale (1M shifts, 5M audit rows, 1M cache keys, 10k queued); 0.05 is a smoke run")
	flag.IntVar(&o.runs, "runs", 5, "measured runs of each side of a comparison (the median is reported; at least 5 for a result that counts)")
	flag.IntVar(&o.warmup, "warmup", 1, "unmeasured runs of each side before measuring")
	flag.StringVar(&o.steady, "steady", "bin/steady", "the binary under test")
	flag.StringVar(&o.out, "out", "", "the Markdown report (default BENCHMARKS.md at scale 1, else a temp file)")
	flag.StringVar(&o.only, "only", "", "run only these rows (comma-separated ids: "+strings.Join(bench.RowIDs(), ",")+")")
	flag.BoolVar(&o.hold, "hold", false, "build the data set, print the sandbox's environment and wait for ctrl+c (to explore by hand)")
	flag.BoolVar(&o.keep, "keep", false, "keep the scratch directory")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, o); err != nil {
		fmt.Fprintln(os.Stderr, "steadybench:", err)
		os.Exit(1)
	}
}

type options struct {
	scale        float64
	runs, warmup int
	steady, out  string
	only         string
	hold, keep   bool
}

func run(ctx context.Context, o options) error {
	if o.scale <= 0 {
		return fmt.Errorf("-scale %g: want a positive number", o.scale)
	}
	if o.runs < 5 {
		fmt.Fprintf(os.Stderr, "steadybench: -runs %d: a result counts with medians of at least 5 runs; this run does not count\n", o.runs)
	}
	var only []string
	if o.only != "" {
		only = strings.Split(o.only, ",")
		for _, id := range only {
			if !slices.Contains(bench.RowIDs(), id) {
				return fmt.Errorf("-only %s: no such row (rows: %s)", id, strings.Join(bench.RowIDs(), ", "))
			}
		}
	}
	if o.out == "" && o.scale == 1 && only == nil && o.runs >= 5 {
		o.out = "BENCHMARKS.md"
	}
	if err := bench.CheckTools(); err != nil {
		return err
	}
	repo, err := os.Getwd()
	if err != nil {
		return err
	}
	work, err := os.MkdirTemp("", "steady-bench-")
	if err != nil {
		return err
	}
	if o.keep {
		fmt.Fprintf(os.Stderr, "steadybench: scratch directory %s is kept\n", work)
	} else {
		defer os.RemoveAll(work)
	}
	machine := bench.DescribeMachine(ctx)
	started := time.Now()

	env, err := bench.Open(ctx, repo, o.steady, work, os.Stderr)
	if err != nil {
		return err
	}
	defer env.Close()
	size := bench.SizeFor(o.scale)
	if err := env.BuildData(ctx, size); err != nil {
		return err
	}
	if o.hold {
		return hold(ctx, env)
	}
	machine.AddServerVersions(ctx, env)

	report := &bench.Report{Machine: machine, Scale: o.scale, Runs: o.runs, Warmup: o.warmup, Data: env.Data, Started: started, RedisNice: env.RedisNice}
	report.Results = bench.RunRows(ctx, env, only, o.runs, o.warmup)
	report.Finished = time.Now()
	machine.LoadAtEnd()

	fmt.Println()
	fmt.Print(report.Table())
	out := o.out
	if out == "" {
		out = filepath.Join(os.TempDir(), fmt.Sprintf("steady-bench-%s.md", time.Now().Format("20060102-150405")))
	}
	if err := os.WriteFile(out, []byte(report.Markdown()), 0o644); err != nil {
		return err
	}
	fmt.Printf("\nReport written to %s\n", out)
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return nil
}

// hold keeps the sandbox up for exploring by hand.
func hold(ctx context.Context, env *bench.Env) error {
	fmt.Println("# the sandbox's environment, for a shell:")
	for _, kv := range env.SteadyEnv() {
		k, v, _ := strings.Cut(kv, "=")
		fmt.Printf("export %s=%q\n", k, v)
	}
	fmt.Println("# ctrl+c ends the sandbox")
	<-ctx.Done()
	return nil
}
