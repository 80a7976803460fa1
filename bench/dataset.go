package bench

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/redis/go-redis/v9"

	"steady/internal/clinic"
	"steady/internal/config"
)

// Size is how big the bench data set is. SizeFor(1) is production scale:
// at least a million shifts, five million audit-log rows, a million
// django-redis cache keys and a Celery queue of 10,000 messages.
type Size struct {
	Clinicians int
	// Months of shifts, ending with the current month.
	Months int
	// AuditRows is the audit log's size; the shifts' own writes are topped
	// up with writes of other entities (summaries, clinicians) to reach it.
	AuditRows int
	// CacheKeys are django-redis shift-count keys: what the cache probe
	// samples and the scoped flush deletes.
	CacheKeys int
	// SessionKeys are other keys of the cache db, outside the flush's scope.
	SessionKeys int
	// Queue is how many messages wait in the Celery queue.
	Queue int
	// Enqueue is how many recalculations the enqueue comparison pushes.
	Enqueue int
	// RaceGroups are the concurrent writes of one shift in the last week
	// that audit-concurrency must find (the runbook's race condition).
	RaceGroups int
}

// SizeFor scales the full data set; small scales keep a floor so every
// comparison still has something to measure.
func SizeFor(scale float64) Size {
	n := func(full, floor int) int {
		return max(int(math.Round(float64(full)*scale)), floor)
	}
	return Size{
		Clinicians:  n(5000, 40),
		Months:      14,
		AuditRows:   n(5_000_000, 10_000),
		CacheKeys:   n(1_000_000, 5_000),
		SessionKeys: n(20_000, 100),
		Queue:       n(10_000, 100),
		Enqueue:     n(10_000, 100),
		RaceGroups:  n(100, 5),
	}
}

// Dataset is the data set as built: the counts the report quotes, and the
// cache keys, kept so the flush comparison can rebuild them between runs.
type Dataset struct {
	Size Size
	Now  time.Time
	// Months are the calendar months with shifts, oldest first.
	Months []clinic.Period
	// As written.
	Shifts, AuditRows, Summaries       int
	AuditLastWeek, ShiftWritesLastWeek int
	RaceGroups                         int
	StaleKeys                          int
	// DBBytes is pg_database_size after VACUUM ANALYZE; Tables lists the
	// size of each table with its indexes.
	DBBytes int64
	Tables  []TableSize
	// Took is how long each build step took, in order.
	Took []Step

	cache *cacheSet
}

// TableSize is one table's row count and size (heap plus indexes).
type TableSize struct {
	Name  string
	Rows  int64
	Bytes int64
}

// Step is one timed step of the build.
type Step struct {
	What string
	Took time.Duration
}

// Audit-log entity types and actions, as the example app writes them.
const (
	entityShift     = "Shift"
	entityClinician = "Clinician"
	entitySummary   = "ShiftSummary"
)

// Kinds of audit event; each knows its entity type, action and changes.
const (
	evClinicianCreate uint8 = iota
	evClinicianEdit
	evShiftCreate
	evShiftStatus
	evShiftSwap
	evSummary
)

// Shift statuses and types as small codes, to keep a million shifts small.
var (
	statuses  = []string{clinic.StatusScheduled, clinic.StatusCompleted, clinic.StatusCancelled}
	types     = []string{"DAY", "NIGHT", "WEEKEND", "ON_CALL"}
	hoursOf   = []uint8{8, 10, 12, 4}
	names     = []string{"rota-admin", "scheduler", "m.hughes", "hr-import", "celery@worker-1", "celery@worker-2"}
	firstName = []string{"Amara", "Ben", "Chloe", "Dev", "Elena", "Farid", "Grace", "Hugo", "Ines", "Jonas", "Kemi", "Liam", "Maya", "Nikhil", "Olivia", "Pavel", "Quinn", "Rosa", "Sami", "Tara", "Umar", "Vera", "Wen", "Yusuf", "Zoe"}
	lastName  = []string{"Okafor", "Schmidt", "Nguyen", "Patel", "Rossi", "Haddad", "Kowalski", "Moreau", "Silva", "Andersen", "Mensah", "Byrne", "Tanaka", "Iyer", "Lindqvist"}
)

