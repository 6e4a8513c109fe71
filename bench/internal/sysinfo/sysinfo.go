// Package sysinfo reads what graft's benchmark programs (bench/suite,
// bench/ring) report about the machine they ran on.
package sysinfo

import (
	"os"
	"strings"
)

// LoadAverage returns the first three fields of /proc/loadavg (the 1, 5
// and 15 minute load averages), or "unknown" where there is no such file.
func LoadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}
