package netlist

import (
	"net/netip"
	"testing"
)

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		entries []string
		in, out []string
	}{
		{[]string{"10.0.0.0/8", " 127.0.0.1 ", "::1"}, []string{"10.1.2.3", "127.0.0.1", "::ffff:127.0.0.1", "::1"}, []string{"11.0.0.1", "::2", "127.0.0.2"}},
		{[]string{"::ffff:172.16.0.0/108"}, []string{"172.16.5.5", "::ffff:172.16.0.1"}, []string{"172.32.0.1"}},
		{[]string{"fe80::/10"}, []string{"fe80::1%eth0"}, []string{"fec0::1"}},
		{[]string{"*"}, []string{"192.0.2.1", "2001:db8::1", "::ffff:10.0.0.1"}, nil},
		{nil, nil, []string{"127.0.0.1", "::1"}},
	} {
		l, err := Parse(tc.entries...)
		if err != nil {
			t.Fatalf("Parse(%q): %v", tc.entries, err)
		}
		for _, a := range tc.in {
			if !l.Contains(netip.MustParseAddr(a)) {
				t.Errorf("Parse(%q) does not contain %s", tc.entries, a)
			}
		}
		for _, a := range tc.out {
			if l.Contains(netip.MustParseAddr(a)) {
				t.Errorf("Parse(%q) contains %s", tc.entries, a)
			}
		}
		if l.Contains(netip.Addr{}) {
			t.Errorf("Parse(%q) contains the invalid address", tc.entries)
		}
	}
	for _, bad := range []string{"10.0.0.0/33", "nope", "::ffff:1.2.3.4/64", "**", "*/8", "", "fe80::1%eth0", "1.2.3.4 5"} {
		if _, err := Parse(bad); err == nil {
			t.Errorf("Parse(%q): no error", bad)
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"10.0.0.0/8", "::1", "*", "::ffff:10.0.0.0/104", "fe80::1%eth0", "1.2.3.4/0"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		l, err := Parse(s)
		if err != nil {
			return
		}
		for _, pr := range l {
			if !pr.IsValid() || pr != pr.Masked() || pr.Addr().Is4In6() {
				t.Fatalf("Parse(%q) gave %v", s, pr)
			}
		}
	})
}
