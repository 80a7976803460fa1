package profile

// Example returns the profile of steady's example application
// (examples/clinic, and the schema the drills and tests build): the
// defaults when no profile is given. No other package may know these
// names except test fixtures.
func Example() Profile {
	return Profile{
		Source:  SourceExample,
		Project: "clinicsite.settings",
		Clinician: Clinician{
			Model: "config.Clinician", Table: "config_clinician", ID: "id", Contracted: "contracted_shifts",
		},
		Shift: Shift{
			Model: "config.Shift", Table: "config_shift", ID: "id",
			Clinician: "clinician_id", Date: "date", Type: "type", Duration: "duration", Status: "status",
			Worked: []string{"COMPLETED"}, Cancelled: []string{"CANCELLED"}, PositiveDuration: true,
			Rule: "calculations.shift_counter.ShiftCounter().count_worked_shifts",
		},
		Audit: Audit{
			Kind: AuditLog, Model: "config.AuditLog", Table: "config_auditlog",
			EntityType: "entity_type", Entity: "Shift", EntityID: "entity_id",
			Action: "action", Actions: AuditActions{Create: "CREATE", Update: "UPDATE", Delete: "DELETE"},
			Timestamp: "timestamp", Actor: "changed_by", Changes: "changes", Shape: ShapeDiff,
		},
		Summary: Summary{
			Model: "calculations.ShiftSummary", Table: "calculations_shiftsummary", ID: "id",
			Clinician: "clinician_id", PeriodStart: "period_start", PeriodEnd: "period_end",
			Worked: "worked_shifts", Deficiency: "deficiency",
		},
		Constraints: []Constraint{
			{Role: RoleShift, Model: "config.Shift", Table: "config_shift", Name: "config_shift_duration_positive", Kind: Check,
				Columns: []string{"duration"}, Check: `"duration" > 0`, Migration: "config.0003_shift_constraints"},
			{Role: RoleShift, Model: "config.Shift", Table: "config_shift", Name: "config_shift_unique_clinician_date_type", Kind: Unique,
				Columns: []string{"clinician_id", "date", "type"}, Migration: "config.0003_shift_constraints"},
			{Role: RoleSummary, Model: "calculations.ShiftSummary", Table: "calculations_shiftsummary", Name: "calculations_shiftsummary_unique_period", Kind: Unique,
				Columns: []string{"clinician_id", "period_start", "period_end"}, Migration: "calculations.0001_initial"},
		},
		Cache: Cache{
			Backend: "django_redis.cache.RedisCache", DB: 1, Version: 1,
			WorkedKey: "shiftcount:{clinician}:{from}:{to}",
		},
		Celery: Celery{
			App: "clinicsite", Queue: "celery",
			Recalculate: Task{Name: "calculations.tasks.recalculate_clinician", Params: []string{"clinician_id", "start_date", "end_date"}},
		},
		Calculator: Calculator{
			Import: "calculations.shift_counter", Call: "calculations.shift_counter.ShiftCounter().count_worked_shifts", Clinician: PassModel,
		},
	}
}
