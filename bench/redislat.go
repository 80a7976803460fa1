package bench

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// SlowWatch records, per side of a comparison, the Redis commands that
// took longer than a millisecond (SLOWLOG) and the latency events above
// the limit (LATENCY LATEST), so the report can say whether any command
// was slower than the limit while steady or the other command ran.
type SlowWatch struct {
	rdb   *redis.Client
	limit time.Duration
	sides map[Side]*slowSide
}

type slowSide struct {
	runs    int
	logged  int // commands over slowlogFloor
	over    int // commands over the limit
	worst   redis.SlowLog
	latency map[string]int64 // event → worst ms
}

// slowlogFloor is what SLOWLOG records: every command of a millisecond or
// more, so the report shows how close to the limit the slowest came.
const slowlogFloor = time.Millisecond

// WatchSlow configures the server to log slow commands and latency events
// and returns the watch; Restore puts Redis's defaults back.
func WatchSlow(ctx context.Context, rdb *redis.Client, limit time.Duration) (*SlowWatch, error) {
	w := &SlowWatch{rdb: rdb, limit: limit, sides: map[Side]*slowSide{}}
	for k, v := range map[string]any{
		"slowlog-log-slower-than":   slowlogFloor.Microseconds(),
		"slowlog-max-len":           100000,
		"latency-monitor-threshold": max(limit.Milliseconds(), 1),
	} {
		if err := rdb.ConfigSet(ctx, k, fmt.Sprint(v)).Err(); err != nil {
			return nil, fmt.Errorf("CONFIG SET %s: %w", k, err)
		}
	}
	return w, w.Reset(ctx)
}

// Reset forgets what was logged; call it right before a run.
func (w *SlowWatch) Reset(ctx context.Context) error {
	if err := w.rdb.SlowLogReset(ctx).Err(); err != nil {
		return fmt.Errorf("SLOWLOG RESET: %w", err)
	}
	if err := w.rdb.Do(ctx, "LATENCY", "RESET").Err(); err != nil {
		return fmt.Errorf("LATENCY RESET: %w", err)
	}
	return nil
}

// Collect reads what was logged since Reset and charges it to side.
func (w *SlowWatch) Collect(ctx context.Context, side Side) error {
	s := w.sides[side]
	if s == nil {
		s = &slowSide{latency: map[string]int64{}}
		w.sides[side] = s
	}
	s.runs++
	logs, err := w.rdb.SlowLogGet(ctx, -1).Result()
	if err != nil {
		return fmt.Errorf("SLOWLOG GET: %w", err)
	}
	for _, l := range logs {
		// The watch's own commands are not the run's.
		if len(l.Args) > 0 && strings.EqualFold(l.Args[0], "slowlog") {
			continue
		}
		s.logged++
		if l.Duration > w.limit {
			s.over++
		}
		if l.Duration > s.worst.Duration {
			s.worst = l
		}
	}
	events, err := w.rdb.Do(ctx, "LATENCY", "LATEST").Slice()
	if err != nil {
		return fmt.Errorf("LATENCY LATEST: %w", err)
	}
	for _, e := range events {
		fields, ok := e.([]any)
		if !ok || len(fields) < 4 {
			continue
		}
		name, _ := fields[0].(string)
		worst, _ := fields[3].(int64)
		s.latency[name] = max(s.latency[name], worst)
	}
	return nil
}

// Notes describe each side and report whether steady stayed under the
// limit (the other command is shown for comparison, not judged).
func (w *SlowWatch) Notes(steadyShow, otherShow string) ([]string, bool) {
	var notes []string
	met := true
	for _, side := range []Side{SteadySide, OtherSide} {
		s := w.sides[side]
		if s == nil {
			continue
		}
		who := steadyShow
		if side == OtherSide {
			who = otherShow
		}
		line := fmt.Sprintf("Redis while `%s` ran (%d runs): ", who, s.runs)
		if s.logged == 0 {
			line += "no command took 1 ms or more (SLOWLOG at 1 ms)"
		} else {
			line += fmt.Sprintf("slowest command %s (`%s`); %d commands ≥ 1 ms, %d over %s",
				ms(s.worst.Duration), shortArgs(s.worst.Args), s.logged, s.over, ms(w.limit))
		}
		if len(s.latency) == 0 {
			line += fmt.Sprintf("; LATENCY LATEST: no event over %s", ms(w.limit))
		} else {
			var ev []string
			for name, worst := range s.latency {
				ev = append(ev, fmt.Sprintf("%s %d ms", name, worst))
			}
			line += "; LATENCY LATEST: " + strings.Join(ev, ", ")
		}
		notes = append(notes, line)
		if side == SteadySide && s.over > 0 {
			met = false
		}
	}
	return notes, met
}

// Restore puts Redis's default slowlog and latency settings back.
func (w *SlowWatch) Restore(ctx context.Context) {
	_ = w.rdb.ConfigSet(ctx, "slowlog-log-slower-than", "10000").Err()
	_ = w.rdb.ConfigSet(ctx, "slowlog-max-len", "128").Err()
	_ = w.rdb.ConfigSet(ctx, "latency-monitor-threshold", "0").Err()
}

// shortArgs prints a logged command, long argument lists cut.
func shortArgs(args []string) string {
	if len(args) > 6 {
		args = append(args[:5:5], fmt.Sprintf("… %d more", len(args)-5))
	}
	s := strings.Join(args, " ")
	if len(s) > 120 {
		s = s[:117] + "…"
	}
	return s
}
