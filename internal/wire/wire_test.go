package wire_test

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/alertgate/alertgate"
	"github.com/alertgate/alertgate/internal/wire"
)

func sample() alertgate.Notification {
	at := time.Date(2026, 3, 14, 9, 26, 53, 123456789, time.FixedZone("CET", 3600))
	return alertgate.Notification{
		ID: "page:alertmanager:v1:abc:ep1:1", Sink: alertgate.SinkPagerDuty, Team: "payments", Type: alertgate.TypePage,
		Key: "alertmanager:v1:abc", Episode: "ep1", DedupKey: "alertmanager:v1:abc/0123456789abcdef",
		Runbook: &alertgate.Runbook{ID: "checkout", Title: "Checkout", URL: "http://alertgate.test/runbooks/checkout", Why: "route"},
		Event: alertgate.Event{
			ID: "e1", Source: alertgate.SourceAlertmanager, Kind: alertgate.KindIncident, Key: "alertmanager:v1:abc", Episode: "ep1",
			Status: alertgate.StatusFiring, Severity: alertgate.SeverityCritical, Title: "5xx <high> & \"rising\" \u2028 ☃",
			Labels:     map[string]string{"service": "checkout", "alertname": "HighErrorRate", "zone": "eu-1"},
			Links:      []alertgate.Link{{Href: "http://prom/graph?g0.expr=a%3Eb&x=1", Text: "Source"}},
			OccurredAt: at, Count: 3, ReceivedAt: at.Add(time.Second), RequestID: "r1",
		},
		Reason: "new firing episode", CreatedAt: at,
		Body:  json.RawMessage(`{"text":"hi"}`),
		Items: []alertgate.DigestItem{{ID: "digest:bug_new:k", Type: alertgate.TypeBugNew, Key: "k", CreatedAt: at}},
	}
}

// What wire writes, encoding/json reads back to the same value, and the
// other way round: documents stored by either stay readable.
func TestRoundTripAgreesWithEncodingJSON(t *testing.T) {
	for _, n := range []alertgate.Notification{sample(), {ID: "empty"}} {
		b, err := wire.Marshal(&n)
		if err != nil {
			t.Fatal(err)
		}
		var viaStd, viaWire alertgate.Notification
		if err := json.Unmarshal(b, &viaStd); err != nil {
			t.Fatal(err)
		}
		std, _ := json.Marshal(&n)
		if err := wire.Unmarshal(std, &viaWire); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(viaStd, viaWire) {
			t.Fatalf("decoded differently:\nencoding/json of wire's: %+v\nwire of encoding/json's: %+v", viaStd, viaWire)
		}
		// And the same document, key for key.
		var a, b2 map[string]any
		_ = json.Unmarshal(b, &a)
		_ = json.Unmarshal(std, &b2)
		if !reflect.DeepEqual(a, b2) {
			t.Fatalf("documents differ:\nwire:          %s\nencoding/json: %s", b, std)
		}
	}
}

func TestInvalidUTF8IsReplacedNotRefused(t *testing.T) {
	ev := alertgate.Event{ID: "e", Title: "bad \xff byte"}
	b, err := wire.Marshal(&ev)
	if err != nil {
		t.Fatal(err)
	}
	var got alertgate.Event
	if err := wire.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	if got.Title != "bad \ufffd byte" {
		t.Fatalf("title=%q, want the byte replaced as encoding/json replaces it", got.Title)
	}
}

func BenchmarkNotification(b *testing.B) {
	n := sample()
	b.Run("encoding/json", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			out, _ := json.Marshal(&n)
			var back alertgate.Notification
			_ = json.Unmarshal(out, &back)
		}
	})
	b.Run("wire", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			out, _ := wire.Marshal(&n)
			var back alertgate.Notification
			_ = wire.Unmarshal(out, &back)
		}
	})
}
