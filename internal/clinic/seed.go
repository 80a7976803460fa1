package clinic

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// SeedOptions tunes Seed. The zero value gives 40 clinicians over the three
// calendar months up to now.
type SeedOptions struct {
	// Clinicians is how many clinicians to create (default 40).
	Clinicians int
	// Months is how many calendar months of shifts, ending with the month
	// of Now (default 3).
	Months int
	// Seed makes the data reproducible: the same Seed and Now give the
	// same rows (default 1).
	Seed int64
	// Now is the moment the data is "as of": shifts before its day are
	// worked or cancelled, later ones scheduled, and no timestamp is after
	// it (default time.Now()).
	Now time.Time
}

// Dataset describes what Seed wrote, for tests and faults to aim at.
type Dataset struct {
	Now        time.Time
	Clinicians []int64
	// Months are the calendar months seeded, oldest first; the last one
	// holds Now and is partly scheduled.
	Months    []Period
	Shifts    int
	AuditRows int
	Summaries int
}

type shiftRow struct {
	id         int64
	clinician  int64
	date       time.Time
	typ        string
	duration   float64
	status     string
	created    time.Time
	updated    time.Time
	updatedBy  string
	createdBy  string
	contracted int
}

var (
	firstNames = []string{"Amara", "Ben", "Chloe", "Dev", "Elena", "Farid", "Grace", "Hugo", "Ines", "Jonas", "Kemi", "Liam", "Maya", "Nikhil", "Olivia", "Pavel", "Quinn", "Rosa", "Sami", "Tara", "Umar", "Vera", "Wen", "Yusuf", "Zoe"}
	lastNames  = []string{"Okafor", "Schmidt", "Nguyen", "Patel", "Rossi", "Haddad", "Kowalski", "Moreau", "Silva", "Andersen", "Mensah", "Byrne", "Tanaka", "Iyer", "Lindqvist"}
	durations  = map[string]float64{"DAY": 8, "NIGHT": 10, "WEEKEND": 12, "ON_CALL": 4}
	schedulers = []string{"rota-admin", "scheduler", "m.hughes"}
)

// Seed fills an installed, empty database with a realistic, reproducible
// data set: clinicians with contracted shifts per month; for each month a
// few more or fewer shifts than contracted, one per day, of mixed types and
// durations; past shifts completed or (about one in twelve) cancelled,
// future ones scheduled; an audit-log row for every create and update with
// timestamps days apart, so healthy data has no two writes of one entity in
// the same second; and a correct summary per clinician and month under the
// worked-shift rule. Rows go in with COPY.
func Seed(ctx context.Context, db DB, opts SeedOptions) (*Dataset, error) {
	if opts.Clinicians <= 0 {
		opts.Clinicians = 40
	}
	if opts.Months <= 0 {
		opts.Months = 3
	}
	if opts.Seed == 0 {
		opts.Seed = 1
	}
	if opts.Now.IsZero() {
		opts.Now = time.Now()
	}
	now := opts.Now.UTC()
	s := &seeder{now: now, today: time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, time.UTC),
		rng: rand.New(rand.NewPCG(uint64(opts.Seed), 0x5eed)), ds: &Dataset{Now: now}}
	for i := opts.Months - 1; i >= 0; i-- {
		s.ds.Months = append(s.ds.Months, MonthOf(s.today.AddDate(0, -i, 1-s.today.Day())))
	}
	s.start = s.ds.Months[0].From
	for c := 1; c <= opts.Clinicians; c++ {
		s.clinician(c)
	}
	shiftRows, worked := s.shiftRows()
	summaryRows := s.summaryRows(worked)
	err := copySeed(ctx, db, []seedCopy{
		{"config_clinician", []string{"id", "name", "email", "contracted_shifts", "active", "created_at"}, s.clinicianRows},
		{"config_shift", []string{"id", "date", "type", "duration", "status", "created_at", "updated_at", "clinician_id"}, shiftRows},
		{"config_auditlog", []string{"entity_type", "entity_id", "action", "timestamp", "changed_by", "changes"}, s.auditRows},
		{"calculations_shiftsummary", []string{"period_start", "period_end", "worked_shifts", "deficiency", "computed_at", "clinician_id"}, summaryRows},
	})
	if err != nil {
		return nil, err
	}
	s.ds.Shifts, s.ds.AuditRows, s.ds.Summaries = len(shiftRows), len(s.auditRows), len(summaryRows)
	return s.ds, nil
}

