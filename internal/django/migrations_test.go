package django

import (
	"reflect"
	"strings"
	"testing"
)

func keys(ss ...string) []Key {
	var out []Key
	for _, s := range ss {
		k, err := ParseKey(s)
		if err != nil {
			panic(err)
		}
		out = append(out, k)
	}
	return out
}

func TestParseMigration(t *testing.T) {
	tests := []struct {
		name     string
		src      string
		replaces []Key
		deps     []Key
	}{
		{
			name: "initial migration without dependencies",
			src: `from django.db import migrations, models

class Migration(migrations.Migration):
    initial = True

    dependencies = [
    ]

    operations = []
`,
		},
		{
			name: "double quotes on one line",
			src: `class Migration(migrations.Migration):
    dependencies = [("config", "0002_auditlog_entity_timestamp_idx")]
`,
			deps: keys("config.0002_auditlog_entity_timestamp_idx"),
		},
		{
			name: "single quotes over several lines with a trailing comma and a swappable dependency",
			src: `from django.conf import settings

class Migration(migrations.Migration):

    dependencies = [
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
        ('config', '0001_initial'),
        (
            'auth',
            '0012_alter_user_first_name_max_length',
        ),
    ]
`,
			deps: keys("config.0001_initial", "auth.0012_alter_user_first_name_max_length"),
		},
		{
			name: "squashed migration with replaces, comments and brackets in strings",
			src: `class Migration(migrations.Migration):

    replaces = [
        ("config", "0001_initial"),  # the first one ]
        ('config', "0002_auditlog_entity_timestamp_idx"),
        ("config", "0003_shift_constraints"),
    ]

    dependencies = []

    operations = [
        migrations.RunSQL("SELECT '[(' "),
    ]
`,
			replaces: keys("config.0001_initial", "config.0002_auditlog_entity_timestamp_idx", "config.0003_shift_constraints"),
		},
		{
			name: "replaces written as a tuple",
			src: `class Migration(migrations.Migration):
    replaces = (("calculations", "0001_initial"), ("calculations", "0002_x"))
    dependencies = (("config", "0003_shift_constraints"),)
`,
			replaces: keys("calculations.0001_initial", "calculations.0002_x"),
			deps:     keys("config.0003_shift_constraints"),
		},
		{
			name: "names mentioned only in operations are not dependencies",
			src: `class Migration(migrations.Migration):
    operations = [migrations.RunPython(lambda a, s: None, hints={"x": ("a", "b")})]
`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := ParseMigration("config", "0009_x", []byte(tt.src))
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(m.Replaces, tt.replaces) {
				t.Errorf("replaces = %v, want %v", m.Replaces, tt.replaces)
			}
			if !reflect.DeepEqual(m.Dependencies, tt.deps) {
				t.Errorf("dependencies = %v, want %v", m.Dependencies, tt.deps)
			}
		})
	}
}

func TestParseMigrationUnclosedList(t *testing.T) {
	_, err := ParseMigration("config", "0009_x", []byte("replaces = [\n  ('config', '0001_initial'),\n"))
	if err == nil || !strings.Contains(err.Error(), "never closed") {
		t.Fatalf("err = %v, want an unclosed-list error", err)
	}
}

func TestParseKey(t *testing.T) {
	for _, bad := range []string{"", "config", ".0001", "config."} {
		if _, err := ParseKey(bad); err == nil {
			t.Errorf("ParseKey(%q) succeeded", bad)
		}
	}
	k, err := ParseKey(" config.0003_shift_constraints ")
	if err != nil || k != (Key{"config", "0003_shift_constraints"}) || k.String() != "config.0003_shift_constraints" {
		t.Errorf("ParseKey = %v, %v", k, err)
	}
}

// The clinic application, with config's first three migrations squashed and the
// replaced files still present (the transition period Django recommends).
var (
	plain = []Migration{
		{Key: Key{"config", "0001_initial"}},
		{Key: Key{"config", "0002_auditlog_entity_timestamp_idx"}, Dependencies: keys("config.0001_initial")},
		{Key: Key{"config", "0003_shift_constraints"}, Dependencies: keys("config.0002_auditlog_entity_timestamp_idx")},
		{Key: Key{"calculations", "0001_initial"}, Dependencies: keys("config.0001_initial")},
	}
	squash = Migration{
		Key:      Key{"config", "0001_squashed_0003_shift_constraints"},
		Replaces: keys("config.0001_initial", "config.0002_auditlog_entity_timestamp_idx", "config.0003_shift_constraints"),
	}
	withSquash = append(append([]Migration{}, plain...), squash)
	// After the transition the replaced files are deleted.
	squashOnly = []Migration{squash, plain[3]}
)

