//go:build race

package doccheck

// race is whether this test runs with -race: the export data it asks the
// go command for is then the race build's, which `go test -race ./...`
// builds anyway, instead of a second build of every dependency.
const race = true
