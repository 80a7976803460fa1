package django

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
)

// Project is what steady read of a Django project directory: every app
// with a migrations package and the migrations in it.
type Project struct {
	Dir string
	// Apps maps each app label to its migrations directory.
	Apps map[string]string
	// Migrations are every migration found, by app and name.
	Migrations []Migration
	// Warnings are things worth saying that did not stop the reading
	// (an app label found twice, a file that could not be parsed).
	Warnings []string
}

// skipDirs are directories that hold no project apps: virtualenvs and
// installed packages (whose apps Django records too, but whose files are
// not the project's), caches and front-end dependencies.
var skipDirs = map[string]bool{
	"node_modules": true, "site-packages": true, "dist-packages": true,
	"__pycache__": true, "venv": true, "env": true, "virtualenv": true,
	"build": true, "dist": true,
}

// labelRE finds an explicit AppConfig label in apps.py.
var labelRE = regexp.MustCompile(`(?m)^\s+label\s*=\s*(?:'([^']+)'|"([^"]+)")`)

// ReadProject finds every migrations package under dir (a directory named
// migrations holding an __init__.py, as Django requires) and reads its
// migrations: every .py module whose name does not start with _ or ~,
// which is the rule Django's loader applies. Hidden directories,
// virtualenvs and node_modules are skipped. The app label is the app
// directory's name unless its apps.py sets another.
func ReadProject(dir string) (*Project, error) {
	st, err := os.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("read Django project: %w (check --django-dir / STEADY_DJANGO_DIR)", err)
	}
	if !st.IsDir() {
		return nil, fmt.Errorf("read Django project: %s is not a directory (give the directory holding manage.py)", dir)
	}
	p := &Project{Dir: dir, Apps: map[string]string{}}
	err = filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			// An unreadable subdirectory must not hide the rest.
			p.Warnings = append(p.Warnings, fmt.Sprintf("cannot read %s: %v", path, err))
			if d != nil && d.IsDir() && path != dir {
				return fs.SkipDir
			}
			return nil
		}
		if !d.IsDir() || path == dir {
			return nil
		}
		name := d.Name()
		if strings.HasPrefix(name, ".") || skipDirs[name] || isVirtualenv(path) {
			return fs.SkipDir
		}
		if name != "migrations" {
			return nil
		}
		if _, err := os.Stat(filepath.Join(path, "__init__.py")); err != nil {
			// Django treats a migrations directory without __init__.py as
			// no migrations at all.
			return fs.SkipDir
		}
		appDir := filepath.Dir(path)
		label := appLabel(appDir)
		if prev, dup := p.Apps[label]; dup {
			p.Warnings = append(p.Warnings, fmt.Sprintf("app label %q found twice (%s and %s); using the first", label, prev, path))
			return fs.SkipDir
		}
		p.Apps[label] = path
		ms, warns, err := readMigrations(label, path)
		if err != nil {
			return err
		}
		p.Migrations = append(p.Migrations, ms...)
		p.Warnings = append(p.Warnings, warns...)
		return fs.SkipDir
	})
	if err != nil {
		return nil, fmt.Errorf("read Django project %s: %w", dir, err)
	}
	if len(p.Apps) == 0 {
		return nil, fmt.Errorf("read Django project: no migrations package under %s (expected <app>/migrations/__init__.py; is this the directory holding manage.py?)", dir)
	}
	sort.Slice(p.Migrations, func(i, j int) bool { return less(p.Migrations[i].Key, p.Migrations[j].Key) })
	return p, nil
}

// readMigrations reads one migrations package.
func readMigrations(app, dir string) ([]Migration, []string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, nil, err
	}
	var out []Migration
	var warns []string
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || !strings.HasSuffix(name, ".py") || strings.HasPrefix(name, "_") || strings.HasPrefix(name, "~") {
			continue
		}
		path := filepath.Join(dir, name)
		src, err := os.ReadFile(path)
		if err != nil {
			return nil, nil, err
		}
		m, err := ParseMigration(app, strings.TrimSuffix(name, ".py"), src)
		if err != nil {
			warns = append(warns, fmt.Sprintf("%s: %v (read as a plain migration)", path, err))
		}
		m.Path = path
		out = append(out, m)
	}
	return out, warns, nil
}

// appLabel is the label Django gives the app in dir.
func appLabel(dir string) string {
	if src, err := os.ReadFile(filepath.Join(dir, "apps.py")); err == nil {
		if m := labelRE.FindStringSubmatch(string(src)); m != nil {
			return m[1] + m[2]
		}
	}
	return filepath.Base(dir)
}

// isVirtualenv reports whether dir is a Python virtualenv, whatever its name.
func isVirtualenv(dir string) bool {
	_, err := os.Stat(filepath.Join(dir, "pyvenv.cfg"))
	return err == nil
}
