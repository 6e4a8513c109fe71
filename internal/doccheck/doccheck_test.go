package doccheck

import (
	"bufio"
	"bytes"
	"fmt"
	"go/ast"
	"go/importer"
	"go/parser"
	"go/token"
	"go/types"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/graft-dev/graft/migrate"
)

// snippet is one ```go block of a Markdown file.
type snippet struct {
	file string // relative to the repository root
	line int    // of the first line of code
	code string
}

// extract returns the code blocks of a Markdown file fenced as lang
// ("```go").
func extract(t *testing.T, root, name, lang string) []snippet {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(root, name))
	if err != nil {
		t.Fatal(err)
	}
	var out []snippet
	var cur *snippet
	var b strings.Builder
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(nil, 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		switch {
		case cur == nil && strings.TrimSpace(line) == "```"+lang:
			cur = &snippet{file: name, line: n + 1}
			b.Reset()
		case cur != nil && strings.TrimSpace(line) == "```":
			cur.code = b.String()
			out = append(out, *cur)
			cur = nil
		case cur != nil:
			b.WriteString(line)
			b.WriteByte('\n')
		}
	}
	if cur != nil {
		t.Fatalf("%s:%d: unterminated ```%s block", name, cur.line-1, lang)
	}
	return out
}

// imports are the packages a snippet may use without importing them: the
// docs leave the import block out.
var imports = map[string]string{
	"context":    "context",
	"embed":      "embed",
	"errors":     "errors",
	"fmt":        "fmt",
	"fs":         "io/fs",
	"http":       "net/http",
	"httputil":   "net/http/httputil",
	"json":       "encoding/json",
	"log":        "log",
	"net":        "net",
	"os":         "os",
	"signal":     "os/signal",
	"slog":       "log/slog",
	"strconv":    "strconv",
	"strings":    "strings",
	"syscall":    "syscall",
	"time":       "time",
	"tls":        "crypto/tls",
	"prometheus": "github.com/prometheus/client_golang/prometheus",
	"chi":        "github.com/go-chi/chi/v5",
	"fallback":   "github.com/graft-dev/graft/fallback",
	"middleware": "github.com/graft-dev/graft/middleware",
	"migrate":    "github.com/graft-dev/graft/migrate",
	"router":     "github.com/graft-dev/graft/router",
	"session":    "github.com/graft-dev/graft/migrate/session",
	"wsgi":       "github.com/graft-dev/graft/wsgi",
}

// prelude declares, with their types, the names the snippets use without
// declaring them (the app's handlers, the container, the logger...), so
// that calls with them are checked too. A snippet's own declaration of one
// shadows it. A name used but declared neither here nor in the snippet is
// not an error: a snippet may leave out what is obvious.
const prelude = `package snippet

import (
	"crypto/tls"
	"log/slog"
	"net/http"
	"net/http/httputil"

	"github.com/graft-dev/graft/middleware"
	"github.com/graft-dev/graft/migrate"
	"github.com/graft-dev/graft/router"
	"github.com/graft-dev/graft/wsgi"
	"github.com/prometheus/client_golang/prometheus"
)

var (
	logger                        *slog.Logger
	container, app                *wsgi.Container
	r                             *router.Router
	m                             *migrate.Migrator
	mux                           *http.ServeMux
	reg                           *prometheus.Registry
	proxies                       *middleware.Proxies
	o                             middleware.Options
	showUser, listUsers, serveFile http.HandlerFunc
	auth, requireStaff            func(http.Handler) http.Handler
	h, pythonApp                  http.Handler
	tlsConfig                     *tls.Config
	rewrite                       func(*httputil.ProxyRequest)
	secret                        []byte
	adminAddr                     string
	user                          struct {
		ID             int
		Name, Username string
		Roles          []string
	}
)

func checkSession(*http.Request) (struct {
	Name  string
	Roles []string
}, bool) {
	panic(0)
}
`

// elided matches what the docs write for "code left out": "{ ... }" and a
// line holding only "...".
var elided = regexp.MustCompile(`(?m)\{ *\.\.\. *\}|^\s*\.\.\.\s*$`)

// routerR and requestR tell which r a statement snippet means: the
// prelude's router, or the request of the handler it is a fragment of.
var (
	routerR  = regexp.MustCompile(`\br\.(Get|Post|Put|Delete|Use|Fallback|Handle|HandleFunc|Mount|Route|Inventory|With|Group|URL\()`)
	requestR = regexp.MustCompile(`\br\.`)
)

