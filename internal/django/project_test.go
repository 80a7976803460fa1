package django

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// writeTree creates files (path → content) under a temp dir.
func writeTree(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for path, content := range files {
		full := filepath.Join(dir, filepath.FromSlash(path))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestReadProject(t *testing.T) {
	dir := writeTree(t, map[string]string{
		"manage.py":                            "",
		"config/migrations/__init__.py":        "",
		"config/migrations/0001_initial.py":    "dependencies = []\n",
		"config/migrations/0002_idx.py":        "dependencies = [('config', '0001_initial')]\n",
		"config/migrations/~0003_backup.py":    "",
		"config/migrations/_helpers.py":        "",
		"config/migrations/README.txt":         "",
		"apps/calc/apps.py":                    "class CalcConfig(AppConfig):\n    name = 'apps.calc'\n    label = \"calculations\"\n",
		"apps/calc/migrations/__init__.py":     "",
		"apps/calc/migrations/0001_initial.py": "dependencies = [\n    (\"config\", \"0001_initial\"),\n]\n",
		// Not the project's: a virtualenv under any name, installed
		// packages, hidden directories and front-end dependencies.
		"venv/lib/python3.11/site-packages/django/contrib/admin/migrations/__init__.py":     "",
		"venv/lib/python3.11/site-packages/django/contrib/admin/migrations/0001_initial.py": "",
		".tox/py/lib/x/migrations/__init__.py":                                              "",
		".tox/py/lib/x/migrations/0001_initial.py":                                          "",
		"pyenv311/pyvenv.cfg":                                "home = /usr/bin\n",
		"pyenv311/lib/y/migrations/__init__.py":              "",
		"pyenv311/lib/y/migrations/0001_initial.py":          "",
		"frontend/node_modules/z/migrations/__init__.py":     "",
		"frontend/node_modules/z/migrations/0001_initial.py": "",
		// A migrations directory without __init__.py is no migrations
		// package for Django.
		"legacy/migrations/0001_initial.py": "",
	})
	p, err := ReadProject(dir)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, m := range p.Migrations {
		got = append(got, m.Key.String())
	}
	want := []string{"calculations.0001_initial", "config.0001_initial", "config.0002_idx"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("migrations = %v, want %v", got, want)
	}
	if len(p.Apps) != 2 || p.Apps["calculations"] != filepath.Join(dir, "apps", "calc", "migrations") {
		t.Errorf("apps = %v", p.Apps)
	}
	if deps := p.Migrations[0].Dependencies; !reflect.DeepEqual(deps, keys("config.0001_initial")) {
		t.Errorf("calculations.0001_initial dependencies = %v", deps)
	}
	if len(p.Warnings) != 0 {
		t.Errorf("warnings = %v", p.Warnings)
	}
}

func TestReadProjectErrors(t *testing.T) {
	tests := []struct {
		name string
		dir  func(t *testing.T) string
		want string
	}{
		{"missing directory", func(t *testing.T) string { return filepath.Join(t.TempDir(), "nope") }, "--django-dir"},
		{"a file", func(t *testing.T) string {
			return filepath.Join(writeTree(t, map[string]string{"manage.py": ""}), "manage.py")
		}, "not a directory"},
		{"no apps", func(t *testing.T) string { return writeTree(t, map[string]string{"manage.py": ""}) }, "no migrations package"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ReadProject(tt.dir(t))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want one mentioning %q", err, tt.want)
			}
		})
	}
}

func TestReadProjectDuplicateLabel(t *testing.T) {
	dir := writeTree(t, map[string]string{
		"a/config/migrations/__init__.py":     "",
		"a/config/migrations/0001_initial.py": "",
		"b/config/migrations/__init__.py":     "",
		"b/config/migrations/0001_other.py":   "",
	})
	p, err := ReadProject(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Migrations) != 1 || len(p.Warnings) != 1 || !strings.Contains(p.Warnings[0], "found twice") {
		t.Errorf("migrations %v, warnings %v", p.Migrations, p.Warnings)
	}
}
