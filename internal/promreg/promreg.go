// Package promreg holds graft's one rule for a collector that several
// parts of one process may each register with the same registry (a
// middleware per Router, a Serve per listener set): the first registers
// it, the next ones get the collector already there, so that they count
// into one metric instead of failing.
package promreg

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"
)

// Shared registers c with reg and returns it, or returns the collector of
// the same description that reg holds already. Any other failure (metrics
// of the same name with other labels or help) is returned with c.
func Shared[C prometheus.Collector](reg prometheus.Registerer, c C) (C, error) {
	err := reg.Register(c)
	if err == nil {
		return c, nil
	}
	var are prometheus.AlreadyRegisteredError
	if errors.As(err, &are) {
		if existing, ok := are.ExistingCollector.(C); ok {
			return existing, nil
		}
	}
	return c, err
}
