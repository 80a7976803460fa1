package django

import (
	"reflect"
	"testing"
)

func TestParsePlan(t *testing.T) {
	type row struct {
		key     string
		applied bool
	}
	tests := []struct {
		name    string
		out     string
		want    []row
		wantErr bool
	}{
		{
			name: "Django 3.2 output",
			out: "[X]  contenttypes.0001_initial\n[X]  config.0001_initial\n[X]  config.0002_auditlog_entity_timestamp_idx\n" +
				"[ ]  config.0003_shift_constraints\n[X]  calculations.0001_initial\n",
			want: []row{
				{"contenttypes.0001_initial", true}, {"config.0001_initial", true},
				{"config.0002_auditlog_entity_timestamp_idx", true}, {"config.0003_shift_constraints", false},
				{"calculations.0001_initial", true},
			},
		},
		{
			name: "verbosity 2, colours, CRLF and noise from docker compose",
			out: "time=\"2026-02-21\" level=warning msg=\"version is obsolete\"\r\n" +
				"\x1b[32;1m[X]  config.0001_initial\x1b[0m\r\n" +
				"[ ]  config.0002_auditlog_entity_timestamp_idx ... (config.0001_initial)\r\n",
			want: []row{{"config.0001_initial", true}, {"config.0002_auditlog_entity_timestamp_idx", false}},
		},
		{name: "no migrations at all", out: "(no migrations)\n", wantErr: true},
		{name: "a traceback", out: "Traceback (most recent call last):\n  File \"manage.py\", line 22\n", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			states, err := ParsePlan(tt.out)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tt.wantErr)
			}
			var got []row
			for _, s := range states {
				got = append(got, row{s.Key.String(), s.Applied})
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("ParsePlan = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestParseList(t *testing.T) {
	type row struct {
		key      string
		applied  bool
		squashed int
	}
	tests := []struct {
		name    string
		out     string
		want    []row
		wantErr bool
	}{
		{
			name: "plain output with a squashed migration and an app without migrations",
			out: "admin\n [X] 0001_initial\ncalculations\n [X] 0001_initial\nconfig\n" +
				" [X] 0001_squashed_0003_shift_constraints (3 squashed migrations)\n [ ] 0004_shift_notes\nsessions\n (no migrations)\n",
			want: []row{
				{"admin.0001_initial", true, 0}, {"calculations.0001_initial", true, 0},
				{"config.0001_squashed_0003_shift_constraints", true, 3}, {"config.0004_shift_notes", false, 0},
			},
		},
		{
			name: "verbosity 2 adds applied at",
			out:  "config\n [X] 0001_initial (applied at 2026-02-21 10:00:00)\n [ ] 0002_auditlog_entity_timestamp_idx\n",
			want: []row{{"config.0001_initial", true, 0}, {"config.0002_auditlog_entity_timestamp_idx", false, 0}},
		},
		{name: "migration before an app", out: " [X] 0001_initial\n", wantErr: true},
		{name: "empty", out: "", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			states, err := ParseList(tt.out)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tt.wantErr)
			}
			var got []row
			for _, s := range states {
				got = append(got, row{s.Key.String(), s.Applied, len(s.Replaces)})
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("ParseList = %v, want %v", got, tt.want)
			}
		})
	}
}