// source turns a snippet into a Go file: top-level declarations as they
// are, statements inside a function.
func source(s snippet) string {
	code := elided.ReplaceAllStringFunc(s.code, func(m string) string {
		if strings.HasPrefix(m, "{") {
			return "{}"
		}
		return ""
	})
	var body string
	switch {
	case topLevel(code):
		body = fmt.Sprintf("//line %s:%d\n%s", s.file, s.line, code)
	case requestR.MatchString(code) && !routerR.MatchString(code):
		// A fragment of a handler or middleware: r is its request.
		body = fmt.Sprintf("func _(w http.ResponseWriter, r *http.Request) {\n//line %s:%d\n%s}\n", s.file, s.line, code)
	default:
		body = fmt.Sprintf("func _() {\n//line %s:%d\n%s}\n", s.file, s.line, code)
	}
	var b strings.Builder
	b.WriteString("package snippet\n\nimport (\n")
	names := make([]string, 0, len(imports))
	for name := range imports {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		if regexp.MustCompile(`\b` + name + `\.`).MatchString(body) {
			fmt.Fprintf(&b, "\t%s %q\n", name, imports[name])
		}
	}
	b.WriteString(")\n\n")
	b.WriteString(body)
	return b.String()
}

// topLevel reports whether the snippet is made of declarations rather
// than statements: it has a func, type or import declaration (at the
// start of a line; a package-level var may come with them).
func topLevel(code string) bool {
	for _, line := range strings.Split(code, "\n") {
		if strings.HasPrefix(line, "func ") || strings.HasPrefix(line, "type ") || strings.HasPrefix(line, "import ") {
			return true
		}
	}
	return false
}

// exports returns the export data file of each package the snippets may
// import, and of their dependencies, built by the go command with the
// test's own -race setting, so that `go test -race ./...` (the README's
// command) finds them in its build cache instead of compiling every
// dependency a second time (minutes on a cold cache).
func exports(t *testing.T, root string) map[string]string {
	t.Helper()
	args := []string{"list", "-export", "-deps", "-f", "{{.ImportPath}}\t{{.Export}}"}
	if race {
		args = append(args, "-race")
	}
	for _, p := range imports {
		args = append(args, p)
	}
	cmd := exec.Command("go", args...)
	cmd.Dir = root
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list -export: %v\n%s", err, stderr.String())
	}
	m := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		path, file, _ := strings.Cut(line, "\t")
		if file != "" {
			m[path] = file
		}
	}
	return m
}

// ignored reports whether a type error is one that a snippet may have
// by design: a variable or import a fragment does not use, a name it
// leaves to the reader (undefined, unless it is used as name.X: that is a
// package missing from imports, or a value the prelude should declare).
func ignored(te types.Error, src string) bool {
	if strings.Contains(te.Msg, "declared and not used") || strings.Contains(te.Msg, "imported and not used") {
		return true
	}
	name, ok := strings.CutPrefix(te.Msg, "undefined: ")
	if !ok || strings.Contains(name, ".") {
		return false
	}
	off := te.Fset.File(te.Pos).Offset(te.Pos) + len(name)
	return off >= len(src) || src[off] != '.'
}

// checker type-checks snippets against graft's packages.
type checker struct {
	fset *token.FileSet
	imp  types.Importer
	pre  *ast.File
}

func newChecker(t *testing.T, root string) *checker {
	t.Helper()
	exp := exports(t, root)
	fset := token.NewFileSet()
	imp := importer.ForCompiler(fset, "gc", func(path string) (io.ReadCloser, error) {
		file, ok := exp[path]
		if !ok {
			return nil, fmt.Errorf("no export data for %q (add it to imports)", path)
		}
		return os.Open(file)
	})
	pre, err := parser.ParseFile(fset, "prelude.go", prelude, 0)
	if err != nil {
		t.Fatal(err)
	}
	return &checker{fset: fset, imp: imp, pre: pre}
}

// check returns the errors of a snippet that are not ignored.
func (c *checker) check(s snippet) []string {
	src := source(s)
	f, err := parser.ParseFile(c.fset, "snippet.go", src, parser.ParseComments)
	if err != nil {
		return []string{"does not parse: " + err.Error()}
	}
	var errs []string
	conf := types.Config{
		Importer: c.imp,
		Error: func(err error) {
			if te, ok := err.(types.Error); ok && ignored(te, src) {
				return
			}
			errs = append(errs, err.Error())
		},
	}
	conf.Check("snippet", c.fset, []*ast.File{c.pre, f}, nil)
	return errs
}

