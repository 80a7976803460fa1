package bench

import (
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"steady/internal/config"
	"steady/internal/target"
)

func TestSizeForTheFullScaleIsTheIssues(t *testing.T) {
	s := SizeFor(1)
	if s.AuditRows != 5_000_000 || s.CacheKeys != 1_000_000 || s.Queue != 10_000 || s.Enqueue != 10_000 {
		t.Errorf("full size %+v", s)
	}
	if small := SizeFor(0.0001); small.Clinicians < 40 || small.CacheKeys < 5000 || small.Queue < 100 {
		t.Errorf("tiny scales keep a floor: %+v", small)
	}
}

func TestGenerateWritesTheAuditLogInOrderWithOnlyThePlantedRaces(t *testing.T) {
	size := SizeFor(0.02)
	now := time.Date(2026, 3, 18, 14, 30, 0, 0, time.UTC)
	g := generate(size, now)
	// At the full scale, at least a million shifts.
	perMonth := float64(len(g.shifts)) / float64(size.Clinicians*size.Months)
	if full := SizeFor(1); perMonth*float64(full.Clinicians*full.Months) < 1_000_000 {
		t.Errorf("%.1f shifts a month per clinician: fewer than a million shifts at the full scale", perMonth)
	}
	if len(g.events) != size.AuditRows {
		t.Errorf("%d audit rows, want %d", len(g.events), size.AuditRows)
	}
	if !slices.IsSortedFunc(g.events, func(a, b auditEvent) int { return int(a.ts - b.ts) }) {
		t.Error("audit rows not in timestamp order")
	}
	if g.events[len(g.events)-1].ts >= now.UnixMicro() {
		t.Error("an audit row after now")
	}
	// Writes of one shift within the same second: exactly the planted groups.
	type key struct {
		entity int64
		second int64
	}
	perSecond := map[key]int{}
	for _, e := range g.events {
		if e.kind >= evShiftCreate && e.kind <= evShiftSwap {
			perSecond[key{e.entity, e.ts / 1e6}]++
		}
	}
	groups := 0
	for _, n := range perSecond {
		if n > 1 {
			groups++
		}
	}
	if groups != g.raceGroups || g.raceGroups != size.RaceGroups {
		t.Errorf("%d same-second groups, %d planted, %d asked for", groups, g.raceGroups, size.RaceGroups)
	}
	// The same size and now give the same data.
	if again := generate(size, now); len(again.shifts) != len(g.shifts) || again.events[1000] != g.events[1000] {
		t.Error("generate is not reproducible")
	}
}

func TestCacheKeysAreDjangoRedisKeysWithTheirCounts(t *testing.T) {
	size := SizeFor(0.01)
	g := generate(size, time.Date(2026, 3, 18, 14, 30, 0, 0, time.UTC))
	cfg := config.Default()
	cs := g.cacheKeys(&cfg, size)
	if len(cs.keys) != size.CacheKeys || len(cs.sessions) != size.SessionKeys {
		t.Fatalf("%d keys, %d sessions", len(cs.keys), len(cs.sessions))
	}
	seen := map[string]bool{}
	for _, k := range cs.keys {
		if seen[k] || !strings.HasPrefix(k, ":1:shiftcount:") || !target.MatchGlob(CachePattern(), k) {
			t.Fatalf("key %q: duplicate or outside the pattern %s", k, CachePattern())
		}
		seen[k] = true
	}
	for _, k := range cs.sessions {
		if target.MatchGlob(CachePattern(), k) {
			t.Fatalf("session key %q inside the flush's pattern", k)
		}
	}
	// About one in a hundred is stale.
	if cs.stale < size.CacheKeys/200 || cs.stale > size.CacheKeys/50 {
		t.Errorf("%d stale of %d", cs.stale, size.CacheKeys)
	}
	// The monthly key of clinician 1 holds its worked shifts that month.
	m := g.months[0]
	want := countBetween(g.clinicians[0].worked, epochDay(m.From), epochDay(m.To))
	i := slices.Index(cs.keys, cfg.Profile.Cache.WorkedKeyOf(1, m.FromDate(), m.ToDate()))
	if i < 0 {
		t.Fatal("no monthly key of clinician 1")
	}
	if got := cs.values[i]; got != strconv.Itoa(want) && got != strconv.Itoa(want+1) {
		t.Errorf("clinician 1 %s: cached %s, worked %d", m, got, want)
	}
}

