package layers

import (
	"bytes"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// rule is what one package may import of steady and of the outside.
type rule struct {
	// uses are the steady packages it may import and call.
	uses []string
	// names are the steady packages whose types and constants it may
	// name (and whose values' methods it may call), but none of whose
	// functions or variables: what it needs done there, it asks of a
	// package it uses.
	names []string
	// pure are functions of named packages it may call all the same:
	// pure ones, computing from values ("probes.Decide").
	pure []string
	// screen lets it import the terminal libraries (charm.land);
	// systems, the PostgreSQL and Redis clients.
	screen, systems bool
	// doc asks for a doc.go whose comment names every package of uses
	// and names: the arrows are written where the next engineer looks.
	doc bool
}

// layers is the rule, one row per package (paths below the module).
// Data flows one way: cmd/steady → serve → tui, drill, report → session →
// actions → probes → target, with the leaves below.
var layers = map[string]rule{
	"cmd/steady": {uses: []string{"actions", "config", "discover", "drill", "mdterm", "plural", "probes", "profile", "report", "runbook", "secret", "serve", "session", "target", "tui", "visible"},
		screen: true, doc: true},
	"serve": {uses: []string{"config", "plural", "session", "tui"}, screen: true, doc: true},
	"tui": {uses: []string{"mdterm", "plural", "session", "visible"}, names: []string{"actions", "probes", "runbook"},
		screen: true, doc: true},
	"report": {uses: []string{"plural", "session", "visible"}, names: []string{"actions", "probes", "runbook"},
		pure: []string{"runbook.ParamText"}, doc: true},
	"drill": {uses: []string{"celery", "clinic", "config", "profile", "sandbox", "session", "target"}, names: []string{"actions", "probes", "runbook"},
		pure: []string{"probes.Decide"}, systems: true, doc: true},
	"session": {uses: []string{"actions", "plural", "probes", "runbook", "secret", "target", "visible"}, doc: true},
	"actions": {uses: []string{"celery", "config", "django", "duration", "plural", "profile", "registry", "secret", "target", "visible"}, names: []string{"probes"},
		systems: true, doc: true},
	"probes": {uses: []string{"config", "django", "duration", "plural", "profile", "registry", "secret", "target", "visible"}, systems: true, doc: true},

	"runbook":  {uses: []string{"duration"}},
	"discover": {uses: []string{"django", "profile", "target"}, systems: true},
	"django":   {uses: []string{"target"}, systems: true},
	"target":   {uses: []string{"config", "secret"}, systems: true},
	"config":   {uses: []string{"duration", "profile", "secret"}},
	"profile":  {systems: true},
	"celery":   {systems: true},
	"mdterm":   {screen: true},
	"duration": {}, "plural": {},
	// codesize holds the module to short functions; it is a test only.
	"codesize": {}, "registry": {}, "secret": {}, "visible": {},

	// The sandbox and the seeded application serve drills, benchmarks and
	// tests, never an incident.
	"sandbox":               {systems: true},
	"sandbox/sandboxtest":   {uses: []string{"sandbox"}, systems: true},
	"clinic":                {uses: []string{"config"}, systems: true},
	"clinic/clinictest":     {uses: []string{"clinic", "config", "sandbox/sandboxtest"}, systems: true},
	"examples":              {uses: []string{"target"}},
	"bench":                 {uses: []string{"clinic", "config", "examples", "plural", "profile", "sandbox"}, systems: true},
	"bench/cmd/steadybench": {uses: []string{"bench"}},
	"tui/tuitest":           {uses: []string{"poll"}},
	"serve/servetest":       {uses: []string{"tui/tuitest"}},
	"layers":                {},
	"poll":                  {},
}

const module = "steady"

// pkg is what go list says of one package.
type pkg struct {
	path, dir string
	files     []string // non-test Go files
	imports   []string
}

func list(t *testing.T) map[string]pkg {
	t.Helper()
	cmd := exec.Command("go", "list", "-f", "{{.ImportPath}}\t{{.Dir}}\t{{join .GoFiles \" \"}}\t{{join .Imports \" \"}}", module+"/...")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, stderr.String())
	}
	pkgs := map[string]pkg{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Split(line, "\t")
		if len(f) != 4 {
			t.Fatalf("go list printed %q", line)
		}
		rel := short(f[0])
		pkgs[rel] = pkg{path: rel, dir: f[1], files: strings.Fields(f[2]), imports: strings.Fields(f[3])}
	}
	if len(pkgs) < 20 {
		t.Fatalf("go list found %d packages of %s; expected the whole module", len(pkgs), module)
	}
	return pkgs
}

