package probes

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/redis/go-redis/v9"

	"steady/internal/plural"
	"steady/internal/profile"
	"steady/internal/target"
)

// The full cache audit (param full): every worked-count key of the profile
// compared with the database, not a sample.
//
// Reads: SCAN MATCH <the worked-count pattern> COUNT probes.scan_count on every
// master; each batch's GETs are pipelined with the next SCAN, one round
// trip per batch, every command short (no command holds Redis for long).
// The worked shifts of each clinician are read once, by the clinician
// index, when a key of theirs first comes by, and each key's range is
// counted in memory. It holds one batch of keys, the worked days of the
// clinicians seen (dropped and read again past fullMaxDays) and the stale
// keys up to the evidence's bound.
// Cost: one round trip per scan_count keys, plus one query per batch
// that brings new clinicians; measured in BENCHMARKS.md (1M keys).
// Never: KEYS, a write, or a command over more than one batch.

const (
	// fullPrefetchKeys is how many keys are read ahead while the database
	// answers (about 100 bytes a key: some 25 MiB).
	fullPrefetchKeys = 256_000
	// fullMaxDays bounds the worked days kept in memory (4 bytes each).
	fullMaxDays = 16 << 20
	// fullMaxScopes bounds the affected scopes named.
	fullMaxScopes = 10000
)

// fullStats is what a full audit found.
type fullStats struct {
	keys, compared, stale, gone, pickled, corrupt, other int
	stales                                               []*sampledKey
	corrupts                                             []*sampledKey
	scopes                                               map[Scope]bool
}