func TestParseStatementsWritesTheParametersIn(t *testing.T) {
	log := `2026-11-25 21:10:01.120 UTC [1234] LOG:  duration: 0.050 ms  statement: begin read only
2026-11-25 21:10:01.121 UTC [1234] LOG:  duration: 0.050 ms  parse stmtcache_1: SELECT n FROM t
	WHERE a = $1 AND b = ANY($2) AND c = $10
2026-11-25 21:10:01.122 UTC [1234] LOG:  duration: 0.020 ms  bind stmtcache_1: SELECT n FROM t
	WHERE a = $1 AND b = ANY($2) AND c = $10
2026-11-25 21:10:01.122 UTC [1234] DETAIL:  parameters: $1 = 'it''s', $2 = '{CREATE,UPDATE}', $10 = NULL
2026-11-25 21:10:01.123 UTC [1234] LOG:  duration: 3.300 ms  execute stmtcache_1: SELECT n FROM t
	WHERE a = $1 AND b = ANY($2) AND c = $10
2026-11-25 21:10:01.123 UTC [1234] DETAIL:  parameters: $1 = 'it''s', $2 = '{CREATE,UPDATE}', $10 = NULL
2026-11-25 21:10:01.124 UTC [1234] LOG:  duration: 0.010 ms  statement: WITH x AS (SELECT 1) SELECT * FROM x
2026-11-25 21:10:01.125 UTC [1234] LOG:  duration: 0.010 ms  statement: rollback
`
	got, err := parseStatements(strings.NewReader(log))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"SELECT n FROM t\n\tWHERE a = 'it''s' AND b = ANY('{CREATE,UPDATE}') AND c = NULL",
		"WITH x AS (SELECT 1) SELECT * FROM x",
	}
	if !slices.Equal(got, want) {
		t.Errorf("got %q\nwant %q", got, want)
	}
	if _, err := parseStatements(strings.NewReader("2026-11-25 21:10:01.123 UTC [1] LOG:  duration: 1.0 ms  execute s: SELECT $1\n")); err == nil {
		t.Error("a placeholder without a logged value was accepted")
	}
}

func TestParseGoBenchReadsEveryUnit(t *testing.T) {
	out := `goos: linux
BenchmarkJournalAppend-2   	     100	  10472458 ns/op	  20123456 p99-ns	    1234 B/op	      12 allocs/op
BenchmarkJournalAppend-2   	     100	  10472460 ns/op	  20123458 p99-ns	    1234 B/op	      12 allocs/op
BenchmarkReplay100k-2      	       2	 731000000 ns/op	  41.50 MB/s
PASS
`
	b := parseGoBench(out)
	if m, _ := b["BenchmarkJournalAppend"].Median("p99-ns"); m != 20123457 {
		t.Errorf("p99 median %v", m)
	}
	if m, ok := b["BenchmarkReplay100k"].Median("ns/op"); !ok || m != 731e6 {
		t.Errorf("replay %v %v", m, ok)
	}
}

func TestMedian(t *testing.T) {
	for _, c := range []struct {
		in   []time.Duration
		want time.Duration
	}{{nil, 0}, {[]time.Duration{3, 1, 2}, 2}, {[]time.Duration{4, 1, 3, 2}, 2}} {
		if got := Median(c.in); got != c.want {
			t.Errorf("Median(%v) = %v, want %v", c.in, got, c.want)
		}
	}
}

func TestFindingsNameOnlyKnownRows(t *testing.T) {
	r := &Report{Results: []*Result{{ID: "flush", HasRatio: true, Met: true, Ratio: 0.5, SteadyText: "1 s", OtherText: "2 s"}}}
	text := r.findingsText()
	if strings.Contains(text, "does not parse") || strings.Contains(text, "findings.md:") {
		t.Fatal(text)
	}
	if !strings.Contains(text, "steady 1 s against 2 s, ratio 0.500 (target met)") {
		t.Error("the flush row's numbers are not in the findings")
	}
	for _, m := range regexp.MustCompile(`\{\{now "([a-z]+)"\}\}`).FindAllStringSubmatch(findings, -1) {
		if !slices.Contains(RowIDs(), m[1]) {
			t.Errorf("findings.md names row %q, which does not exist", m[1])
		}
	}
}