const (
	stScheduled uint8 = iota
	stCompleted
	stCancelled
)

const (
	byRotaAdmin = 0
	byHRImport  = 3
	byWorker    = 4
)

type clinician struct {
	name, email string
	contracted  int
	active      bool
	created     time.Time
	// worked are the days (since the epoch) of worked shifts, ascending.
	worked []int32
}

type shift struct {
	clinician        int32
	day              int32 // days since the epoch
	typ, hours       uint8
	status           uint8
	createdBy        uint8
	created, updated int64 // unix µs
	// updatedBy < 0 means the clinician (by email), else names[updatedBy].
	updatedBy int8
}

// auditEvent is one audit-log row before it is written; rows are written
// in timestamp order, as an append-only log grows.
type auditEvent struct {
	ts     int64 // unix µs
	entity int64
	kind   uint8
	by     int32 // >= 0: names[by]; < 0: the email of clinician -by
	a, b   int32
}

// generated is the whole data set in memory, compactly.
type generated struct {
	now        time.Time
	months     []clinic.Period
	clinicians []clinician // id = index + 1
	shifts     []shift     // id = index + 1
	events     []auditEvent
	raceGroups int
}

func micros(t time.Time) int64      { return t.UnixMicro() }
func fromMicros(us int64) time.Time { return time.UnixMicro(us).UTC() }
func epochDay(t time.Time) int32    { return int32(t.Unix() / 86400) }
func dayTime(d int32) time.Time     { return time.Unix(int64(d)*86400, 0).UTC() }

// generate makes the data set: clinicians with a rota per month (one shift
// a day at most, mixed types), past shifts completed or cancelled, future
// ones scheduled, an audit row for every write of a shift (created with the
// rota, signed off the morning after, sometimes swapped), the race
// condition's signature (two writes of one shift within a second) a few
// times in the last week, and writes of other entities up to the audit
// log's size. The same size and now give the same data.
func generate(size Size, now time.Time) *generated {
	gen := &generator{rng: rand.New(rand.NewPCG(9, 0xbe7c4)), g: &generated{now: now}, size: size, nowUS: micros(now)}
	g := gen.g
	gen.today = now.Truncate(24 * time.Hour)
	for i := size.Months - 1; i >= 0; i-- {
		g.months = append(g.months, clinic.MonthOf(gen.today.AddDate(0, -i, 1-gen.today.Day())))
	}
	gen.start = g.months[0].From
	gen.todayDay = epochDay(gen.today)
	for c := 1; c <= size.Clinicians; c++ {
		gen.clinician(c)
	}
	gen.shiftEvents()
	gen.races()
	gen.background()
	slices.SortFunc(g.events, func(a, b auditEvent) int {
		return cmp.Or(cmp.Compare(a.ts, b.ts), cmp.Compare(a.entity, b.entity))
	})
	return g
}

// generator makes the data set from one seed: every random choice is drawn
// from rng in one fixed order, so the data set is always the same.
type generator struct {
	rng          *rand.Rand
	g            *generated
	size         Size
	today, start time.Time
	nowUS        int64
	todayDay     int32
}

// at returns a moment on day d between the given hours, never after now.
func (gen *generator) at(d time.Time, fromHour, toHour int) int64 {
	t := micros(d) + int64(fromHour)*3600e6 + gen.rng.Int64N(int64(toHour-fromHour)*3600e6)
	if t >= gen.nowUS {
		t = gen.nowUS - (1+gen.rng.Int64N(3600))*1e6
	}
	return t
}

