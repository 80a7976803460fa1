// Package clinic is the application the built-in runbook was written for,
// as a database: the schema its
// Django migrations create (apps `config` and `calculations`), the rule by
// which worked shifts are counted, realistic data, and the faults of the
// runbook's root causes. Tests, drills and benchmarks build on it; the
// example Django app under examples/ creates the same schema.
package clinic

// Migration is one Django migration of the application, with the SQL that
// `manage.py sqlmigrate` prints for it on PostgreSQL.
type Migration struct {
	App  string
	Name string
	// Replaces lists squashed migrations ("app.name"); empty otherwise.
	Replaces []string
	SQL      string
}

// Key returns "app.name".
func (m Migration) Key() string { return m.App + "." + m.Name }

// DjangoMigrationsDDL creates the table in which Django records applied
// migrations.
const DjangoMigrationsDDL = `
CREATE TABLE "django_migrations" ("id" bigserial NOT NULL PRIMARY KEY, "app" varchar(255) NOT NULL, "name" varchar(255) NOT NULL, "applied" timestamp with time zone NOT NULL);`

// Migrations are the application's migrations in dependency order.
//
// The worked-shift rule: a shift counts as worked when its status is
// COMPLETED and its duration is positive; CANCELLED and SCHEDULED shifts
// never count. Migration config.0003 makes the database enforce positive
// durations and one shift per clinician, date and type.
var Migrations = []Migration{
	{App: "config", Name: "0001_initial", SQL: `
CREATE TABLE "config_clinician" ("id" bigserial NOT NULL PRIMARY KEY, "name" varchar(100) NOT NULL, "email" varchar(254) NOT NULL, "contracted_shifts" integer NOT NULL CHECK ("contracted_shifts" >= 0), "active" boolean NOT NULL, "created_at" timestamp with time zone NOT NULL);
CREATE TABLE "config_shift" ("id" bigserial NOT NULL PRIMARY KEY, "date" date NOT NULL, "type" varchar(20) NOT NULL, "duration" numeric(5, 2) NOT NULL, "status" varchar(20) NOT NULL, "created_at" timestamp with time zone NOT NULL, "updated_at" timestamp with time zone NOT NULL, "clinician_id" bigint NOT NULL);
CREATE TABLE "config_auditlog" ("id" bigserial NOT NULL PRIMARY KEY, "entity_type" varchar(50) NOT NULL, "entity_id" bigint NOT NULL, "action" varchar(10) NOT NULL, "timestamp" timestamp with time zone NOT NULL, "changed_by" varchar(150) NOT NULL, "changes" jsonb NOT NULL);
ALTER TABLE "config_shift" ADD CONSTRAINT "config_shift_clinician_id_1cd39736_fk_config_clinician_id" FOREIGN KEY ("clinician_id") REFERENCES "config_clinician" ("id") DEFERRABLE INITIALLY DEFERRED;
CREATE INDEX "config_shift_clinician_id_1cd39736" ON "config_shift" ("clinician_id");`},
	{App: "config", Name: "0002_auditlog_entity_timestamp_idx", SQL: `
CREATE INDEX "config_auditlog_entity_ts_idx" ON "config_auditlog" ("entity_type", "timestamp");
CREATE INDEX "config_auditlog_entity_id_idx" ON "config_auditlog" ("entity_id");`},
	{App: "config", Name: "0003_shift_constraints", SQL: `
ALTER TABLE "config_shift" ADD CONSTRAINT "config_shift_duration_positive" CHECK ("duration" > 0);
ALTER TABLE "config_shift" ADD CONSTRAINT "config_shift_unique_clinician_date_type" UNIQUE ("clinician_id", "date", "type");`},
	{App: "calculations", Name: "0001_initial", SQL: `
CREATE TABLE "calculations_shiftsummary" ("id" bigserial NOT NULL PRIMARY KEY, "period_start" date NOT NULL, "period_end" date NOT NULL, "worked_shifts" integer NOT NULL, "deficiency" integer NOT NULL, "computed_at" timestamp with time zone NOT NULL, "clinician_id" bigint NOT NULL);
ALTER TABLE "calculations_shiftsummary" ADD CONSTRAINT "calculations_shiftsummary_unique_period" UNIQUE ("clinician_id", "period_start", "period_end");
ALTER TABLE "calculations_shiftsummary" ADD CONSTRAINT "calculations_shiftsu_clinician_id_701c79f8_fk_config_cl" FOREIGN KEY ("clinician_id") REFERENCES "config_clinician" ("id") DEFERRABLE INITIALLY DEFERRED;
CREATE INDEX "calculations_shiftsummary_clinician_id_701c79f8" ON "calculations_shiftsummary" ("clinician_id");`},
}

// Shift statuses and types.
const (
	StatusScheduled = "SCHEDULED"
	StatusCompleted = "COMPLETED"
	StatusCancelled = "CANCELLED"
)

// ShiftTypes are the kinds of shift the application schedules.
var ShiftTypes = []string{"DAY", "NIGHT", "WEEKEND", "ON_CALL"}

// WorkedShiftsSQL counts the worked shifts of clinician $1 between $2 and
// $3 inclusive under the application's rule; %s is the shift table.
const WorkedShiftsSQL = `SELECT count(*) FROM %s WHERE clinician_id = $1 AND date BETWEEN $2 AND $3 AND status = 'COMPLETED' AND duration > 0`

// DeficiencyOf is the deficiency of a calendar month under the rule:
// contracted shifts not worked, never negative.
func DeficiencyOf(contracted, worked int) int {
	if worked >= contracted {
		return 0
	}
	return contracted - worked
}