// docFiles returns the repository's root and the Markdown files checked:
// README.md and docs/*.md, relative to the root.
func docFiles(t *testing.T) (root string, names []string) {
	t.Helper()
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	docs, err := filepath.Glob(filepath.Join(root, "docs", "*.md"))
	if err != nil {
		t.Fatal(err)
	}
	names = []string{"README.md"}
	for _, d := range docs {
		names = append(names, filepath.Join("docs", filepath.Base(d)))
	}
	return root, names
}

// TestDocStagesFiles parses every ```json block of the docs that is a
// stages file (it has "routes") with migrate.ParseFile, the parser
// migrate.New uses: a key, stage, sticky key or value the docs show must
// be one the file accepts.
func TestDocStagesFiles(t *testing.T) {
	root, names := docFiles(t)
	n := 0
	for _, name := range names {
		for _, s := range extract(t, root, name, "json") {
			if !strings.Contains(s.code, `"routes"`) {
				continue
			}
			n++
			if _, err := migrate.ParseFile([]byte(s.code)); err != nil {
				t.Errorf("%s:%d: the stages file does not parse: %v\n%s", s.file, s.line, err, s.code)
			}
		}
	}
	if n == 0 {
		t.Fatal("no stages file found in the docs' json blocks: is the extraction broken?")
	}
}

// TestDocSnippets type-checks every ```go block of README.md and
// docs/*.md: a snippet that calls a function, method, field or option
// graft does not have, or with the wrong arguments, fails with its file
// and line. Snippets are statements (checked inside a function) or
// declarations; "{ ... }" and a line of "..." stand for code left out.
func TestDocSnippets(t *testing.T) {
	root, names := docFiles(t)
	var snippets []snippet
	for _, name := range names {
		snippets = append(snippets, extract(t, root, name, "go")...)
	}
	if len(snippets) < 30 {
		t.Fatalf("found %d Go code blocks in the docs, expected over 30: is the extraction broken?", len(snippets))
	}
	c := newChecker(t, root)
	for _, s := range snippets {
		t.Run(fmt.Sprintf("%s:%d", s.file, s.line), func(t *testing.T) {
			if errs := c.check(s); len(errs) > 0 {
				t.Errorf("does not compile:\n\t%s\nthe snippet:\n%s", strings.Join(errs, "\n\t"), s.code)
			}
		})
	}
}

// TestDocSnippetsChecker shows that the check fails a snippet with a
// name, field or argument graft does not have, and passes the fragments
// the docs write on purpose.
func TestDocSnippetsChecker(t *testing.T) {
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	c := newChecker(t, root)
	for _, tc := range []struct {
		name, code string
		ok         bool
	}{
		{"valid", "r.Get(\"/x\", showUser).Name(\"x\")\n", true},
		{"undefined handler", "r.Get(\"/x\", handleX)\n", true},
		{"elided body", "if _, err := r.URL(\"x\"); err != nil { ... }\n", true},
		{"assignment mismatch", "u := r.URL(\"x\")\n_ = u\n", false},
		{"elided line", "r.Use(auth)\n...\nr.Fallback(h)\n", true},
		{"handler fragment", "ctx := middleware.WithRemoteUser(r.Context(), \"u\", \"Session\")\n_ = ctx\n", true},
		{"declarations", "func main() {\n\tr := router.New()\n\tr.Fallback(h)\n}\n", true},
		{"a package-level var and main", "//go:embed all:x\nvar x embed.FS\n\nfunc main() {\n\tsub, _ := fs.Sub(x, \"x\")\n\t_ = sub\n}\n", true},
		{"unknown function", "r.Fallback(fallback.NewThing())\n", false},
		{"unknown field", "wsgi.New(wsgi.Config{Apps: \"m:app\"})\n", false},
		{"unknown method", "r.Fallbacks(h)\n", false},
		{"wrong argument", "r.Get(\"/x\", 42)\n", false},
		{"missing import", "u, _ := url.Parse(\"/x\")\n_ = u\n", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			errs := c.check(snippet{file: "test.md", line: 1, code: tc.code})
			if ok := len(errs) == 0; ok != tc.ok {
				t.Errorf("check(%q) = %q, want ok=%v", tc.code, errs, tc.ok)
			}
		})
	}
}