// clinician makes clinician c and their rota of each month.
func (gen *generator) clinician(c int) {
	rng, g := gen.rng, gen.g
	first, last := firstName[rng.IntN(len(firstName))], lastName[rng.IntN(len(lastName))]
	cl := clinician{
		name:       first + " " + last,
		email:      fmt.Sprintf("%s.%s%d@clinic.example", strings.ToLower(first), strings.ToLower(last), c),
		contracted: 12 + rng.IntN(7),
		active:     c%17 != 0,
	}
	created := gen.at(gen.start.AddDate(0, 0, -30-rng.IntN(400)), 9, 17)
	cl.created = fromMicros(created).Truncate(time.Millisecond)
	g.events = append(g.events, auditEvent{ts: created, entity: int64(c), kind: evClinicianCreate, by: byHRImport, a: int32(cl.contracted)})
	for _, month := range g.months {
		days := month.To.Day()
		n := min(cl.contracted-2+rng.IntN(5), days-4)
		picked := rng.Perm(days)[:n]
		slices.Sort(picked)
		published := gen.at(month.From.AddDate(0, 0, -14-rng.IntN(10)), 9, 17)
		for _, d := range picked {
			gen.shift(c, &cl, month.From.AddDate(0, 0, d), published)
		}
	}
	slices.Sort(cl.worked)
	g.clinicians = append(g.clinicians, cl)
}

// shift makes one shift of clinician c on date, of a rota published at
// published, and what became of it by now.
func (gen *generator) shift(c int, cl *clinician, date time.Time, published int64) {
	rng, nowUS, todayDay := gen.rng, gen.nowUS, gen.todayDay
	day := epochDay(date)
	typ := shiftTypeOf(rng, date)
	s := shift{clinician: int32(c), day: day, typ: typ, hours: hoursOf[typ], createdBy: uint8(rng.IntN(3)),
		created: min(published+rng.Int64N(600e6), nowUS-2*3600e6)}
	if typ == 0 && rng.IntN(10) == 0 {
		s.hours = 6
	}
	switch {
	case day < todayDay && rng.IntN(12) == 0:
		s.status, s.updatedBy = stCancelled, byRotaAdmin
		s.updated = gen.at(dayTime(day-1-int32(rng.IntN(5))), 8, 20)
	case day < todayDay:
		// Signed off by the clinician the morning after.
		s.status, s.updatedBy = stCompleted, -1
		s.updated = gen.at(dayTime(day+1), 7, 11)
	case rng.IntN(25) == 0:
		s.status, s.updatedBy = stCancelled, byRotaAdmin
		s.updated = gen.at(gen.today.AddDate(0, 0, -1-rng.IntN(3)), 8, 20)
	default:
		s.status, s.updated = stScheduled, s.created
	}
	if s.status != stScheduled && s.updated-s.created < 3600e6 {
		// Never two writes of one shift close together in
		// healthy data: that is the race's signature.
		s.updated = s.created + 3600e6 + rng.Int64N(3600e6)
	}
	s.updated = min(s.updated, nowUS-1e6)
	if s.status == stCompleted {
		cl.worked = append(cl.worked, day)
	}
	gen.g.shifts = append(gen.g.shifts, s)
}

// shiftEvents are the audit rows of the shifts' writes; a quarter of the
// shifts are swapped to another clinician and back in the rota, an hour or
// more from any other write.
func (gen *generator) shiftEvents() {
	rng, g, nowUS, size := gen.rng, gen.g, gen.nowUS, gen.size
	for i, s := range g.shifts {
		id := int64(i + 1)
		g.events = append(g.events, auditEvent{ts: s.created, entity: id, kind: evShiftCreate, by: int32(s.createdBy)})
		if s.status != stScheduled {
			by := int32(s.updatedBy)
			if s.updatedBy < 0 {
				by = -s.clinician
			}
			g.events = append(g.events, auditEvent{ts: s.updated, entity: id, kind: evShiftStatus, by: by, a: int32(s.status)})
		}
		// A quarter of the shifts are swapped to another clinician and
		// back in the rota, an hour or more from any other write.
		if rng.IntN(4) == 0 {
			until := min(micros(dayTime(s.day)), nowUS)
			if s.status != stScheduled {
				until = min(until, s.updated)
			}
			if span := until - s.created - 2*3600e6; span > 0 {
				other := 1 + rng.Int32N(int32(size.Clinicians))
				g.events = append(g.events, auditEvent{ts: s.created + 3600e6 + rng.Int64N(span), entity: id, kind: evShiftSwap, by: byRotaAdmin, a: other, b: s.clinician})
			}
		}
	}
}

