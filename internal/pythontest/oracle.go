package pythontest

import (
	"bufio"
	"encoding/json"
	"io"
	"os/exec"
	"testing"
)

// Oracle is a Python process that answers questions, one JSON line for
// each JSON line it reads on stdin: Python's own behaviour as the
// reference of a fuzz test (Flask's reading of a session cookie,
// werkzeug's or re's matching of a path). One process serves every
// question of a test, so a fuzz input costs a line each way, not a start
// of the interpreter.
type Oracle struct {
	stdin   io.WriteCloser
	answers *bufio.Scanner
}

// StartOracle starts `python -c script args...` in dir ("" for the
// current one) with the interpreter Python(tb, mods...) returns, and stops
// it when tb ends. script reads JSON lines from stdin and prints a JSON
// line for each, flushed.
func StartOracle(tb testing.TB, dir, script string, mods []string, args ...string) *Oracle {
	tb.Helper()
	cmd := exec.Command(Python(tb, mods...), append([]string{"-c", script}, args...)...)
	cmd.Dir = dir
	stdin, err := cmd.StdinPipe()
	if err != nil {
		tb.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		tb.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { stdin.Close(); cmd.Wait() })
	answers := bufio.NewScanner(stdout)
	answers.Buffer(nil, 1<<20)
	return &Oracle{stdin: stdin, answers: answers}
}

// Ask sends question as a JSON line and decodes the answer line into
// answer, failing t when the process ended or answered something else
// than JSON.
func (o *Oracle) Ask(t testing.TB, question, answer any) {
	t.Helper()
	line, err := json.Marshal(question)
	if err != nil {
		t.Fatalf("python oracle: %v", err)
	}
	if _, err := o.stdin.Write(append(line, '\n')); err != nil {
		t.Fatalf("python oracle: %v", err)
	}
	if !o.answers.Scan() {
		t.Fatalf("python oracle ended: %v", o.answers.Err())
	}
	if err := json.Unmarshal(o.answers.Bytes(), answer); err != nil {
		t.Fatalf("python oracle answered %q: %v", o.answers.Bytes(), err)
	}
}
