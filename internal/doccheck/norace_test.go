//go:build !race

package doccheck

// race is whether this test runs with -race (see race_test.go).
const race = false