// races plants the race: a second (and sometimes third) write of a shift
// signed off in the last week, within the same second as the sign-off.
func (gen *generator) races() {
	rng, g, nowUS, size := gen.rng, gen.g, gen.nowUS, gen.size
	weekAgo := nowUS - 7*24*3600e6
	var candidates []int
	for i, s := range g.shifts {
		if s.status == stCompleted && s.updated > weekAgo+3600e6 && s.updated < nowUS-60e6 {
			candidates = append(candidates, i)
		}
	}
	rng.Shuffle(len(candidates), func(i, j int) { candidates[i], candidates[j] = candidates[j], candidates[i] })
	for n, i := range candidates[:min(size.RaceGroups, len(candidates))] {
		s := g.shifts[i]
		secondEnd := (s.updated/1e6+1)*1e6 - 1
		writes := 1 + btoi(n%5 == 0)
		for w := 0; w < writes; w++ {
			ts := s.updated + rng.Int64N(max(secondEnd-s.updated, 1))
			g.events = append(g.events, auditEvent{ts: ts, entity: int64(i + 1), kind: evShiftStatus, by: byRotaAdmin, a: int32(stCancelled)})
		}
		g.raceGroups++
	}
}

// background is everything else the application audits, spread over the
// whole span: nightly summary recalculations and edits of clinicians.
func (gen *generator) background() {
	rng, g, nowUS, size := gen.rng, gen.g, gen.nowUS, gen.size
	summaries := int64(len(g.clinicians) * len(g.months))
	spanStart := micros(gen.start.AddDate(0, 0, -30))
	for len(g.events) < size.AuditRows {
		ts := spanStart + rng.Int64N(nowUS-spanStart)
		if rng.IntN(100) < 85 {
			w := rng.Int32N(20)
			g.events = append(g.events, auditEvent{ts: ts, entity: 1 + rng.Int64N(summaries), kind: evSummary, by: byWorker + rng.Int32N(2), a: w, b: w + rng.Int32N(3) - 1})
		} else {
			c := 12 + rng.Int32N(7)
			g.events = append(g.events, auditEvent{ts: ts, entity: 1 + rng.Int64N(int64(len(g.clinicians))), kind: evClinicianEdit, by: byHRImport, a: c, b: c + 1})
		}
	}
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// shiftTypeOf mixes types the way a rota does: weekends are weekend or
// on-call shifts, weekdays mostly day shifts.
func shiftTypeOf(rng *rand.Rand, d time.Time) uint8 {
	r := rng.IntN(10)
	if wd := d.Weekday(); wd == time.Saturday || wd == time.Sunday {
		if r < 7 {
			return 2
		}
		return 3
	}
	switch {
	case r < 6:
		return 0
	case r < 9:
		return 1
	}
	return 3
}

// row returns the audit-log row of e: entity_type, entity_id, action,
// timestamp, changed_by, changes (JSON).
func (g *generated) row(e auditEvent, buf []byte) []any {
	by := ""
	if e.by < 0 {
		by = g.clinicians[-e.by-1].email
	} else {
		by = names[e.by]
	}
	ts := fromMicros(e.ts)
	buf = buf[:0]
	switch e.kind {
	case evClinicianCreate:
		c := g.clinicians[e.entity-1]
		buf = append(buf, `{"name": `...)
		buf = strconv.AppendQuote(buf, c.name)
		buf = append(buf, `, "contracted_shifts": `...)
		buf = strconv.AppendInt(buf, int64(e.a), 10)
		buf = append(buf, '}')
		return []any{entityClinician, e.entity, "CREATE", ts, by, buf}
	case evClinicianEdit:
		buf = fmt.Appendf(buf, `{"contracted_shifts": [%d, %d]}`, e.a, e.b)
		return []any{entityClinician, e.entity, "UPDATE", ts, by, buf}
	case evShiftCreate:
		s := g.shifts[e.entity-1]
		buf = fmt.Appendf(buf, `{"date": "%s", "type": "%s", "duration": "%d.00", "status": "SCHEDULED", "clinician_id": %d}`,
			dayTime(s.day).Format(time.DateOnly), types[s.typ], s.hours, s.clinician)
		return []any{entityShift, e.entity, "CREATE", ts, by, buf}
	case evShiftStatus:
		buf = fmt.Appendf(buf, `{"status": ["SCHEDULED", "%s"]}`, statuses[e.a])
		return []any{entityShift, e.entity, "UPDATE", ts, by, buf}
	case evShiftSwap:
		buf = fmt.Appendf(buf, `{"clinician_id": [%d, %d]}`, e.a, e.b)
		return []any{entityShift, e.entity, "UPDATE", ts, by, buf}
	default:
		buf = fmt.Appendf(buf, `{"worked_shifts": [%d, %d]}`, e.a, e.b)
		return []any{entitySummary, e.entity, "UPDATE", ts, by, buf}
	}
}

// Build generates the data set and writes it into the sandbox's database
// (db) and Redis (cache: the django-redis db; broker: the Celery db), with
// COPY and pipelines, showing progress on log. The schema is installed as
// Django's migrations make it; the indexes and constraints of config.0002
// and config.0003 are created after the rows are in, as a restore does, and
// recorded as applied.
func Build(ctx context.Context, db *pgx.Conn, cache, broker *redis.Client, size Size, log io.Writer) (*Dataset, error) {
	now := time.Now().UTC().Truncate(time.Millisecond)
	ds := &Dataset{Size: size, Now: now}
	step := func(what string, f func() error) error { return ds.step(log, what, f) }

	var g *generated
	if err := step(fmt.Sprintf("generate %d clinicians × %d months of shifts and %d audit rows", size.Clinicians, size.Months, size.AuditRows), func() error {
		g = generate(size, now)
		return nil
	}); err != nil {
		return nil, err
	}
	ds.count(g)
	if err := ds.loadDB(ctx, db, g, log); err != nil {
		return nil, err
	}
	cfg := config.Default()
	if err := step(fmt.Sprintf("write %d django-redis shift-count keys and %d session keys", size.CacheKeys, size.SessionKeys), func() error {
		ds.cache = g.cacheKeys(&cfg, size)
		ds.StaleKeys = ds.cache.stale
		return ds.cache.load(ctx, cache, log)
	}); err != nil {
		return nil, err
	}
	if err := step(fmt.Sprintf("queue %d Celery messages", size.Queue), func() error {
		_, err := clinic.EnqueueNoise(ctx, broker, &cfg, clinic.NoiseOptions{Tasks: size.Queue, Results: 100})
		return err
	}); err != nil {
		return nil, err
	}
	return ds, nil
}

// step runs one step of the build, saying so in log and timing it.
func (ds *Dataset) step(log io.Writer, what string, f func() error) error {
	fmt.Fprintf(log, "bench: data: %s…\n", what)
	started := time.Now()
	if err := f(); err != nil {
		return fmt.Errorf("build the data set: %s: %w", what, err)
	}
	took := time.Since(started)
	ds.Took = append(ds.Took, Step{What: what, Took: took})
	fmt.Fprintf(log, "bench: data: %s: done in %s\n", what, took.Round(100*time.Millisecond))
	return nil
}

// count records the size of what was generated, and how much of the audit
// trail falls in the last week.
func (ds *Dataset) count(g *generated) {
	ds.Shifts, ds.AuditRows, ds.RaceGroups, ds.Months = len(g.shifts), len(g.events), g.raceGroups, g.months
	ds.Summaries = len(g.clinicians) * len(g.months)
	weekAgo := micros(ds.Now) - 7*24*3600e6
	for _, e := range g.events {
		if e.ts >= weekAgo {
			ds.AuditLastWeek++
			if e.kind >= evShiftCreate && e.kind <= evShiftSwap {
				ds.ShiftWritesLastWeek++
			}
		}
	}
}

// loadDB installs the schema, copies the rows in, then creates the indexes
// and constraints deferred until after the load, and measures the tables.
func (ds *Dataset) loadDB(ctx context.Context, db *pgx.Conn, g *generated, log io.Writer) error {
	step := func(what string, f func() error) error { return ds.step(log, what, f) }
	deferred := []string{"config.0002_auditlog_entity_timestamp_idx", "config.0003_shift_constraints"}
	if err := step("install the schema (Django's migrations, the indexes of config.0002 and config.0003 deferred)", func() error {
		return clinic.Install(ctx, db, clinic.InstallOptions{Skip: deferred})
	}); err != nil {
		return err
	}
	// Rows are consistent by construction; a bulk load skips the
	// per-row foreign-key triggers, as pg_restore does.
	if _, err := db.Exec(ctx, `SET session_replication_role = replica`); err != nil {
		return err
	}
	if err := step(fmt.Sprintf("COPY %d shifts, %d audit rows, %d summaries", len(g.shifts), len(g.events), ds.Summaries), func() error {
		return g.copyAll(ctx, db, log)
	}); err != nil {
		return err
	}
	if _, err := db.Exec(ctx, `RESET session_replication_role`); err != nil {
		return err
	}
	if err := step("create the deferred indexes and constraints (config.0002 audit-log (entity_type, timestamp), config.0003)", func() error {
		return applyDeferred(ctx, db, deferred)
	}); err != nil {
		return err
	}
	if err := step("VACUUM ANALYZE", func() error {
		_, err := db.Exec(ctx, `VACUUM ANALYZE`)
		return err
	}); err != nil {
		return err
	}
	return ds.measureDB(ctx, db)
}

// applyDeferred applies the migrations deferred until after the load, and
// records them as Django would.
func applyDeferred(ctx context.Context, db *pgx.Conn, deferred []string) error {
	if _, err := db.Exec(ctx, `SET maintenance_work_mem = '512MB'`); err != nil {
		return err
	}
	for _, m := range clinic.Migrations {
		if !slices.Contains(deferred, m.Key()) {
			continue
		}
		if _, err := db.Exec(ctx, m.SQL); err != nil {
			return fmt.Errorf("%s: %w", m.Key(), err)
		}
		if err := clinic.Record(ctx, db, m.Key()); err != nil {
			return err
		}
	}
	return nil
}

// copyAll writes every table with COPY, reporting progress every tenth.
func (g *generated) copyAll(ctx context.Context, db *pgx.Conn, log io.Writer) error {
	tx, err := db.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback(context.WithoutCancel(ctx)) //nolint:errcheck // a no-op after Commit

	copyRows := func(table string, columns []string, n int, row func(i int) []any) error {
		started := time.Now()
		i, next := 0, n/10
		src := pgx.CopyFromFunc(func() ([]any, error) {
			if i == n {
				return nil, nil
			}
			r := row(i)
			i++
			if i == next && n >= 100_000 {
				fmt.Fprintf(log, "bench: data:   %s %d/%d rows (%d%%, %s)\n", table, i, n, i*100/n, time.Since(started).Round(time.Second))
				next += n / 10
			}
			return r, nil
		})
		if _, err := tx.CopyFrom(ctx, pgx.Identifier{table}, columns, src); err != nil {
			return fmt.Errorf("COPY %s: %w", table, err)
		}
		return nil
	}
	if err := copyRows("config_clinician", []string{"id", "name", "email", "contracted_shifts", "active", "created_at"}, len(g.clinicians), func(i int) []any {
		c := g.clinicians[i]
		return []any{int64(i + 1), c.name, c.email, c.contracted, c.active, c.created}
	}); err != nil {
		return err
	}
	if err := copyRows("config_shift", []string{"id", "date", "type", "duration", "status", "created_at", "updated_at", "clinician_id"}, len(g.shifts), func(i int) []any {
		s := g.shifts[i]
		return []any{int64(i + 1), dayTime(s.day), types[s.typ], float64(s.hours), statuses[s.status], fromMicros(s.created), fromMicros(s.updated), int64(s.clinician)}
	}); err != nil {
		return err
	}
	var buf []byte
	if err := copyRows("config_auditlog", []string{"entity_type", "entity_id", "action", "timestamp", "changed_by", "changes"}, len(g.events), func(i int) []any {
		r := g.row(g.events[i], buf)
		buf = r[5].([]byte)[:0:0] // each row keeps its own JSON
		return r
	}); err != nil {
		return err
	}
	summaries := make([][]any, 0, len(g.clinicians)*len(g.months))
	for ci, c := range g.clinicians {
		for _, m := range g.months {
			w := countBetween(c.worked, epochDay(m.From), epochDay(m.To))
			computed := micros(m.To.AddDate(0, 0, 1)) + 2*3600e6 + int64(ci%3600)*1e6
			computed = min(computed, micros(g.now)-60e6)
			summaries = append(summaries, []any{m.From, m.To, w, clinic.DeficiencyOf(c.contracted, w), fromMicros(computed), int64(ci + 1)})
		}
	}
	if err := copyRows("calculations_shiftsummary", []string{"period_start", "period_end", "worked_shifts", "deficiency", "computed_at", "clinician_id"}, len(summaries), func(i int) []any {
		return summaries[i]
	}); err != nil {
		return err
	}
	for _, table := range []string{"config_clinician", "config_shift"} {
		if _, err := tx.Exec(ctx, fmt.Sprintf(`SELECT setval(pg_get_serial_sequence('%[1]s', 'id'), (SELECT max(id) FROM %[1]s))`, table)); err != nil {
			return err
		}
	}
	return tx.Commit(ctx)
}

// countBetween counts the days of sorted within [from, to].
func countBetween(sorted []int32, from, to int32) int {
	lo, _ := slices.BinarySearch(sorted, from)
	hi, _ := slices.BinarySearch(sorted, to+1)
	return hi - lo
}

// measureDB reads the database's and each table's size for the report.
func (ds *Dataset) measureDB(ctx context.Context, db *pgx.Conn) error {
	if err := db.QueryRow(ctx, `SELECT pg_database_size(current_database())`).Scan(&ds.DBBytes); err != nil {
		return err
	}
	rows, err := db.Query(ctx, `
SELECT c.relname, c.reltuples::int8, pg_total_relation_size(c.oid)
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = 'public' AND c.relkind = 'r' ORDER BY 3 DESC`)
	if err != nil {
		return err
	}
	ds.Tables, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (TableSize, error) {
		var t TableSize
		err := r.Scan(&t.Name, &t.Rows, &t.Bytes)
		return t, err
	})
	return err
}