// TestLayers fails on an import the table does not allow, naming the
// arrow, and on a package the table does not know.
func TestLayers(t *testing.T) {
	pkgs := list(t)
	for _, p := range sorted(pkgs) {
		r, ok := layers[p.path]
		if !ok {
			t.Errorf("%s is in no layer: add its row to the table in layers/layers_test.go (what may it import?)", p.path)
			continue
		}
		for _, imp := range p.imports {
			if err := r.allows(imp); err != "" {
				t.Errorf("forbidden arrow %s → %s: %s", p.path, short(imp), err)
			}
		}
	}
	for path := range layers {
		if _, ok := pkgs[path]; !ok {
			t.Errorf("the table has a row for %s, which is no package of the module", path)
		}
	}
}

// short is a package's name in the table: its path below the module, and
// below internal/ for the packages that are the module's own business.
func short(importPath string) string {
	rel := strings.TrimPrefix(strings.TrimPrefix(importPath, module), "/")
	return strings.TrimPrefix(rel, "internal/")
}

// allows says why r forbids importing imp, or "" when it may.
func (r rule) allows(imp string) string {
	switch {
	case strings.HasPrefix(imp, module+"/"):
		dep := short(imp)
		if slices.Contains(r.uses, dep) || slices.Contains(r.names, dep) {
			return ""
		}
		return "not in its row's uses or names" + r.says()
	case strings.HasPrefix(imp, "charm.land/") && !r.screen:
		return "only the terminal's layers (cmd/steady, serve, tui, mdterm) draw on a terminal"
	case (strings.HasPrefix(imp, "github.com/jackc/pgx/") || strings.HasPrefix(imp, "github.com/redis/go-redis/")) && !r.systems:
		return "it never talks to PostgreSQL or Redis itself; probes and actions do, through target"
	}
	return ""
}

func (r rule) says() string {
	var parts []string
	if len(r.uses) > 0 {
		parts = append(parts, "it may import "+strings.Join(r.uses, ", "))
	}
	if len(r.names) > 0 {
		parts = append(parts, "name the types of "+strings.Join(r.names, ", "))
	}
	if len(parts) == 0 {
		return " (it imports no steady package)"
	}
	return " (" + strings.Join(parts, " and ") + ")"
}

// TestNamedPackagesAreNotCalled fails where a package calls a function or
// reads a variable of a package it may only name: the TUI running probes
// itself, an action looking a probe up instead of asking its Env.
func TestNamedPackagesAreNotCalled(t *testing.T) {
	pkgs := list(t)
	for _, p := range sorted(pkgs) {
		r := layers[p.path]
		for _, named := range r.names {
			dep, ok := pkgs[named]
			if !ok {
				t.Errorf("%s names %s, which is no package of the module", p.path, named)
				continue
			}
			doors := packageLevel(t, dep)
			for _, use := range uses(t, p, module+"/"+named) {
				if doors[use.name] && !slices.Contains(r.pure, named+"."+use.name) {
					t.Errorf("%s: %s uses %s.%s: %s may only name the types and constants of %s; what it needs done there, a package it uses does (%s)",
						use.pos, p.path, named, use.name, p.path, named, strings.Join(r.uses, ", "))
				}
			}
		}
	}
}

// packageLevel returns the names of a package's functions and variables.
func packageLevel(t *testing.T, p pkg) map[string]bool {
	t.Helper()
	out := map[string]bool{}
	for _, f := range parse(t, p, 0) {
		for _, d := range f.Decls {
			switch d := d.(type) {
			case *ast.FuncDecl:
				if d.Recv == nil {
					out[d.Name.Name] = true
				}
			case *ast.GenDecl:
				if d.Tok != token.VAR {
					continue
				}
				for _, s := range d.Specs {
					for _, n := range s.(*ast.ValueSpec).Names {
						out[n.Name] = true
					}
				}
			}
		}
	}
	return out
}

