// The layout rules of README.md's "Layout" section, checked against the code: which of Signoff's
// packages each package may import, that the API reaches Postgres and Temporal only through the
// use-case layer, and that handlers stay short.
package signoff_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
)

const module = "github.com/signoff/signoff/"

// allowedImports is the import rule: for each package, the packages of this module it may import.
// Every package of the module is listed, so a new one has to take a place in the rule.
var allowedImports = map[string][]string{
	"api":            {"app", "errs", "metrics"},
	"app":            {"errs", "storage", "workflows", "sharelink", "changes", "webhooks"},
	"workflows":      {"activities", "errs", "logging"},
	"activities":     {"storage", "errs", "email", "ai", "sharelink", "changes", "logging", "metrics", "webhooks"},
	"workers":        {"app", "workflows", "activities", "storage", "errs", "email", "ai", "sharelink"},
	"storage":        {},
	"errs":           {},
	"schema":         {"storage"}, // the Go migration 00012 freezes versions with storage's own functions
	"sharelink":      {},
	"webhooks":       {},
	"changes":        {},
	"email":          {},
	"ai":             {},
	"logging":        {},
	"metrics":        {},
	"config":         {},
	"temporalclient": {"config", "logging"},
	"demodata":       {"storage"},
	"localenv":       {"config", "logging", "schema", "workflows"},
	"testenv":        {"config", "logging", "temporalclient", "schema", "storage", "localenv", "sharelink", "workflows", "workers", "activities", "app", "ai", "email", "errs", "webhooks"},
	"cmd/signoff":    {"*"},
	"cmd/bench":      {"*"},
	"cmd/testenv":    {"*"},
	"chaos":          {"*"},
	"docker":         {}, // compose_test.go only
}

// forbiddenInAPI are the outside packages the API may not import: its SQL and its Temporal calls go
// through app.
var forbiddenInAPI = []string{"github.com/jackc/pgx", "go.temporal.io/"}

// maxHandlerLines bounds a handler's length: bind, call, map, respond.
const maxHandlerLines = 40

func packageDirs(t *testing.T) []string {
	t.Helper()
	var dirs []string
	err := filepath.WalkDir(".", func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && path != "." && (strings.HasPrefix(d.Name(), ".") || d.Name() == "testdata" || d.Name() == "bin") {
			return filepath.SkipDir
		}
		if !d.IsDir() && strings.HasSuffix(path, ".go") && !strings.HasSuffix(path, "_test.go") {
			dir := filepath.ToSlash(filepath.Dir(path))
			if len(dirs) == 0 || dirs[len(dirs)-1] != dir {
				dirs = append(dirs, dir)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(dirs)
	return dirs
}

// parseDir parses the non-test Go files of dir.
func parseDir(t *testing.T, fset *token.FileSet, dir string) []*ast.File {
	t.Helper()
	names, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil {
		t.Fatal(err)
	}
	var files []*ast.File
	for _, n := range names {
		if strings.HasSuffix(n, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, n, nil, parser.ParseComments)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, f)
	}
	return files
}

// ruleOf is the entry of allowedImports that governs dir: its own, or its top folder's.
func ruleOf(dir string) (string, []string, bool) {
	for d := dir; d != "."; d = filepath.ToSlash(filepath.Dir(d)) {
		if r, ok := allowedImports[d]; ok {
			return d, r, true
		}
	}
	return "", nil, false
}

func TestImportRule(t *testing.T) {
	fset := token.NewFileSet()
	for _, dir := range packageDirs(t) {
		owner, allowed, ok := ruleOf(dir)
		if !ok {
			t.Errorf("%s: package not in the import rule (allowedImports in layout_test.go and README's Layout)", dir)
			continue
		}
		for _, f := range parseDir(t, fset, dir) {
			for _, imp := range f.Imports {
				path, _ := strconv.Unquote(imp.Path.Value)
				if owner == "api" {
					for _, bad := range forbiddenInAPI {
						if strings.HasPrefix(path, bad) {
							t.Errorf("%s imports %s: the API reaches Postgres and Temporal only through app", fset.Position(imp.Pos()), path)
						}
					}
				}
				if !strings.HasPrefix(path, module) {
					continue
				}
				target := strings.TrimPrefix(path, module)
				if target == owner || strings.HasPrefix(target, owner+"/") || contains(allowed, "*") || contains(allowed, target) {
					continue
				}
				t.Errorf("%s: %s imports %s, against the import rule (%s may import %v)", fset.Position(imp.Pos()), owner, target, owner, allowed)
			}
		}
	}
}

func contains(list []string, v string) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

// TestHandlersAreShort checks every Gin handler of the API (a function or method taking only a
// *gin.Context, or a function literal of that shape) is shorter than maxHandlerLines.
func TestHandlersAreShort(t *testing.T) {
	fset := token.NewFileSet()
	longest, where := 0, ""
	for _, f := range parseDir(t, fset, "api") {
		ast.Inspect(f, func(n ast.Node) bool {
			var typ *ast.FuncType
			var body *ast.BlockStmt
			name := ""
			switch fn := n.(type) {
			case *ast.FuncDecl:
				typ, body, name = fn.Type, fn.Body, fn.Name.Name
			case *ast.FuncLit:
				typ, body, name = fn.Type, fn.Body, "func literal"
			default:
				return true
			}
			if body == nil || !isHandler(typ) {
				return true
			}
			lines := fset.Position(body.End()).Line - fset.Position(body.Pos()).Line + 1
			pos := fset.Position(body.Pos())
			if lines > longest {
				longest, where = lines, pos.String()+" "+name
			}
			if lines >= maxHandlerLines {
				t.Errorf("%s %s: handler is %d lines; keep handlers under %d (bind, call, map, respond)", pos, name, lines, maxHandlerLines)
			}
			return true
		})
	}
	t.Logf("longest handler: %d lines, %s", longest, where)
}

// isHandler reports whether a function's only parameter is a *gin.Context and it returns nothing.
func isHandler(typ *ast.FuncType) bool {
	if typ.Results != nil && len(typ.Results.List) > 0 {
		return false
	}
	if typ.Params == nil || len(typ.Params.List) != 1 || len(typ.Params.List[0].Names) > 1 {
		return false
	}
	star, ok := typ.Params.List[0].Type.(*ast.StarExpr)
	if !ok {
		return false
	}
	sel, ok := star.X.(*ast.SelectorExpr)
	if !ok {
		return false
	}
	pkg, ok := sel.X.(*ast.Ident)
	return ok && pkg.Name == "gin" && sel.Sel.Name == "Context"
}