// cacheSet is the cache db's content: shift-count keys with their values,
// and session keys the scoped flush must leave alone.
type cacheSet struct {
	keys, values []string
	sessions     []string
	stale        int
}

// sessionTTL is Django's SESSION_COOKIE_AGE (two weeks).
const sessionTTL = 14 * 24 * time.Hour

// sessionValue is a pickled session dict, as django-redis stores it.
const sessionValue = "\x80\x04\x95\x1d\x00\x00\x00\x00\x00\x00\x00}\x94\x8c\r_auth_user_id\x94\x8c\x0242\x94s."

// cacheKeys makes the django-redis keys of the application's cached
// worked-shift counts: for each clinician its monthly counts and counts of
// arbitrary ranges (what the pages asked for), each the count under the
// rule, one in a hundred stale by one (the cache-invalidation cause).
func (g *generated) cacheKeys(cfg *config.Config, size Size) *cacheSet {
	rng := rand.New(rand.NewPCG(11, 0xcac4e))
	cs := &cacheSet{keys: make([]string, 0, size.CacheKeys), values: make([]string, 0, size.CacheKeys)}
	first, last := epochDay(g.months[0].From), epochDay(g.months[len(g.months)-1].To)
	per, extra := size.CacheKeys/len(g.clinicians), size.CacheKeys%len(g.clinicians)
	for ci, c := range g.clinicians {
		want := per + btoi(ci < extra)
		seen := map[[2]int32]bool{}
		add := func(from, to int32) {
			if seen[[2]int32{from, to}] {
				return
			}
			seen[[2]int32{from, to}] = true
			n := countBetween(c.worked, from, to)
			if rng.IntN(100) == 0 {
				n++
				cs.stale++
			}
			cs.keys = append(cs.keys, cfg.Profile.Cache.WorkedKeyOf(int64(ci+1), dayTime(from).Format(time.DateOnly), dayTime(to).Format(time.DateOnly)))
			cs.values = append(cs.values, strconv.Itoa(n))
		}
		for _, m := range g.months {
			if len(seen) < want {
				add(epochDay(m.From), epochDay(m.To))
			}
		}
		for len(seen) < want {
			from := first + rng.Int32N(last-first+1)
			add(from, min(from+rng.Int32N(92), last))
		}
	}
	for i := 0; i < size.SessionKeys; i++ {
		cs.sessions = append(cs.sessions, fmt.Sprintf("%s:%d:django.contrib.sessions.cache%016x%016x", cfg.Profile.Cache.KeyPrefix, cfg.Profile.Cache.Version, rng.Uint64(), rng.Uint64()))
	}
	return cs
}