// seeder makes a clinic's rows from one seed: every random choice is drawn
// from rng in one fixed order, so a seed always makes the same clinic.
type seeder struct {
	rng                      *rand.Rand
	now, today, start        time.Time
	ds                       *Dataset
	clinicianRows, auditRows [][]any
	shifts                   []shiftRow
	shiftID                  int64
}

// at returns a moment on day d between the given hours, with milliseconds,
// never after now.
func (s *seeder) at(d time.Time, fromHour, toHour int) time.Time {
	t := d.Add(time.Duration(fromHour)*time.Hour + time.Duration(s.rng.Int64N(int64(toHour-fromHour)*int64(time.Hour)/int64(time.Millisecond)))*time.Millisecond)
	if t.After(s.now) {
		t = s.now.Add(-time.Duration(1+s.rng.IntN(3600)) * time.Second)
	}
	return t
}

// clinician makes clinician c, hired by an import, and their rota of each
// month.
func (s *seeder) clinician(c int) {
	rng := s.rng
	id := int64(c)
	s.ds.Clinicians = append(s.ds.Clinicians, id)
	first, last := firstNames[rng.IntN(len(firstNames))], lastNames[rng.IntN(len(lastNames))]
	name := first + " " + last
	email := fmt.Sprintf("%s.%s%d@clinic.example", strings.ToLower(first), strings.ToLower(last), c)
	contracted := 12 + rng.IntN(7)
	created := s.at(s.start.AddDate(0, 0, -30-rng.IntN(400)), 9, 17)
	s.clinicianRows = append(s.clinicianRows, []any{id, name, email, contracted, c%17 != 0, created})
	s.auditRows = append(s.auditRows, []any{"Clinician", id, "CREATE", created, "hr-import", map[string]any{"name": name, "contracted_shifts": contracted}})
	for _, month := range s.ds.Months {
		days := month.To.Day()
		n := contracted - 2 + rng.IntN(5)
		if n > days-4 {
			n = days - 4
		}
		picked := rng.Perm(days)[:n]
		// Shifts are made and listed in date order, as a rota is.
		slices.Sort(picked)
		published := s.at(month.From.AddDate(0, 0, -14-rng.IntN(10)), 9, 17)
		for _, day := range picked {
			s.shift(id, email, contracted, month.From.AddDate(0, 0, day), published)
		}
	}
}

// shift makes one shift of a rota published at published, and what became
// of it by now.
func (s *seeder) shift(clinician int64, email string, contracted int, date, published time.Time) {
	rng, today := s.rng, s.today
	typ := shiftType(rng, date)
	dur := durations[typ]
	if typ == "DAY" && rng.IntN(10) == 0 {
		dur = 6
	}
	s.shiftID++
	r := shiftRow{id: s.shiftID, clinician: clinician, date: date, typ: typ, duration: dur, contracted: contracted,
		createdBy: schedulers[rng.IntN(len(schedulers))]}
	// The rota is published a couple of weeks ahead; each row is
	// written a little apart from the others.
	r.created = published.Add(time.Duration(rng.IntN(600_000)) * time.Millisecond)
	switch {
	case date.Before(today) && rng.IntN(12) == 0:
		r.status = StatusCancelled
		r.updated = s.at(r.created.Add(24*time.Hour).Truncate(24*time.Hour), 8, 20)
		if !r.updated.Before(date) {
			r.updated = s.at(date.AddDate(0, 0, -1), 8, 20)
		}
		r.updatedBy = "rota-admin"
	case date.Before(today):
		r.status = StatusCompleted
		// Signed off the morning after the shift.
		r.updated = s.at(date.AddDate(0, 0, 1), 7, 11)
		r.updatedBy = email
	case rng.IntN(25) == 0:
		r.status = StatusCancelled
		r.updated = s.at(today.AddDate(0, 0, -1-rng.IntN(3)), 8, 20)
		r.updatedBy = "rota-admin"
	default:
		r.status = StatusScheduled
		r.updated = r.created
	}
	if r.updated.Sub(r.created) < time.Hour && r.status != StatusScheduled {
		// Never two writes of one shift close together in
		// healthy data: that is the race-condition signature.
		r.updated = r.created.Add(time.Hour + time.Duration(rng.IntN(3600))*time.Second)
	}
	s.shifts = append(s.shifts, r)
}