type use struct{ pos, name string }

// uses returns every selector p's files apply to the package imported as
// path: the X in pkg.X.
func uses(t *testing.T, p pkg, path string) []use {
	t.Helper()
	fset := token.NewFileSet()
	var out []use
	for _, f := range parseIn(t, fset, p, parser.SkipObjectResolution) {
		local := ""
		for _, imp := range f.Imports {
			if v, _ := strconv.Unquote(imp.Path.Value); v == path {
				local = filepath.Base(path)
				if imp.Name != nil {
					local = imp.Name.Name
				}
			}
		}
		if local == "" {
			continue
		}
		ast.Inspect(f, func(n ast.Node) bool {
			if sel, ok := n.(*ast.SelectorExpr); ok {
				if x, ok := sel.X.(*ast.Ident); ok && x.Name == local {
					pos := fset.Position(sel.Pos())
					out = append(out, use{pos: fmt.Sprintf("%s/%s:%d", p.path, filepath.Base(pos.Filename), pos.Line), name: sel.Sel.Name})
				}
			}
			return true
		})
	}
	return out
}

// TestLayerDocsNameTheirArrows fails when a layer's doc.go does not name
// a package its row lets it use or name, so the comment the next engineer
// reads says what the table enforces.
func TestLayerDocsNameTheirArrows(t *testing.T) {
	pkgs := list(t)
	for _, p := range sorted(pkgs) {
		r := layers[p.path]
		if !r.doc {
			continue
		}
		var doc string
		if slices.Contains(p.files, "doc.go") {
			f, err := parser.ParseFile(token.NewFileSet(), filepath.Join(p.dir, "doc.go"), nil, parser.ParseComments|parser.PackageClauseOnly)
			if err != nil {
				t.Fatal(err)
			}
			if f.Doc != nil {
				doc = f.Doc.Text()
			}
		}
		if doc == "" {
			t.Errorf("%s has no doc.go with a package comment: write its layer's arrows there", p.path)
			continue
		}
		for _, dep := range append(slices.Clone(r.uses), r.names...) {
			if !strings.Contains(doc, dep) {
				t.Errorf("%s/doc.go does not name %s, which its row in layers/layers_test.go lets it import", p.path, dep)
			}
		}
	}
}

func parse(t *testing.T, p pkg, mode parser.Mode) []*ast.File {
	return parseIn(t, token.NewFileSet(), p, mode)
}

func parseIn(t *testing.T, fset *token.FileSet, p pkg, mode parser.Mode) []*ast.File {
	t.Helper()
	var out []*ast.File
	for _, name := range p.files {
		path := filepath.Join(p.dir, name)
		f, err := parser.ParseFile(fset, path, nil, mode)
		if err != nil {
			t.Fatalf("parse %s: %v", path, err)
		}
		out = append(out, f)
	}
	return out
}

func sorted(pkgs map[string]pkg) []pkg {
	out := make([]pkg, 0, len(pkgs))
	for _, p := range pkgs {
		out = append(out, p)
	}
	slices.SortFunc(out, func(a, b pkg) int { return strings.Compare(a.path, b.path) })
	return out
}

// outside are the packages kept outside internal/: the program, the four
// layers an extension of steady works in (a probe, an action, a screen, a
// runbook), the terminal test driver, and the example applications, the
// benchmarks and this test. Everything else is the module's own business.
var outside = []string{"actions", "bench", "bench/cmd/steadybench", "cmd/steady", "examples", "layers", "probes", "runbook", "tui", "tui/tuitest"}

// TestInternalHoldsTheRest fails on a package added outside internal/
// that is not meant to be imported, or one listed here that moved.
func TestInternalHoldsTheRest(t *testing.T) {
	listed, err := exec.Command("go", "list", module+"/...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	var got []string
	for _, path := range strings.Fields(string(listed)) {
		if rel := strings.TrimPrefix(strings.TrimPrefix(path, module), "/"); !strings.HasPrefix(rel, "internal/") {
			got = append(got, rel)
		}
	}
	slices.Sort(got)
	if !slices.Equal(got, outside) {
		t.Errorf("packages outside internal/: %q, want %q (a package nothing outside the module should import goes under internal/)", got, outside)
	}
}
