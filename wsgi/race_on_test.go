//go:build race

package wsgi

// raceEnabled: the race detector's shadow memory inflates Go's RSS.
const raceEnabled = true