func fullAudit(ctx context.Context, t *target.Target, r *Result, rdb redis.UniversalClient, nodes []redis.UniversalClient) error {
	cfg := t.Config()
	parseKey, glob := cfg.Profile.Cache.WorkedKeyMatcher()
	if parseKey == nil {
		return skip("no worked-count key format in the profile to audit (profile.cache.worked_key; a custom KEY_FUNCTION cannot be audited)")
	}
	sh := cfg.Profile.Shift
	if cfg.DB == "" || sh.Table == "" {
		return skip("the full audit compares every cached figure with the database: give --db")
	}
	started := time.Now()
	st := fullStats{scopes: map[Scope]bool{}}
	err := t.ReadOnly(ctx, func(ctx context.Context, tx pgx.Tx) error {
		if err := needProfile(ctx, tx, &cfg.Profile, profile.RoleShift); err != nil {
			return err
		}
		wd := newWorkedDays(tx, sh)
		// wd.loading is the read of every clinician's days while Redis is
		// read ahead: the two servers work at once, and no batch is
		// compared (nor the transaction used again) before it is done.
		defer func() { _ = wd.wait() }()
		// Each SCAN takes the probes' COUNT: a larger one means fewer round
		// trips but longer commands (COUNT 1000 with a MATCH measured 1.6 ms
		// of server time alone, 250 about 0.45 ms).
		sc := nodeScan{glob: glob, count: max(cfg.Probes.ScanCount, 1), prefetch: 2}
		_, sc.cluster = rdb.(*redis.ClusterClient)
		if many, err := moreFiguresThanPeople(ctx, tx, &cfg.Profile, nodes); err == nil && many {
			loading := make(chan error, 1)
			wd.loading, wd.all, sc.prefetch = loading, true, max(fullPrefetchKeys/sc.count, 2)
			go func() { loading <- wd.read(ctx, fmt.Sprintf(wd.query, "")) }()
		}
		for _, n := range nodes {
			if err := auditNode(ctx, n, sc, &st, parseKey, wd); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	fullFindings(r, &st, glob, time.Since(started), sh.RuleText())
	return nil
}

// workedDays are the worked days of clinicians, read as the audit needs
// them.
type workedDays struct {
	tx pgx.Tx
	sh profile.Shift
	// query reads one row per clinician with its days as an array; its %s
	// takes a condition on the clinicians.
	query  string
	worked map[int64][]int32
	days   int
	// all: every clinician's days are read; one missing has none.
	all bool
	// loading, while not nil, is the read of every clinician's days under
	// way in another goroutine; it sends the read's error when done.
	loading chan error
}

func newWorkedDays(tx pgx.Tx, sh profile.Shift) *workedDays {
	// All of them at once when the cache holds more figures than there are
	// clinicians (one scan beats a lookup per clinician), else those of
	// each batch's new clinicians.
	query := fmt.Sprintf(`SELECT %[1]s::int8, array_agg((%[2]s - DATE '1970-01-01')::int4 ORDER BY %[2]s) FROM %[3]s s WHERE %[4]s %%s GROUP BY 1`,
		profile.Col("s", sh.Clinician), profile.Col("s", sh.Date), profile.Ident(sh.Table), sh.WorkedSQL("s"))
	return &workedDays{tx: tx, sh: sh, query: query, worked: map[int64][]int32{}}
}

// read reads the days of the clinicians sql selects.
func (wd *workedDays) read(ctx context.Context, sql string, args ...any) error {
	rows, err := wd.tx.Query(ctx, sql, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var c int64
		var ds []int32
		if err := rows.Scan(&c, &ds); err != nil {
			return err
		}
		wd.worked[c] = ds
		wd.days += len(ds)
	}
	return rows.Err()
}

// wait waits for the read of every clinician's days, if one is under way,
// and returns its error; the days and the transaction are free after it.
func (wd *workedDays) wait() error {
	if wd.loading == nil {
		return nil
	}
	err := <-wd.loading
	wd.loading = nil
	return err
}

// load reads the days of the clinicians ids; those with none have none.
func (wd *workedDays) load(ctx context.Context, ids []int64) error {
	for _, id := range ids {
		wd.worked[id] = nil
	}
	return wd.read(ctx, fmt.Sprintf(wd.query, "AND "+profile.Col("s", wd.sh.Clinician)+" = ANY($1)"), ids)
}

// nodeScan is how a node's keys are read: the pattern, whether the node
// is a cluster's (no multi-key commands), the COUNT of each SCAN and how
// many batches may be read ahead.
type nodeScan struct {
	glob     string
	cluster  bool
	count    int
	prefetch int
}

// auditNode audits every worked-count key of one node. One goroutine reads
// Redis while this one compares: a batch's values and the next SCAN travel
// in one round trip, and the comparison of a batch overlaps the reading of
// the next; up to prefetch batches are read ahead. No batch is compared
// before the read of every clinician's days, if one is under way, is done.
func auditNode(ctx context.Context, n redis.UniversalClient, sc nodeScan, st *fullStats, parseKey func(string) (profile.KeyParts, bool), wd *workedDays) error {
	fctx, cancel := context.WithCancel(ctx)
	defer cancel()
	batches := make(chan fullBatch, sc.prefetch)
	go readBatches(fctx, n, sc, batches)
	load := func(ids []int64) error { return wd.load(ctx, ids) }
	for b := range batches {
		if err := wd.wait(); err != nil {
			cancel()
			for range batches {
			}
			return err
		}
		if b.err != nil {
			return b.err
		}
		if wd.days > fullMaxDays {
			// Read again as needed: memory stays bounded.
			clear(wd.worked)
			wd.days, wd.all = 0, false
		}
		if err := auditBatch(st, b, parseKey, wd.worked, wd.all, load); err != nil {
			cancel()
			for range batches {
			}
			return err
		}
	}
	return nil
}

// auditBatch compares one batch of keys, reading the worked days of the
// clinicians not seen yet in one query.
func auditBatch(st *fullStats, b fullBatch, parseKey func(string) (profile.KeyParts, bool),
	worked map[int64][]int32, all bool, load func([]int64) error) error {
	type item struct {
		key    string
		kp     profile.KeyParts
		cached int64
	}
	var items []item
	var need []int64
	wanted := map[int64]bool{}
	for i, k := range b.keys {
		st.keys++
		kp, ok := parseKey(k)
		if !ok {
			st.other++
			continue
		}
		v, state := b.values[i], b.states[i]
		switch state {
		case "gone":
			st.gone++
			continue
		case "corrupt":
			st.corrupt++
			if len(st.corrupts) < maxFindings {
				st.corrupts = append(st.corrupts, &sampledKey{key: k, value: v})
			}
			continue
		}
		n, perr := strconv.ParseInt(v, 10, 64)
		switch {
		case perr == nil:
		case strings.HasPrefix(v, "\x80"):
			st.pickled++
			continue
		default:
			st.corrupt++
			if len(st.corrupts) < maxFindings {
				st.corrupts = append(st.corrupts, &sampledKey{key: k, value: v})
			}
			continue
		}
		items = append(items, item{k, kp, n})
		if _, have := worked[kp.Clinician]; !have && !all && !wanted[kp.Clinician] {
			wanted[kp.Clinician] = true
			need = append(need, kp.Clinician)
		}
	}
	if len(need) > 0 {
		if err := load(need); err != nil {
			return err
		}
	}
	for _, it := range items {
		ds := worked[it.kp.Clinician]
		actual := int64(max(firstAfter(ds, dayNumber(it.kp.To))-firstAfter(ds, dayNumber(it.kp.From)-1), 0))
		st.compared++
		if actual == it.cached {
			continue
		}
		st.stale++
		if len(st.stales) < maxRows {
			st.stales = append(st.stales, &sampledKey{key: it.key, isCount: true, clinician: it.kp.Clinician, from: it.kp.From, to: it.kp.To,
				cached: it.cached, actual: actual, state: "stale"})
		}
		if len(st.scopes) < fullMaxScopes {
			st.scopes[Scope{Clinician: it.kp.Clinician, From: dateOnly(it.kp.From), To: dateOnly(it.kp.To)}] = true
		}
	}
	return nil
}

// firstAfter is the index of the first of the sorted days after d.
func firstAfter(days []int32, d int32) int {
	lo, hi := 0, len(days)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if days[m] <= d {
			lo = m + 1
		} else {
			hi = m
		}
	}
	return lo
}

// moreFiguresThanPeople reports whether the cache holds more keys than the
// clinician table has rows (by the planner's estimate): then reading every
// clinician's worked days at once is the cheaper way.
func moreFiguresThanPeople(ctx context.Context, tx pgx.Tx, pf *profile.Profile, nodes []redis.UniversalClient) (bool, error) {
	var keys int64
	for _, n := range nodes {
		k, err := n.DBSize(ctx).Result()
		if err != nil {
			return false, err
		}
		keys += k
	}
	var people float64
	table := pf.Clinician.Table
	if table == "" {
		table = pf.Shift.Table
	}
	if err := tx.QueryRow(ctx, `SELECT coalesce((SELECT reltuples FROM pg_class WHERE oid = to_regclass($1)), -1)`, table).Scan(&people); err != nil {
		return false, err
	}
	return people >= 0 && float64(keys) > 2*people, nil
}

// dayNumber is a date as days since 1970-01-01.
func dayNumber(t time.Time) int32 {
	return int32(time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC).Unix() / 86400)
}

func fullFindings(r *Result, st *fullStats, glob string, took time.Duration, rule string) {
	data := map[string]any{"keys": st.keys, "compared": st.compared, "stale": st.stale, "gone": st.gone, "pickled": st.pickled, "corrupt": st.corrupt, "pattern": glob}
	what := fmt.Sprintf("full audit of %s matching %s in %s", plural.Count(st.keys, "key", "keys"), glob, took.Round(time.Millisecond))
	var notes []string
	if st.gone > 0 {
		notes = append(notes, fmt.Sprintf("%d gone while the audit ran", st.gone))
	}
	if st.pickled > 0 {
		notes = append(notes, fmt.Sprintf("%d pickled (not compared)", st.pickled))
	}
	if st.other > 0 {
		notes = append(notes, fmt.Sprintf("%d not of the worked-count format", st.other))
	}
	extra := ""
	if len(notes) > 0 {
		extra = " (" + strings.Join(notes, ", ") + ")"
	}
	for _, k := range st.corrupts {
		r.add(Fail, "cache.corrupt", fmt.Sprintf("%s holds %s, neither an integer nor a pickle: cache.get raises in the application for this key", k.key, quoteValue(k.value)),
			map[string]any{"key": k.key, "value": k.value})
	}
	if st.stale == 0 {
		r.Summary = fmt.Sprintf("full audit: all %s agree with the database", plural.Count(st.compared, "worked count", "worked counts"))
		r.add(OK, "cache.full", fmt.Sprintf("%s: all %s agree with the database (steady's reading of the rule: %s)%s", what, plural.Count(st.compared, "worked count", "worked counts"), rule, extra), data)
	} else {
		r.Summary = fmt.Sprintf("full audit: %d of %s stale", st.stale, plural.Count(st.compared, "worked count", "worked counts"))
		r.add(Fail, "cache.full", fmt.Sprintf("%s: %d of %s are stale (steady's reading of the rule: %s)%s", what, st.stale, plural.Count(st.compared, "worked count", "worked counts"), rule, extra), data)
		for i, k := range st.stales {
			if i == maxFindings {
				r.add(Fail, "cache.stale_key", fmt.Sprintf("… and %d more stale keys (see the evidence)", st.stale-maxFindings), nil)
				break
			}
			r.add(Fail, "cache.stale_key", fmt.Sprintf("%s: cache says %d, database says %d (clinician %d, %s..%s)", k.key, k.cached, k.actual, k.clinician, dateOnly(k.from), dateOnly(k.to)),
				map[string]any{"key": k.key, "clinician": k.clinician, "from": dateOnly(k.from), "to": dateOnly(k.to), "cached": k.cached, "actual": k.actual})
		}
	}
	if st.corrupt > 0 {
		r.Summary += fmt.Sprintf("; %s", plural.Count(st.corrupt, "unreadable value", "unreadable values"))
	}
	for s := range st.scopes {
		r.Affected = append(r.Affected, s)
	}
	sort.Slice(r.Affected, func(i, j int) bool {
		a, b := r.Affected[i], r.Affected[j]
		if a.Clinician != b.Clinician {
			return a.Clinician < b.Clinician
		}
		return a.From < b.From
	})
	if st.stale > 0 && len(st.scopes) == fullMaxScopes {
		r.add(Warn, "cache.scopes_capped", fmt.Sprintf("the affected scopes named stop at %d; recalculate names its own", fullMaxScopes), nil)
	}
	r.Evidence = Table{Title: fmt.Sprintf("stale keys (of %d audited)", st.compared), Columns: []string{"key", "cached", "database", "clinician", "from", "to"}}
	for _, k := range st.stales {
		r.Evidence.Rows = append(r.Evidence.Rows, []string{k.key, fmt.Sprint(k.cached), fmt.Sprint(k.actual), fmt.Sprint(k.clinician), dateOnly(k.from), dateOnly(k.to)})
	}
	r.Evidence.Omitted = st.stale - len(st.stales)
}

// fullBatch is one SCAN batch with its values: states[i] is "" for a
// string value, "gone" or "corrupt" (another type; values[i] says which).
type fullBatch struct {
	keys, values, states []string
	err                  error
}

// readBatches SCANs a node to the end, each batch's values read in the
// round trip that asks for the next batch: MGET on a single Redis, GETs
// on a cluster node (a multi-key command must stay in one slot). A nil
// value is told apart by its TYPE (gone, or a key of another type).
func readBatches(ctx context.Context, n redis.UniversalClient, sc nodeScan, out chan<- fullBatch) {
	glob, cluster := sc.glob, sc.cluster
	defer close(out)
	send := func(b fullBatch) bool {
		select {
		case out <- b:
			return true
		case <-ctx.Done():
			return false
		}
	}
	keys, cursor, err := n.Scan(ctx, 0, glob, int64(sc.count)).Result()
	for {
		if err != nil {
			send(fullBatch{err: fmt.Errorf("SCAN MATCH %s: %w", glob, err)})
			return
		}
		b := fullBatch{keys: keys, values: make([]string, len(keys)), states: make([]string, len(keys))}
		pipe := n.Pipeline()
		reads := queueValues(ctx, pipe, keys, cluster)
		var next *redis.ScanCmd
		if cursor != 0 {
			next = pipe.Scan(ctx, cursor, glob, int64(sc.count))
		}
		if len(keys) > 0 || next != nil {
			_, _ = pipe.Exec(ctx) // each command's error is read below
		}
		missing, readErr := reads.values(b)
		if readErr != nil {
			send(fullBatch{err: readErr})
			return
		}
		if len(missing) > 0 {
			markMissing(ctx, n, b, missing)
		}
		if !send(b) || next == nil {
			return
		}
		keys, cursor, err = next.Result()
	}
}

// valueReads are the commands reading a batch's values: one MGET, or a GET
// per key on a cluster node.
type valueReads struct {
	keys []string
	mget *redis.SliceCmd
	gets []*redis.StringCmd
}

// queueValues queues the reads of keys' values in pipe.
func queueValues(ctx context.Context, pipe redis.Pipeliner, keys []string, cluster bool) valueReads {
	v := valueReads{keys: keys}
	switch {
	case len(keys) == 0:
	case cluster:
		v.gets = make([]*redis.StringCmd, len(keys))
		for i, k := range keys {
			v.gets[i] = pipe.Get(ctx, k)
		}
	default:
		v.mget = pipe.MGet(ctx, keys...)
	}
	return v
}

// values puts the values read in b, and returns the indexes of the keys
// with no string value.
func (v valueReads) values(b fullBatch) (missing []int, _ error) {
	switch {
	case v.mget != nil:
		vals, err := v.mget.Result()
		if err != nil {
			return nil, fmt.Errorf("MGET: %w", err)
		}
		for i, val := range vals {
			if s, ok := val.(string); ok {
				b.values[i] = s
			} else {
				missing = append(missing, i)
			}
		}
	case v.gets != nil:
		for i, g := range v.gets {
			val, err := g.Result()
			switch {
			case err == nil:
				b.values[i] = val
			case err == redis.Nil || strings.HasPrefix(err.Error(), "WRONGTYPE"):
				missing = append(missing, i)
			default:
				return nil, fmt.Errorf("GET %s: %w", v.keys[i], err)
			}
		}
	}
	return missing, nil
}

// markMissing tells the keys with no string value apart by their TYPE:
// gone, or a key of another type (corrupt).
func markMissing(ctx context.Context, n redis.UniversalClient, b fullBatch, missing []int) {
	tp := n.Pipeline()
	types := make([]*redis.StatusCmd, len(missing))
	for j, i := range missing {
		types[j] = tp.Type(ctx, b.keys[i])
	}
	_, _ = tp.Exec(ctx)
	for j, i := range missing {
		switch typ := types[j].Val(); typ {
		case "none", "":
			b.states[i] = "gone"
		default:
			b.states[i], b.values[i] = "corrupt", "(a "+typ+")"
		}
	}
}
