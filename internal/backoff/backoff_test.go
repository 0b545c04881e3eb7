package backoff

import (
	"fmt"
	"testing"
	"time"
)

func TestBackoffDelay(t *testing.T) {
	b := Backoff{Min: time.Second, Max: time.Minute}
	for _, tc := range []struct {
		n    int           // failed attempts so far
		step time.Duration // the exponential step before jitter
	}{
		// The first retry waits about Min.
		{n: 1, step: time.Second},
		// Each further failure doubles it.
		{n: 2, step: 2 * time.Second},
		{n: 3, step: 4 * time.Second},
		{n: 6, step: 32 * time.Second},
		// 64s is over Max: capped.
		{n: 7, step: time.Minute},
		// Far past the cap (and no overflow).
		{n: 1000, step: time.Minute},
	} {
		t.Run(fmt.Sprint(tc.n), func(t *testing.T) {
			for _, r := range []float64{0, 0.5, 0.999999} {
				b := b
				b.Rand = func() float64 { return r }
				d := b.Delay(tc.n)
				// Equal jitter: half the step, plus a random part of the other half.
				if got, want := d, tc.step/2+time.Duration(r*float64(tc.step/2)); got != want {
					t.Fatalf("Delay(%d) with rand %v=%v, want %v", tc.n, r, got, want)
				}
				if got, want := d >= tc.step/2 && d <= tc.step, true; got != want {
					t.Fatalf("Delay(%d)=%v, want in [%v, %v]", tc.n, d, tc.step/2, tc.step)
				}
			}
			// The default source of randomness stays in the same range.
			for range 100 {
				if d := b.Delay(tc.n); d < tc.step/2 || d > tc.step {
					t.Fatalf("Delay(%d)=%v, want in [%v, %v]", tc.n, d, tc.step/2, tc.step)
				}
			}
		})
	}
}
