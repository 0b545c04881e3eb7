package dedup_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math"
	"testing"
	"time"

	"github.com/alertgate/alertgate"
	"github.com/alertgate/alertgate/bus"
	"github.com/alertgate/alertgate/dedup"
)

// benchSettings never spike: bug_counted stays counted however long it runs.
// benchSettings expire keys as the config's defaults do, so a write carries a
// TTL where the gateway's would.
var benchSettings = dedup.Settings{SpikeCount: math.MaxInt64, SpikeWithin: time.Hour, ReopenAfter: 20 * time.Minute, BugClassTTL: 90 * 24 * time.Hour, IncidentTTL: 30 * 24 * time.Hour}

var benchMatch = alertgate.Match{Route: 0, Team: "payments", Runbook: &alertgate.Runbook{ID: "checkout-high-error-rate", URL: "http://alertgate.bench/runbooks/checkout-high-error-rate"}}

func benchIncident(key string, at time.Time) alertgate.Event {
	ev := alertgate.Event{
		ID: "alertmanager:" + key + "@" + at.Format(time.RFC3339Nano) + ":firing", Source: alertgate.SourceAlertmanager,
		Kind: alertgate.KindIncident, Key: "alertmanager:v1:" + key, Episode: key + "@" + at.Format(time.RFC3339Nano),
		Status: alertgate.StatusFiring, Severity: alertgate.SeverityCritical, Title: "5xx ratio above 5% on checkout",
		Service: "checkout", Labels: map[string]string{"alertname": "HighErrorRate", "service": "checkout", "instance": "10.0.3.17:8080"},
		OccurredAt: at, ReceivedAt: at, Count: 1, Transition: "firing",
	}
	ev.Finish()
	return ev
}

func benchBug(key string, at time.Time) alertgate.Event {
	ev := alertgate.Event{
		ID: "sentry:event:" + key + at.Format(time.RFC3339Nano), Source: alertgate.SourceSentry, Kind: alertgate.KindBug,
		Key: "sentry:v1:issue:" + key, Status: alertgate.StatusFiring, Severity: alertgate.SeverityError,
		Title: "ReferenceError: heck is not defined", Service: "front-end", Labels: map[string]string{"environment": "production"},
		OccurredAt: at, ReceivedAt: at, Count: 1, Transition: "event_alert.triggered",
	}
	ev.Finish()
	return ev
}

// BenchmarkDecide is the pure policy step: the decision on a state
// already read.
func BenchmarkDecide(b *testing.B) {
	at := time.Date(2026, 3, 14, 9, 0, 0, 0, time.UTC)
	inc := benchIncident("0335742509d16c93", at)
	open, _ := dedup.DecideIncident(nil, inc, benchMatch, benchSettings)
	bug := benchBug("1117540176", at)
	known, _ := dedup.DecideBug(nil, bug, benchMatch, benchSettings)
	// Another occurrence of the class (the same one again is a redelivery).
	again := benchBug("1117540176", at.Add(time.Second))
	b.Run("incident_new_episode", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, d := dedup.DecideIncident(nil, inc, benchMatch, benchSettings); d.Outcome != dedup.OutcomePaged {
				b.Fatal(d.Outcome)
			}
		}
	})
	b.Run("incident_repeat", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, d := dedup.DecideIncident(open, inc, benchMatch, benchSettings); d.Outcome != dedup.OutcomeDuplicate {
				b.Fatal(d.Outcome)
			}
		}
	})
	b.Run("bug_new_class", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, d := dedup.DecideBug(nil, bug, benchMatch, benchSettings); d.Outcome != dedup.OutcomeNew {
				b.Fatal(d.Outcome)
			}
		}
	})
	b.Run("bug_counted", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, d := dedup.DecideBug(known, again, benchMatch, benchSettings); d.Outcome != dedup.OutcomeCounted {
				b.Fatal(d.Outcome)
			}
		}
	})
}

// discard is an Emitter that stores nothing.
type discard struct{}

func (discard) Emit(context.Context, []alertgate.Notification) error { return nil }

// BenchmarkPolicyApply is the policy step as the router runs it: read the
// key's state from JetStream KV (embedded server, file store, as alertgate
// opens it), decide, write by revision. Emitting notifications is not
// included (a no-op here).
func BenchmarkPolicyApply(b *testing.B) {
	ctx := context.Background()
	bs, err := bus.Open(ctx, bus.Options{DataDir: b.TempDir(), Name: "bench"}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(bs.Close)
	p := &dedup.Policy{Incidents: dedup.NewBucket(bs.JS, bs.Incidents), Bugs: dedup.NewBucket(bs.JS, bs.Bugs), Settings: benchSettings}
	var emit discard
	at := time.Now().UTC()
	run := func(name string, ev func(i int) alertgate.Event, want string) {
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				d, err := p.Apply(ctx, ev(i), benchMatch, emit)
				if err != nil {
					b.Fatal(err)
				}
				if d.Outcome != want {
					b.Fatalf("outcome %s, want %s", d.Outcome, want)
				}
				i++
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
		})
	}
	run("incident_new_key", func(i int) alertgate.Event { return benchIncident(fmt.Sprintf("n%015x", i), at) }, dedup.OutcomePaged)
	repeat := benchIncident("0335742509d16c93", at)
	if _, err := p.Apply(ctx, repeat, benchMatch, emit); err != nil {
		b.Fatal(err)
	}
	// The paging event again while its page is in the outbox (a
	// redelivery): the page is emitted again, nothing is written.
	run("incident_redelivered", func(int) alertgate.Event { return repeat }, dedup.OutcomeDuplicate)
	// Re-sends, each under an ID of its own (Alertmanager's repeat): read,
	// decide, write.
	run("incident_repeat", func(i int) alertgate.Event {
		ev := repeat
		ev.ID = fmt.Sprintf("%s#%d", repeat.ID, i)
		return ev
	}, dedup.OutcomeDuplicate)
	run("bug_new_class", func(i int) alertgate.Event { return benchBug(fmt.Sprintf("b%d", i), at) }, dedup.OutcomeNew)
	known := benchBug("1117540176", at)
	if _, err := p.Apply(ctx, known, benchMatch, emit); err != nil {
		b.Fatal(err)
	}
	// Each a new occurrence of the known class: the same event again would
	// be a redelivery, found already decided.
	run("bug_counted", func(i int) alertgate.Event { return benchBug("1117540176", at.Add(time.Duration(i+1))) }, dedup.OutcomeCounted)
}
