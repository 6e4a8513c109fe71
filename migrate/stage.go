package migrate

import "fmt"

// Stage is where a Go route is in its migration from Python.
type Stage string

// The stages, in the order a route usually goes through them.
const (
	// StagePython: the Go handler is registered (deployed dark) but the
	// fallback (Python) serves.
	StagePython Stage = "python"
	// StageShadow: Python serves the client; the Go handler runs on a
	// copy of the request and the two responses are compared.
	StageShadow Stage = "shadow"
	// StageCanary: a sticky percentage of requests is served by Go, the
	// rest by Python; a sample of the Go-served ones can be compared
	// against Python (reverse shadow).
	StageCanary Stage = "canary"
	// StageGo: Go serves, with optional reverse-shadow sampling. It is the
	// stage of every route with no configuration.
	StageGo Stage = "go"
)

// ParseStage returns the Stage named s, or an error.
func ParseStage(s string) (Stage, error) {
	switch st := Stage(s); st {
	case StagePython, StageShadow, StageCanary, StageGo:
		return st, nil
	}
	return "", fmt.Errorf("migrate: unknown stage %q (want python, shadow, canary or go)", s)
}

// needsFallback reports whether the stage has Python serve some requests.
func (s Stage) needsFallback() bool {
	return s == StagePython || s == StageShadow || s == StageCanary
}

// Side is one of the two implementations of a route.
type Side string

// The two sides.
const (
	// SidePython is the fallback, typically the Python app.
	SidePython Side = "python"
	// SideGo is the route's Go handler.
	SideGo Side = "go"
)
