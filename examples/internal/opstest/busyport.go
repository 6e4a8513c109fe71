package opstest

import (
	"net"
	"strings"
	"testing"
)

// BusyPort checks that run, an example's command, fails with the bind
// error when the port of -bind or of -metrics-bind is in use, and returns
// at once: before Python starts (its -python does not exist).
func BusyPort(t *testing.T, run func(args []string) error) {
	t.Helper()
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	for _, args := range [][]string{
		{"-bind", busy.Addr().String()},
		{"-bind", "127.0.0.1:0", "-metrics-bind", busy.Addr().String()},
	} {
		err := run(append(args, "-python", "/nonexistent/python"))
		if err == nil || !strings.Contains(err.Error(), "listen tcp "+busy.Addr().String()) {
			t.Errorf("run(%q): %v; want the bind error", args, err)
		}
	}
}
