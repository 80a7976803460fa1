// Package bench measures steady at production scale, side by side with
// the commands an on-call engineer would type instead (psql, redis-cli,
// pg_dump, manage.py, a Python loop of Celery's delay()), for `make bench`
// and BENCHMARKS.md.
//
// It owns the bench data set (built once per run with COPY in a private
// sandbox), the interleaved runner that turns run-by-run timings into
// medians and ratios, the Redis SLOWLOG/LATENCY watch, the first-frame
// measurement on a pseudo-terminal, and the report. It is Linux-only and
// is never run by `go test ./...`: the driver is bench/cmd/steadybench.
package bench
