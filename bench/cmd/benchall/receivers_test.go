package main

import (
	"bytes"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/alertgate/alertgate"
	"github.com/alertgate/alertgate/sinks/pagerduty"
)

// pageBody is the body alertgate's PagerDuty sink sends for a page of the
// storm's incident with the given related signals.
func pageBody(t *testing.T, rel *alertgate.Related) []byte {
	t.Helper()
	ev := stormEvent(t)
	note := alertgate.Notification{ID: "page:" + ev.Key, Sink: alertgate.SinkPagerDuty, Team: "payments", Type: alertgate.TypePage,
		Key: ev.Key, DedupKey: ev.Key + "/1", Event: ev, CreatedAt: time.Now()}
	n := pagerduty.New("http://127.0.0.1:1", map[string]string{"payments": "paymentspaymentspaymentspayments"}, 0, "http://alertgate.bench", nil)
	if rel != nil {
		n.Related = fixedRelated{rel}
	}
	pe, err := n.Event("paymentspaymentspaymentspayments", note)
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(pe)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// fixedRelated answers every page with the same related signals.
type fixedRelated struct{ r *alertgate.Related }

func (f fixedRelated) Related(map[string]string, string, time.Time) *alertgate.Related { return f.r }

func TestPagerDutyCountsPagesWithRelatedSignals(t *testing.T) {
	pd := newPagerDuty()
	defer pd.Close()
	pd.validate.Store(true)
	now := time.Now()
	full := &alertgate.Related{On: map[string]string{"service": "checkout"}, Window: "30m0s",
		Bugs:      []alertgate.RelatedBug{{Key: "events:bench:bug:1", Title: "TypeError", Source: alertgate.SourceEvents, Count: 3, FirstSeen: now, LastSeen: now, Status: alertgate.RelatedNew}},
		Incidents: []alertgate.RelatedIncident{{Key: "events:bench:incident:1", Title: "Checkout down", Source: alertgate.SourceEvents, OpenedAt: now}}}
	noBugs := &alertgate.Related{On: map[string]string{"service": "checkout"}, Window: "30m0s", Bugs: []alertgate.RelatedBug{},
		Incidents: full.Incidents}
	for _, rel := range []*alertgate.Related{nil, noBugs, full, full} {
		resp, err := http.Post(pd.URL+"/v2/enqueue", "application/json", bytes.NewReader(pageBody(t, rel)))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusAccepted {
			t.Fatalf("HTTP %d (%v)", resp.StatusCode, pd.lastBad.Load())
		}
	}
	if e, r, rb := pd.events.Load(), pd.related.Load(), pd.relatedBugs.Load(); e != 4 || r != 3 || rb != 2 {
		t.Fatalf("events %d, with related %d, with related bugs %d; want 4, 3, 2", e, r, rb)
	}
}
