package opstest

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// MigrationFailsFirst checks that run (an example's, with -stages and
// -admin-bind) fails on a busy -admin-bind, a broken or missing -stages
// file, before it starts Python: each run names an interpreter that does
// not exist, whose error would come first otherwise. They came after the
// app's import (for the Django example, its migrations too).
func MigrationFailsFirst(t *testing.T, run func(args []string) error) {
	t.Helper()
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	dir := t.TempDir()
	broken := filepath.Join(dir, "broken.json")
	if err := os.WriteFile(broken, []byte("{\"routes\": [\n{\"route\": \"GET /x\", \"stage\": \"later\"}]}"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-admin-bind", busy.Addr().String()}, "-admin-bind: listen tcp " + busy.Addr().String()},
		{[]string{"-stages", broken}, `stages file line 2: unknown stage "later"`},
		{[]string{"-stages", filepath.Join(dir, "missing.json")}, "create it: a file holding {} configures no route"},
		{[]string{"-stages", broken, "-admin-bind", "127.0.0.1:0"}, `stages file line 2: unknown stage "later"`},
	} {
		err := run(append(tc.args, "-bind", "127.0.0.1:0", "-python", "/nonexistent/python"))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("run(%q): %v; want the error %q, before Python starts", tc.args, err, tc.want)
		}
	}
}
