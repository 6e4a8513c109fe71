package wsgi

import (
	"go/ast"
	"go/constant"
	"go/parser"
	"go/token"
	"go/types"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/graft-dev/graft/internal/pythontest"
)

// TestProtocolConstants: wire.go and worker.py define the same frame
// types, flags and limits, under matching names (frameReq is REQ,
// flagBodyFD is F_BODY_FD, frameHeaderSize is HEADER_SIZE, maxFrame is
// MAX_FRAME) and with the same values. Neither file can gain, lose or
// change a constant without the other.
func TestProtocolConstants(t *testing.T) {
	goConsts := wireConstants(t)
	pyConsts := workerConstants(t)
	for name, v := range goConsts {
		py, ok := pyConsts[name]
		if !ok {
			t.Errorf("worker.py lacks %s = %d (wire.go has it)", name, v)
		} else if py != v {
			t.Errorf("%s: wire.go says %d, worker.py says %d", name, v, py)
		}
	}
	for name, v := range pyConsts {
		if _, ok := goConsts[name]; !ok {
			t.Errorf("wire.go lacks %s = %d (worker.py has it)", name, v)
		}
	}
	if len(goConsts) < 20 {
		t.Errorf("found only %d protocol constants in wire.go: %v", len(goConsts), goConsts)
	}
}

// pyName turns a Go constant's name into the worker.py one.
func pyName(goName string) string {
	snake := func(s string) string {
		var b strings.Builder
		for i, r := range s {
			if i > 0 && r >= 'A' && r <= 'Z' && s[i-1] >= 'a' && s[i-1] <= 'z' {
				b.WriteByte('_')
			}
			b.WriteRune(r)
		}
		return strings.ToUpper(b.String())
	}
	switch {
	case goName == "frameHeaderSize":
		return "HEADER_SIZE"
	case goName == "maxFrame":
		return "MAX_FRAME"
	case strings.HasPrefix(goName, "frame"):
		return snake(strings.TrimPrefix(goName, "frame"))
	case strings.HasPrefix(goName, "flag"):
		return "F_" + snake(strings.TrimPrefix(goName, "flag"))
	case strings.HasPrefix(goName, "pipeRecord"):
		return snake(goName)
	}
	return ""
}

// wireConstants evaluates the protocol constants of wire.go, by their
// worker.py names.
func wireConstants(t *testing.T) map[string]int64 {
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, "wire.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	conf := types.Config{Importer: nil, Error: func(error) {}} // only constants matter
	info := &types.Info{Defs: map[*ast.Ident]types.Object{}}
	conf.Check("wsgi", fset, []*ast.File{f}, info)
	out := map[string]int64{}
	for id, obj := range info.Defs {
		c, ok := obj.(*types.Const)
		if !ok || c.Parent() != c.Pkg().Scope() {
			continue
		}
		name := pyName(id.Name)
		if name == "" {
			continue
		}
		v, ok := constant.Int64Val(c.Val())
		if !ok {
			t.Fatalf("%s is not an integer constant", id.Name)
		}
		out[name] = v
	}
	return out
}

// workerConstants reads worker.py's protocol constants: the NAME = int
// lines between "# Protocol constants." and the first blank line, plus
// MAX_FRAME and HEADER_SIZE.
func workerConstants(t *testing.T) map[string]int64 {
	src, err := os.ReadFile("worker.py")
	if err != nil {
		t.Fatal(err)
	}
	text := string(src)
	start := strings.Index(text, "\n# Protocol constants.")
	if start < 0 {
		t.Fatal(`worker.py has no "# Protocol constants." block`)
	}
	block, _, _ := strings.Cut(text[start+1:], "\n\n")
	line := regexp.MustCompile(`^([A-Z][A-Z_]*) = (\d+)(\s+#.*)?$`)
	out := map[string]int64{}
	for _, l := range strings.Split(block, "\n") {
		if strings.HasPrefix(l, "#") {
			continue
		}
		m := line.FindStringSubmatch(l)
		if m == nil {
			t.Fatalf("worker.py protocol block: cannot read %q", l)
		}
		v, _ := strconv.ParseInt(m[2], 10, 64)
		out[m[1]] = v
	}
	for _, name := range []string{"MAX_FRAME", "HEADER_SIZE"} {
		m := regexp.MustCompile(`(?m)^` + name + ` = (\d+)`).FindStringSubmatch(text)
		if m == nil {
			t.Fatalf("worker.py lacks %s", name)
		}
		out[name], _ = strconv.ParseInt(m[1], 10, 64)
	}
	return out
}

// workerSendScript drives worker.py's Conn.send over a scripted socket
// whose sendmsg sends only part of what it is given (as a signal can make
// it do), and checks that the bytes that went out are the frame.
const workerSendScript = `
import importlib.util, sys
spec = importlib.util.spec_from_file_location("graft_worker", sys.argv[1])
w = importlib.util.module_from_spec(spec)
spec.loader.exec_module(w)

class Sock:
    def __init__(self, cut):
        self.out, self.cut, self.msgs = bytearray(), cut, 0
    def sendall(self, b):
        self.out += bytes(b)
    def sendmsg(self, bufs):
        self.msgs += 1
        data = b"".join(bytes(b) for b in bufs)
        n = min(len(data), self.cut)
        self.out += data[:n]
        return n

for cut in (1, 3, 8, 9, 20000, 1 << 30):
    for size in (0, 100, w.GATHER - 1, w.GATHER, 100000):
        for kind in (bytes, memoryview):
            payload = kind(bytes(i % 251 for i in range(size)))
            s = Sock(cut)
            w.Conn(s).send(w.DATA, 7, payload, 0)
            want = w.HEADER.pack(w.DATA, 0, 7, size) + bytes(payload)
            assert bytes(s.out) == want, (cut, size, kind, len(s.out))
            assert (s.msgs == 1) == (size >= w.GATHER), (size, s.msgs)
print("ok")
`

// TestWorkerSendGather: a large payload goes out in one sendmsg with its
// header, finished with sendall when sendmsg sent only part of it; the
// frame's bytes are the same whatever was cut where.
func TestWorkerSendGather(t *testing.T) {
	py := pythontest.Python(t)
	out, err := exec.Command(py, "-c", workerSendScript, "worker.py").CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != "ok" {
		t.Fatalf("%v\n%s", err, out)
	}
}
