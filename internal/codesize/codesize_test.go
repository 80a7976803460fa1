package codesize

import (
	"cmp"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// The limits a production function must stay within.
const (
	maxLines      = 80
	maxComplexity = 20
)

// funcSize is what the test measures of one function or method.
type funcSize struct {
	key        string // file Recv.Name, as the allowlist names it
	name       string // file:line Recv.Name
	lines      int    // lines between the braces of the body
	complexity int    // cyclomatic complexity, as gocyclo counts it
}

// TestFunctionSize measures every function of the module outside tests, test data and
// generated files, logs the five longest and the five most complex, and fails on each one over
// a limit.
func TestFunctionSize(t *testing.T) {
	sizes := measureModule(t, moduleRoot(t))
	if len(sizes) == 0 {
		t.Fatal("no functions found: is the module root right?")
	}
	logWorst(t, "longest (body lines)", sizes, func(s funcSize) int { return s.lines })
	logWorst(t, "most complex (cyclomatic)", sizes, func(s funcSize) int { return s.complexity })
	seen := map[string]bool{}
	for _, s := range sizes {
		over := s.lines > maxLines || s.complexity > maxComplexity
		if allowed[s.key] {
			seen[s.key] = true
			if !over {
				t.Errorf("%s is within the limits now: take it off the allowlist", s.name)
			}
			continue
		}
		if s.lines > maxLines {
			t.Errorf("%s: %d lines, over %d: split it into named steps", s.name, s.lines, maxLines)
		}
		if s.complexity > maxComplexity {
			t.Errorf("%s: cyclomatic complexity %d, over %d: split it into named steps", s.name, s.complexity, maxComplexity)
		}
	}
	for key := range allowed {
		if !seen[key] {
			t.Errorf("%s is on the allowlist but no longer exists: take it off", key)
		}
	}
}

// TestComplexity pins the counting rules on a sample: 1, plus one per if, for, range,
// non-default case, non-default select case, && and ||, function literals included.
func TestComplexity(t *testing.T) {
	const src = `package p
func f(x int, c chan int) {
	if x > 0 && x < 9 || x == 11 {}
	for i := 0; i < x; i++ {}
	for range c {}
	switch x { case 1: case 2, 3: default: }
	select { case <-c: default: }
	go func() { if x == 1 {} }()
}`
	fset := token.NewFileSet()
	file, err := parser.ParseFile(fset, "p.go", src, 0)
	if err != nil {
		t.Fatal(err)
	}
	fn := file.Decls[0].(*ast.FuncDecl)
	if got, want := complexity(fn), 10; got != want {
		t.Errorf("complexity = %d, want %d", got, want)
	}
	if got, want := bodyLines(fset, fn), 6; got != want {
		t.Errorf("body lines = %d, want %d", got, want)
	}
}

// moduleRoot walks up from the package's directory to the folder holding go.mod.
func moduleRoot(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod above the test's directory")
		}
		dir = parent
	}
}

// measureModule parses every production .go file below root and measures its functions.
func measureModule(t *testing.T, root string) []funcSize {
	t.Helper()
	var sizes []funcSize
	fset := token.NewFileSet()
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if path != root && skipDir(root, path, d.Name()) {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		file, err := parser.ParseFile(fset, path, nil, parser.ParseComments)
		if err != nil {
			return err
		}
		if ast.IsGenerated(file) {
			return nil
		}
		rel, _ := filepath.Rel(root, path)
		sizes = append(sizes, measureFile(fset, rel, file)...)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return sizes
}

// skipDir says whether a folder holds no production code of this module: test data, hidden
// and underscore folders (the go tool ignores them too), and nested modules.
func skipDir(root, path, name string) bool {
	if name == "testdata" || strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_") {
		return true
	}
	_, err := os.Stat(filepath.Join(path, "go.mod"))
	return err == nil
}

// measureFile measures each function and method declared in one file.
func measureFile(fset *token.FileSet, rel string, file *ast.File) []funcSize {
	var sizes []funcSize
	for _, decl := range file.Decls {
		fn, ok := decl.(*ast.FuncDecl)
		if !ok || fn.Body == nil {
			continue
		}
		sizes = append(sizes, funcSize{
			key:        filepath.ToSlash(rel) + " " + funcName(fn),
			name:       fmt.Sprintf("%s:%d %s", filepath.ToSlash(rel), fset.Position(fn.Pos()).Line, funcName(fn)),
			lines:      bodyLines(fset, fn),
			complexity: complexity(fn),
		})
	}
	return sizes
}

// funcName is Name for a function and Recv.Name for a method.
func funcName(fn *ast.FuncDecl) string {
	if fn.Recv == nil || len(fn.Recv.List) == 0 {
		return fn.Name.Name
	}
	typ := fn.Recv.List[0].Type
	if star, ok := typ.(*ast.StarExpr); ok {
		typ = star.X
	}
	switch x := typ.(type) {
	case *ast.IndexExpr:
		typ = x.X
	case *ast.IndexListExpr:
		typ = x.X
	}
	if id, ok := typ.(*ast.Ident); ok {
		return id.Name + "." + fn.Name.Name
	}
	return fn.Name.Name
}

// bodyLines counts the lines between a function's braces, comments and blank lines included.
func bodyLines(fset *token.FileSet, fn *ast.FuncDecl) int {
	open := fset.Position(fn.Body.Lbrace).Line
	closing := fset.Position(fn.Body.Rbrace).Line
	return max(closing-open-1, 0)
}

// complexity is gocyclo's cyclomatic complexity: 1, plus one per if, for, range, case clause
// other than default, select clause other than default, && and ||, counting inside function
// literals too.
func complexity(fn *ast.FuncDecl) int {
	n := 1
	ast.Inspect(fn, func(node ast.Node) bool {
		switch node := node.(type) {
		case *ast.IfStmt, *ast.ForStmt, *ast.RangeStmt:
			n++
		case *ast.CaseClause:
			if node.List != nil {
				n++
			}
		case *ast.CommClause:
			if node.Comm != nil {
				n++
			}
		case *ast.BinaryExpr:
			if node.Op == token.LAND || node.Op == token.LOR {
				n++
			}
		}
		return true
	})
	return n
}

// logWorst logs the five functions with the highest measure.
func logWorst(t *testing.T, title string, sizes []funcSize, measure func(funcSize) int) {
	t.Helper()
	sorted := slices.Clone(sizes)
	slices.SortStableFunc(sorted, func(a, b funcSize) int {
		return cmp.Or(cmp.Compare(measure(b), measure(a)), strings.Compare(a.name, b.name))
	})
	t.Logf("the five %s:", title)
	for _, s := range sorted[:min(5, len(sorted))] {
		t.Logf("  %4d  %s", measure(s), s.name)
	}
}
