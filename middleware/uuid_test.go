package middleware

import (
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
)

func TestIDGenerator(t *testing.T) {
	var g idGenerator
	before := time.Now().UnixMilli()
	prev := ""
	for i := 0; i < 10000; i++ { // more than 4096: the counter carries
		id := g.next()
		u, err := uuid.Parse(id)
		if err != nil {
			t.Fatalf("%q: %v", id, err)
		}
		if u.Version() != 7 || u.Variant() != uuid.RFC4122 {
			t.Fatalf("%q: version %d variant %v, want 7 RFC4122", id, u.Version(), u.Variant())
		}
		if u.String() != id {
			t.Fatalf("%q is not canonical (%q)", id, u.String())
		}
		if id <= prev {
			t.Fatalf("%q after %q: not increasing", id, prev)
		}
		prev = id
		if i == 0 {
			sec, nsec := u.Time().UnixTime()
			if ms := sec*1000 + nsec/1e6; ms < before || ms > time.Now().UnixMilli() {
				t.Errorf("%q: timestamp %d ms, want between %d and now", id, ms, before)
			}
		}
	}
}

// TestIDGeneratorAt: an id made at a time the caller read (Stack's start
// of the request) carries that time's milliseconds, and the ids of one
// generator still increase when a caller's time is behind the last id's.
func TestIDGeneratorAt(t *testing.T) {
	var g idGenerator
	for _, tc := range []struct {
		name string
		at   time.Time
		ms   int64 // the timestamp wanted
	}{
		{"a time", time.UnixMilli(1764633600123).Add(456 * time.Microsecond), 1764633600123},
		{"a later time", time.UnixMilli(1764633600500), 1764633600500},
		{"an earlier time: the last id's millisecond", time.UnixMilli(1764633600200), 1764633600500},
	} {
		t.Run(tc.name, func(t *testing.T) {
			u, err := uuid.Parse(g.at(tc.at))
			if err != nil {
				t.Fatal(err)
			}
			if sec, nsec := u.Time().UnixTime(); sec*1000+nsec/1e6 != tc.ms {
				t.Errorf("timestamp %d ms, want %d", sec*1000+nsec/1e6, tc.ms)
			}
		})
	}
}

func TestIDGeneratorConcurrent(t *testing.T) {
	var g idGenerator
	const n, per = 4, 5000
	ids := make([][]string, n)
	var wg sync.WaitGroup
	for i := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range per {
				ids[i] = append(ids[i], g.next())
			}
		}()
	}
	wg.Wait()
	seen := make(map[string]bool, n*per)
	for _, l := range ids {
		for j, id := range l {
			if seen[id] {
				t.Fatalf("duplicate id %q", id)
			}
			seen[id] = true
			if j > 0 && id <= l[j-1] {
				t.Fatalf("%q after %q in one goroutine: not increasing", id, l[j-1])
			}
		}
	}
}
