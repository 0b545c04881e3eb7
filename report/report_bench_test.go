package report_test

import (
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/alertgate/alertgate"
	"github.com/alertgate/alertgate/bus"
	"github.com/alertgate/alertgate/config"
	"github.com/alertgate/alertgate/internal/metrics"
	"github.com/alertgate/alertgate/internal/natstest"
	"github.com/alertgate/alertgate/internal/wire"
	"github.com/alertgate/alertgate/report"
	"github.com/alertgate/alertgate/routes"
)

// BenchmarkReport builds a 14-day report over streams holding
// ALERTGATE_REPORT_BENCH_MESSAGES messages (default 100,000), half in
// ALERTS (bug and incident events of 20,000 keys), half in NOTIFY (pages,
// resolves and bug items), spread over the 14 days.
func BenchmarkReport(b *testing.B) {
	total := 100_000
	if v := os.Getenv("ALERTGATE_REPORT_BENCH_MESSAGES"); v != "" {
		total, _ = strconv.Atoi(v)
	}
	cfg, err := config.Load([]byte("teams: [{name: payments}, {name: platform}]\nroutes: [{match: ['service=\"checkout\"'], team: payments}, {team: platform}]\n"), nil)
	if err != nil {
		b.Fatal(err)
	}
	bs := natstest.OpenBus(b, b.TempDir())
	until := time.Now()
	since := until.Add(-14 * 24 * time.Hour)
	step := until.Sub(since) / time.Duration(total/2)
	pub := func(subject string, v any) {
		data, err := wire.Marshal(v)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := bs.JS.PublishMsgAsync(&nats.Msg{Subject: subject, Data: data}, jetstream.WithStallWait(time.Minute)); err != nil {
			b.Fatal(err)
		}
	}
	services := []string{"checkout", "search"}
	for i := range total / 2 {
		at := since.Add(time.Duration(i) * step)
		key := fmt.Sprintf("events:key-%d", i%20_000)
		ev := alertgate.Event{ID: strconv.Itoa(i), Source: alertgate.SourceEvents, Kind: alertgate.KindBug, Key: key, Status: alertgate.StatusFiring,
			Severity: alertgate.SeverityWarning, Title: "Trouble with " + key, Service: services[i%2], OccurredAt: at, ReceivedAt: at, Count: 1}
		if i%3 == 0 {
			ev.Kind, ev.Episode = alertgate.KindIncident, strconv.Itoa(i)
		}
		ev.Finish()
		pub(bus.SubjectAlerts+".events", &ev)
		n := alertgate.Notification{ID: "n" + strconv.Itoa(i), Sink: alertgate.SinkSlack, Team: "platform", Type: alertgate.TypeBugNew, Key: key, Event: ev, CreatedAt: at}
		switch i % 4 {
		case 0:
			n.Sink, n.Team, n.Type, n.DedupKey = alertgate.SinkPagerDuty, "payments", alertgate.TypePage, key+"/"+strconv.Itoa(i)
		case 1:
			n.Sink, n.Team, n.Type, n.DedupKey = alertgate.SinkPagerDuty, "payments", alertgate.TypeResolve, key+"/"+strconv.Itoa(i-1)
		}
		pub(bus.NotifySubjectOf(n), &n)
	}
	select {
	case <-bs.JS.PublishAsyncComplete():
	case <-time.After(5 * time.Minute):
		b.Fatal("publishing did not complete")
	}
	r := report.New(cfg, bs, routes.New(cfg, nil), metrics.New(), slog.New(slog.DiscardHandler))
	b.ResetTimer()
	for b.Loop() {
		rep, err := r.Report(b.Context(), alertgate.ReportQuery{Since: since, Until: until.Add(time.Second)})
		if err != nil {
			b.Fatal(err)
		}
		if got := rep.Read.Alerts + rep.Read.Notify; got != total/2*2 {
			b.Fatalf("read %d messages, want %d", got, total)
		}
	}
	b.ReportMetric(float64(total), "messages/op")
}
