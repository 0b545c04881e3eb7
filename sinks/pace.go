package sinks

import (
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Pace spaces sends per destination (a PagerDuty routing key, a Slack
// webhook): one token bucket each, made on first use. Teams that share a
// destination share its limit, as the destination counts them together.
type Pace struct {
	every time.Duration
	burst int

	mu      sync.Mutex
	buckets map[string]*rate.Limiter
}

// NewPace allows one send per every to each destination, with bursts of up
// to burst (at least 1).
func NewPace(every time.Duration, burst int) *Pace {
	return &Pace{every: every, burst: max(1, burst), buckets: map[string]*rate.Limiter{}}
}

// Reserve takes the next turn to send to dest and says how long until it
// comes. The empty destination (a dry-run team) is never paced.
func (p *Pace) Reserve(dest string) time.Duration {
	if dest == "" {
		return 0
	}
	p.mu.Lock()
	b := p.buckets[dest]
	if b == nil {
		b = rate.NewLimiter(rate.Every(p.every), p.burst)
		p.buckets[dest] = b
	}
	p.mu.Unlock()
	return b.Reserve().Delay()
}
