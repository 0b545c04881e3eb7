// Package backoff spaces retries: the sinks' redeliveries, the digest's
// attempts and the policy's re-reads after a lost compare-and-set.
package backoff

import (
	"math/rand/v2"
	"time"
)

// Backoff is the delay before attempt n+1 after n failed attempts:
// exponential from Min, capped at Max, with "equal jitter" (a uniformly
// random point in the upper half) so that many notifications failing
// together do not retry in lockstep, while each still waits at least half
// its step.
type Backoff struct {
	Min, Max time.Duration
	// Rand returns a float in [0,1); tests replace it.
	Rand func() float64
}

// Delay returns the wait after the n-th failed attempt (n ≥ 1).
func (b Backoff) Delay(n int) time.Duration {
	d := b.Min
	for i := 1; i < n && d < b.Max; i++ {
		d *= 2
	}
	if d > b.Max {
		d = b.Max
	}
	r := rand.Float64
	if b.Rand != nil {
		r = b.Rand
	}
	return d/2 + time.Duration(r()*float64(d/2))
}
