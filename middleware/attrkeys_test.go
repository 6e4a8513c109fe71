package middleware

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// httplogKeys are the attribute keys that graft's log lines share with
// httplog v3's ECS schema (and, for user.name and http.route, with ECS and
// OpenTelemetry where httplog has none). Every other key is graft's own and
// starts with "graft.".
var httplogKeys = []string{
	"request.id", "url.full", "url.path", "http.request.method", "http.response.status_code",
	"event.duration", "client.ip", "error", "error.type", "error.stack_trace", "http.route",
	"user.name",
}

// One vocabulary of slog attribute keys: every key that middleware, router,
// fallback and the examples log is one of httplogKeys or a graft.* key, and
// docs/middleware.md lists it.
func TestAttributeKeys(t *testing.T) {
	docs, err := os.ReadFile("../docs/middleware.md")
	if err != nil {
		t.Fatal(err)
	}
	found := map[string]string{} // key -> first position
	for _, dir := range []string{".", "../router", "../fallback", "../examples"} {
		err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() && (d.Name() == "testdata" || d.Name() == "pyapp") {
				return filepath.SkipDir
			}
			if d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
				return nil
			}
			for key, pos := range logKeys(t, path) {
				if _, ok := found[key]; !ok {
					found[key] = pos
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if len(found) < 10 {
		t.Fatalf("found only %d keys, the scan is broken: %v", len(found), found)
	}
	for key, pos := range found {
		if !slices.Contains(httplogKeys, key) && !strings.HasPrefix(key, "graft.") {
			t.Errorf("%s: attribute key %q is neither httplog's nor graft.*", pos, key)
		}
		if !strings.Contains(string(docs), "`"+key+"`") {
			t.Errorf("%s: attribute key %q is not listed in docs/middleware.md", pos, key)
		}
	}
}

// logKeys returns the string keys passed to slog's attribute constructors
// (slog.String("url.path", ...), slog.Int(AttrWorker, ...)) in one file,
// resolving the file's string constants.
func logKeys(t *testing.T, path string) map[string]string {
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, path, nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	consts := map[string]string{}
	ast.Inspect(f, func(n ast.Node) bool {
		if vs, ok := n.(*ast.ValueSpec); ok {
			for i, name := range vs.Names {
				if i < len(vs.Values) {
					if lit, ok := vs.Values[i].(*ast.BasicLit); ok && lit.Kind == token.STRING {
						consts[name.Name], _ = strconv.Unquote(lit.Value)
					}
				}
			}
		}
		return true
	})
	keys := map[string]string{}
	ast.Inspect(f, func(n ast.Node) bool {
		call, ok := n.(*ast.CallExpr)
		if !ok || len(call.Args) == 0 {
			return true
		}
		sel, ok := call.Fun.(*ast.SelectorExpr)
		if !ok {
			return true
		}
		if pkg, ok := sel.X.(*ast.Ident); !ok || pkg.Name != "slog" {
			return true
		}
		switch sel.Sel.Name {
		case "String", "Int", "Int64", "Uint64", "Float64", "Bool", "Time", "Duration", "Any", "Group":
		default:
			return true
		}
		key := ""
		switch a := call.Args[0].(type) {
		case *ast.BasicLit:
			key, _ = strconv.Unquote(a.Value)
		case *ast.Ident:
			key = consts[a.Name]
		}
		if key != "" {
			keys[key] = fset.Position(call.Pos()).String()
		}
		return true
	})
	return keys
}
