package clinic

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// ProjectOptions tunes WriteProject.
type ProjectOptions struct {
	// Squash adds the Squashed migration file with its `replaces`.
	Squash bool
	// DropReplaced leaves out the files Squashed replaces, as a project
	// looks once the squash has been deployed everywhere.
	DropReplaced bool
	// Extra adds migrations after the application's own (a migration
	// written but not yet applied anywhere, say).
	Extra []Migration
}

// WriteProject writes the migration files of the application into dir the
// way a Django project lays them out: manage.py, and per app
// <app>/__init__.py, <app>/migrations/__init__.py and one
// <app>/migrations/NNNN_name.py per migration, each depending on the one
// before it in its app (calculations.0001 on config.0001, for its foreign
// key). The SQL is carried in a RunSQL operation, so the files are also
// what a real Django would load.
func WriteProject(dir string, opts ProjectOptions) error {
	files := map[string]string{
		"manage.py": "#!/usr/bin/env python3\n\"\"\"Django's command-line utility (written by steady's clinic package).\"\"\"\n",
	}
	replaced := map[string]bool{}
	if opts.Squash && opts.DropReplaced {
		for _, r := range Squashed.Replaces {
			replaced[r] = true
		}
	}
	all := append(append([]Migration{}, Migrations...), opts.Extra...)
	if opts.Squash {
		all = append(all, Squashed)
	}
	previous := map[string]string{}
	for _, m := range all {
		files[m.App+"/__init__.py"] = ""
		files[m.App+"/migrations/__init__.py"] = ""
		var deps []string
		switch {
		case len(m.Replaces) > 0:
			// A squash depends on what its first replaced migration did.
		case previous[m.App] != "":
			deps = append(deps, m.App+"."+previous[m.App])
		case m.App == "calculations":
			deps = append(deps, "config.0001_initial")
		}
		if len(m.Replaces) == 0 {
			previous[m.App] = m.Name
		}
		if replaced[m.Key()] {
			continue
		}
		files[m.App+"/migrations/"+m.Name+".py"] = migrationSource(m, deps)
	}
	for path, content := range files {
		full := filepath.Join(dir, filepath.FromSlash(path))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			return fmt.Errorf("write project: %w", err)
		}
		if err := os.WriteFile(full, []byte(content), 0o644); err != nil {
			return fmt.Errorf("write project: %w", err)
		}
	}
	return nil
}

// migrationSource renders a migration file as makemigrations and
// squashmigrations write them (tuples in double quotes, one per line).
func migrationSource(m Migration, deps []string) string {
	var b strings.Builder
	b.WriteString("from django.db import migrations\n\n\nclass Migration(migrations.Migration):\n\n")
	if len(deps) == 0 && len(m.Replaces) == 0 {
		b.WriteString("    initial = True\n\n")
	}
	if len(m.Replaces) > 0 {
		b.WriteString("    replaces = [\n")
		for _, r := range m.Replaces {
			app, name, _ := strings.Cut(r, ".")
			fmt.Fprintf(&b, "        (%q, %q),\n", app, name)
		}
		b.WriteString("    ]\n\n")
	}
	b.WriteString("    dependencies = [\n")
	for _, d := range deps {
		app, name, _ := strings.Cut(d, ".")
		fmt.Fprintf(&b, "        (%q, %q),\n", app, name)
	}
	b.WriteString("    ]\n\n    operations = [\n        migrations.RunSQL(\n            \"\"\"")
	b.WriteString(strings.TrimSpace(m.SQL))
	b.WriteString("\"\"\",\n        ),\n    ]\n")
	return b.String()
}