func TestStatus(t *testing.T) {
	type row struct {
		key     string
		applied bool
	}
	tests := []struct {
		name       string
		migrations []Migration
		recorded   []Key
		want       []row
	}{
		{
			name:       "everything recorded",
			migrations: plain,
			recorded:   keys("config.0001_initial", "config.0002_auditlog_entity_timestamp_idx", "config.0003_shift_constraints", "calculations.0001_initial"),
			// Django's plan order: dependencies first, then app and name.
			want: []row{
				{"config.0001_initial", true}, {"calculations.0001_initial", true},
				{"config.0002_auditlog_entity_timestamp_idx", true}, {"config.0003_shift_constraints", true},
			},
		},
		{
			name:       "one unapplied, in dependency order",
			migrations: plain,
			recorded:   keys("config.0001_initial", "config.0002_auditlog_entity_timestamp_idx", "calculations.0001_initial", "admin.0001_initial"),
			want: []row{
				{"config.0001_initial", true}, {"calculations.0001_initial", true},
				{"config.0002_auditlog_entity_timestamp_idx", true}, {"config.0003_shift_constraints", false},
			},
		},
		{
			name:       "squashed before its own row exists: applied because every replaced one is",
			migrations: withSquash,
			recorded:   keys("config.0001_initial", "config.0002_auditlog_entity_timestamp_idx", "config.0003_shift_constraints", "calculations.0001_initial"),
			want:       []row{{"config.0001_squashed_0003_shift_constraints", true}, {"calculations.0001_initial", true}},
		},
		{
			name:       "squashed after its own row exists (fresh install records all)",
			migrations: withSquash,
			recorded:   keys("config.0001_initial", "config.0002_auditlog_entity_timestamp_idx", "config.0003_shift_constraints", "config.0001_squashed_0003_shift_constraints", "calculations.0001_initial"),
			want:       []row{{"config.0001_squashed_0003_shift_constraints", true}, {"calculations.0001_initial", true}},
		},
		{
			name:       "squashed with only its own row: the replaced ones count as applied",
			migrations: withSquash,
			recorded:   keys("config.0001_squashed_0003_shift_constraints", "calculations.0001_initial"),
			want:       []row{{"config.0001_squashed_0003_shift_constraints", true}, {"calculations.0001_initial", true}},
		},
		{
			name:       "squashed, partly applied: the replaced ones are shown instead",
			migrations: withSquash,
			recorded:   keys("config.0001_initial", "config.0002_auditlog_entity_timestamp_idx", "calculations.0001_initial"),
			want: []row{
				{"config.0001_initial", true}, {"calculations.0001_initial", true},
				{"config.0002_auditlog_entity_timestamp_idx", true}, {"config.0003_shift_constraints", false},
			},
		},
		{
			name:       "squashed, nothing applied: applied as one",
			migrations: withSquash,
			recorded:   nil,
			want:       []row{{"config.0001_squashed_0003_shift_constraints", false}, {"calculations.0001_initial", false}},
		},
		{
			name:       "replaced files deleted, old database",
			migrations: squashOnly,
			recorded:   keys("config.0001_initial", "config.0002_auditlog_entity_timestamp_idx", "config.0003_shift_constraints", "calculations.0001_initial"),
			want:       []row{{"config.0001_squashed_0003_shift_constraints", true}, {"calculations.0001_initial", true}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []row
			for _, s := range Status(tt.migrations, tt.recorded) {
				got = append(got, row{s.Key.String(), s.Applied})
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Status =\n%v\nwant\n%v", got, tt.want)
			}
		})
	}
}

func TestStatusOrdersByDependencies(t *testing.T) {
	ms := []Migration{
		{Key: Key{"accounts", "0001_initial"}, Dependencies: keys("zeta.0001_initial")},
		{Key: Key{"zeta", "0001_initial"}},
		{Key: Key{"accounts", "0002_more"}},
	}
	var got []string
	for _, s := range Status(ms, nil) {
		got = append(got, s.Key.String())
	}
	want := []string{"zeta.0001_initial", "accounts.0001_initial", "accounts.0002_more"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("order = %v, want %v", got, want)
	}
}

func TestUnapplied(t *testing.T) {
	got := Unapplied(Status(plain, keys("config.0001_initial", "config.0002_auditlog_entity_timestamp_idx")))
	var names []string
	for _, s := range got {
		names = append(names, s.Key.String())
	}
	want := []string{"calculations.0001_initial", "config.0003_shift_constraints"}
	if !reflect.DeepEqual(names, want) {
		t.Errorf("Unapplied = %v, want %v", names, want)
	}
}

func TestStaleRows(t *testing.T) {
	tests := []struct {
		name       string
		migrations []Migration
		recorded   []Key
		want       []Key
	}{
		{"none", plain, keys("config.0001_initial"), nil},
		{"contrib apps are not judged", plain, keys("admin.0001_initial", "auth.0012_x"), nil},
		{"a deleted file", plain, keys("config.0001_initial", "config.0004_removed", "config.0004_removed"), keys("config.0004_removed")},
		{"replaced files deleted after a squash are accounted for", squashOnly, keys("config.0001_initial", "config.0003_shift_constraints"), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := StaleRows(tt.migrations, tt.recorded); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("StaleRows = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestFromList(t *testing.T) {
	got := FromList(map[string][]string{"config": {"0002_b", "0001_a"}, "calculations": {"0001_initial"}})
	var names []string
	for _, m := range got {
		names = append(names, m.Key.String())
	}
	want := []string{"calculations.0001_initial", "config.0001_a", "config.0002_b"}
	if !reflect.DeepEqual(names, want) {
		t.Errorf("FromList = %v, want %v", names, want)
	}
}

func TestMigrateLockKeySpellsSteady(t *testing.T) {
	var b []byte
	for i := 7; i >= 0; i-- {
		b = append(b, byte(MigrateLockKey>>(8*i)))
	}
	if string(b) != "steady:m" {
		t.Errorf("MigrateLockKey bytes = %q", b)
	}
}