// load writes every key of the set (MSET in pipelined batches; the
// sessions with their TTL), replacing what is there.
func (cs *cacheSet) load(ctx context.Context, rdb *redis.Client, log io.Writer) error {
	const perMSet, perPipeline = 1000, 50
	pipe := rdb.Pipeline()
	exec := func() error {
		if pipe.Len() == 0 {
			return nil
		}
		_, err := pipe.Exec(ctx)
		return err
	}
	next := len(cs.keys) / 4
	for i := 0; i < len(cs.keys); i += perMSet {
		end := min(i+perMSet, len(cs.keys))
		args := make([]any, 0, 2*(end-i))
		for j := i; j < end; j++ {
			args = append(args, cs.keys[j], cs.values[j])
		}
		pipe.MSet(ctx, args...)
		if pipe.Len() == perPipeline {
			if err := exec(); err != nil {
				return err
			}
		}
		if log != nil && end >= next && len(cs.keys) >= 100_000 {
			fmt.Fprintf(log, "bench: data:   cache keys %d/%d\n", end, len(cs.keys))
			next += len(cs.keys) / 4
		}
	}
	for _, k := range cs.sessions {
		pipe.Set(ctx, k, sessionValue, sessionTTL)
		if pipe.Len() == perPipeline*20 {
			if err := exec(); err != nil {
				return err
			}
		}
	}
	return exec()
}

// Reload writes the cache keys again, as they were built (the flush
// comparison deletes them on every run).
func (ds *Dataset) Reload(ctx context.Context, rdb *redis.Client) error {
	return ds.cache.load(ctx, rdb, nil)
}

// CachePattern is the SCAN pattern of the shift-count keys: steady's
// default profile.cache.patterns, and what an engineer would type.
func CachePattern() string {
	cfg := config.Default()
	return cfg.Profile.Cache.KeyPatterns()[0]
}
