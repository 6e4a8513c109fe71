package main

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// clockTicks is USER_HZ, the unit of utime and stime in /proc/PID/stat: 100
// on every Linux architecture Go supports.
const clockTicks = 100

// procStat is one process's ppid and CPU time.
type procStat struct {
	ppid int
	cpu  time.Duration // utime + stime
}

// readStat parses /proc/PID/stat.
func readStat(pid int) (procStat, bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return procStat{}, false
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')') // the command may contain spaces
	if i < 0 {
		return procStat{}, false
	}
	f := strings.Fields(s[i+1:])
	// f[0] is the state (field 3); ppid is field 4, utime 14, stime 15.
	if len(f) < 13 {
		return procStat{}, false
	}
	ppid, _ := strconv.Atoi(f[1])
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return procStat{ppid: ppid, cpu: time.Duration(ut+st) * time.Second / clockTicks}, true
}

// tree returns root and its descendants, with their stats.
func tree(root int) map[int]procStat {
	all := map[int]procStat{}
	ents, _ := filepath.Glob("/proc/[0-9]*")
	for _, e := range ents {
		pid, err := strconv.Atoi(filepath.Base(e))
		if err != nil {
			continue
		}
		if st, ok := readStat(pid); ok {
			all[pid] = st
		}
	}
	if _, ok := all[root]; !ok {
		return nil
	}
	out := map[int]procStat{root: all[root]}
	for changed := true; changed; {
		changed = false
		for pid, st := range all {
			if _, in := out[pid]; !in {
				if _, parentIn := out[st.ppid]; parentIn {
					out[pid] = st
					changed = true
				}
			}
		}
	}
	return out
}

// treeCPU returns the CPU time of every process of root's tree (nil
// without /proc).
func treeCPU(root int) map[int]procStat { return tree(root) }

// cpuSplit returns the CPU time used between the two snapshots by the root
// process when it is Go, and by the other processes (all of them when
// the root is not Go). A process that appeared in between counts from 0.
func cpuSplit(root int, goRoot bool, before, after map[int]procStat) (goCPU, other time.Duration) {
	for pid, a := range after {
		d := a.cpu - before[pid].cpu
		if d < 0 {
			d = 0
		}
		if goRoot && pid == root {
			goCPU += d
		} else {
			other += d
		}
	}
	return goCPU, other
}

// peakMemory returns the sum of VmHWM (peak resident memory) over root's
// tree, and the root's own when it is Go, in MiB.
func peakMemory(root int, goRoot bool) (sum, goPeak float64) {
	for pid := range tree(root) {
		kb := statusKB(pid, "VmHWM:")
		sum += kb / 1024
		if goRoot && pid == root {
			goPeak = kb / 1024
		}
	}
	return sum, goPeak
}

// statusKB returns a "kB" field of /proc/PID/status.
func statusKB(pid int, field string) float64 {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, field) {
			f := strings.Fields(line[len(field):])
			if len(f) > 0 {
				v, _ := strconv.ParseFloat(f[0], 64)
				return v
			}
		}
	}
	return 0
}
