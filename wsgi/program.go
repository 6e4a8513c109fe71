package wsgi

import (
	_ "embed"
	"fmt"
	"strings"
)

// workerSource is the worker program, run by each worker's interpreter.
//
//go:embed worker.py
var workerSource []byte

// bootstrap is the interpreter's -c program: it reads the worker program
// from file descriptor 4 and runs it as __main__, so nothing is written to
// disk and tracebacks name "graft-worker.py".
const bootstrap = `import sys
with open(4, "rb") as f:
    src = f.read()
exec(compile(src, "graft-worker.py", "exec"))
`

// LoadError reports an app that could not be imported: an ImportError, a
// missing attribute, a syntax error, an exception raised at import.
type LoadError struct {
	// App is the configured app spec.
	App string
	// Traceback is the Python traceback.
	Traceback string
}

// Error implements error: the exception line first, then the traceback.
func (e *LoadError) Error() string {
	tb := strings.TrimSpace(e.Traceback)
	last := tb
	if i := strings.LastIndexByte(tb, '\n'); i >= 0 {
		last = tb[i+1:]
	}
	return fmt.Sprintf("wsgi: app %q failed to load: %s\n%s", e.App, last, tb)
}