// shiftRows are the shifts' rows and their audit rows; worked counts the
// worked shifts of each clinician and month index.
func (s *seeder) shiftRows() (rows [][]any, worked map[[2]int64]int) {
	worked = map[[2]int64]int{}
	monthIndex := func(d time.Time) int64 {
		return int64((d.Year()-s.start.Year())*12 + int(d.Month()) - int(s.start.Month()))
	}
	for _, r := range s.shifts {
		rows = append(rows, []any{r.id, r.date, r.typ, r.duration, r.status, r.created, r.updated, r.clinician})
		s.auditRows = append(s.auditRows, []any{"Shift", r.id, "CREATE", r.created, r.createdBy, map[string]any{
			"date": r.date.Format(time.DateOnly), "type": r.typ, "duration": fmt.Sprintf("%.2f", r.duration), "status": StatusScheduled, "clinician_id": r.clinician,
		}})
		if r.status != StatusScheduled {
			s.auditRows = append(s.auditRows, []any{"Shift", r.id, "UPDATE", r.updated, r.updatedBy, map[string]any{"status": []string{StatusScheduled, r.status}}})
		}
		if r.status == StatusCompleted && r.duration > 0 {
			worked[[2]int64{r.clinician, monthIndex(r.date)}]++
		}
	}
	return rows, worked
}

// summaryRows are the monthly summaries, computed right after each month
// ended and all correct.
func (s *seeder) summaryRows(worked map[[2]int64]int) [][]any {
	contracted := map[int64]int{}
	for _, r := range s.clinicianRows {
		contracted[r[0].(int64)] = r[3].(int)
	}
	var rows [][]any
	for _, c := range s.ds.Clinicians {
		for mi, month := range s.ds.Months {
			w := worked[[2]int64{c, int64(mi)}]
			computed := month.To.AddDate(0, 0, 1).Add(2*time.Hour + time.Duration(s.rng.IntN(3600))*time.Second)
			if computed.After(s.now) {
				computed = s.now.Add(-time.Duration(60+s.rng.IntN(3600)) * time.Second)
			}
			rows = append(rows, []any{month.From, month.To, w, DeficiencyOf(contracted[c], w), computed, c})
		}
	}
	return rows
}

// seedCopy is the rows of one table, for COPY.
type seedCopy struct {
	table   string
	columns []string
	rows    [][]any
}

// copySeed copies the rows in one transaction, then moves the identity
// sequences past the ids given, so rows inserted later (by faults, or an
// application) get fresh ids.
func copySeed(ctx context.Context, db DB, copies []seedCopy) error {
	tx, err := db.Begin(ctx)
	if err != nil {
		return fmt.Errorf("seed: begin: %w", err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx)) //nolint:errcheck // a no-op after Commit
	for _, c := range copies {
		if _, err := tx.CopyFrom(ctx, pgx.Identifier{c.table}, c.columns, pgx.CopyFromRows(c.rows)); err != nil {
			return fmt.Errorf("seed: copy into %s: %w (was the schema installed with clinic.Install?)", c.table, err)
		}
	}
	for _, table := range []string{"config_clinician", "config_shift"} {
		if _, err := tx.Exec(ctx, fmt.Sprintf(`SELECT setval(pg_get_serial_sequence('%[1]s', 'id'), (SELECT max(id) FROM %[1]s))`, table)); err != nil {
			return fmt.Errorf("seed: advance the id sequence of %s: %w", table, err)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("seed: commit: %w", err)
	}
	return nil
}

// shiftType picks a shift type the way a rota mixes them: weekends are
// weekend or on-call shifts, weekdays mostly day shifts.
func shiftType(rng *rand.Rand, d time.Time) string {
	r := rng.IntN(10)
	if wd := d.Weekday(); wd == time.Saturday || wd == time.Sunday {
		if r < 7 {
			return "WEEKEND"
		}
		return "ON_CALL"
	}
	switch {
	case r < 6:
		return "DAY"
	case r < 9:
		return "NIGHT"
	}
	return "ON_CALL"
}
