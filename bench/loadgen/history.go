package loadgen

import (
	"context"
	"strconv"
	"time"

	"github.com/alertgate/alertgate"
	"github.com/alertgate/alertgate/bus"
)

// historyServices are the services of History's keys: the bench's config
// routes checkout to payments and the rest to platform.
var historyServices = [...]string{"checkout", "search", "api", "disk"}

// History returns event i of a stored history of keys keys, one event
// every step from start, as the events source normalizes them: a quarter
// of the keys are bug classes (an occurrence each time), the rest
// incidents whose events alternate firing and resolved, a new episode per
// firing. What a replay reads from ALERTS, without going through HTTP.
func History(i, keys int, start time.Time, step time.Duration) alertgate.Event {
	k, round := i%keys, i/keys
	svc := historyServices[k%len(historyServices)]
	ev := alertgate.Event{
		ID: "h" + strconv.Itoa(i), Source: alertgate.SourceEvents, Key: "events:k" + strconv.Itoa(k),
		Severity: alertgate.SeverityWarning, Title: "Trouble with " + svc + " " + strconv.Itoa(k),
		Service: svc, Labels: map[string]string{"alertname": "Trouble" + strconv.Itoa(k%50)},
		OccurredAt: start.Add(time.Duration(i) * step), ReceivedAt: start.Add(time.Duration(i) * step),
		Status: alertgate.StatusFiring,
	}
	if k%4 == 0 {
		ev.Kind = alertgate.KindBug
	} else {
		ev.Kind = alertgate.KindIncident
		ev.Episode = "ep" + strconv.Itoa(round/2)
		if round%2 == 1 {
			ev.Status = alertgate.StatusResolved
		}
	}
	ev.Finish()
	return ev
}

// historyBatch is how many events StoreHistory publishes at once (the bus
// packs them into as few ALERTS messages as its size bound allows).
const historyBatch = 1000

// StoreHistory publishes History's events 0 to n-1 straight to ALERTS,
// batched: a history to replay, stored in seconds instead of the minutes
// the webhooks would take.
func StoreHistory(ctx context.Context, b *bus.Bus, n, keys int, start time.Time, step time.Duration) error {
	evs := make([]alertgate.Event, 0, historyBatch)
	for i := 0; i < n; i++ {
		evs = append(evs, History(i, keys, start, step))
		if len(evs) == historyBatch || i == n-1 {
			if _, err := b.PublishEvents(ctx, evs); err != nil {
				return err
			}
			evs = evs[:0]
		}
	}
	return nil
}
