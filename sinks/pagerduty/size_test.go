package pagerduty_test

import (
	"encoding/json"
	"fmt"
	"maps"
	"strings"
	"testing"

	"github.com/alertgate/alertgate"
	"github.com/alertgate/alertgate/internal/contract"
)

// A page is never over PagerDuty's 512 KB, however large what it carries:
// the largest texts are cut first, each marked, and the page still goes
// out valid.
func TestEventFitsPagerDuty(t *testing.T) {
	const limit = 512 * 1024
	huge := strings.Repeat("v", 900<<10)
	escaped := strings.Repeat(`<"&>`, 100<<10) // 6 or 2 bytes each once encoded
	medium := func(n, size int) map[string]string {
		l := map[string]string{"alertname": "HighErrorRate", "service": "checkout"}
		for i := range n {
			l[fmt.Sprintf("label_%05d", i)] = strings.Repeat(string(rune('a'+i%26)), size)
		}
		return l
	}
	for _, tc := range []struct {
		name  string
		note  func(*alertgate.Notification)
		steps string // the runbook's steps where the page is sent
		check func(t *testing.T, b map[string]any)
	}{
		{
			// The probe's case: one label as large as the webhook. Only
			// that label is cut; the rest of the page is as it was.
			name: "one huge label",
			note: func(n *alertgate.Notification) { n.Event.Labels["blob"] = huge },
			check: func(t *testing.T, b map[string]any) {
				blob := str(b, "payload.custom_details.labels.blob")
				if !strings.HasPrefix(blob, "vvvv") || !strings.HasSuffix(blob, " bytes]") || !strings.Contains(blob, "… [truncated ") {
					t.Errorf("labels.blob=%.40q…%q, want its start and the marker", blob, blob[max(0, len(blob)-30):])
				}
				for _, c := range []struct{ path, want string }{
					{"payload.summary", "[checkout] High error rate"},
					{"payload.custom_details.description", "5xx above 5% for 10m"},
					{"payload.custom_details.runbook", steps},
					{"payload.custom_details.labels.alertname", "HighErrorRate"},
				} {
					if got := str(b, c.path); got != c.want {
						t.Errorf("%s=%q, want %q (untouched)", c.path, got, c.want)
					}
				}
				if got, want := len(links(b)), 2; got != want {
					t.Errorf("links=%v, want both", links(b))
				}
			},
		},
		{
			// Many medium labels: each is cut to the same length.
			name: "many medium labels",
			note: func(n *alertgate.Notification) { n.Event.Labels = medium(3000, 300) },
			check: func(t *testing.T, b map[string]any) {
				labels, _ := get(b, "payload.custom_details.labels").(map[string]any)
				if got, want := len(labels), 3002; got != want {
					t.Errorf("%d labels, want all %d", got, want)
				}
				if s, _ := labels["label_00007"].(string); !strings.Contains(s, "… [truncated ") {
					t.Errorf("label_00007=%q, want it cut", s)
				}
				if got := str(b, "payload.custom_details.labels.service"); got != "checkout" {
					t.Errorf("labels.service=%q, want it untouched (short)", got)
				}
			},
		},
		{
			// More label names than fit even with every value cut: the
			// largest are left out, and the page says how many.
			name: "many labels, names alone too large",
			note: func(n *alertgate.Notification) {
				n.Event.Labels = map[string]string{"alertname": "HighErrorRate"}
				for i := range 30000 {
					n.Event.Labels[fmt.Sprintf("a_rather_long_label_name_%06d", i)] = "x"
				}
			},
			check: func(t *testing.T, b map[string]any) {
				if got := str(b, "payload.custom_details.labels_omitted"); !strings.HasSuffix(got, " labels left out to fit PagerDuty's 512 KB") {
					t.Errorf("labels_omitted=%q, want the count", got)
				}
				if got := str(b, "payload.custom_details.labels.alertname"); got != "HighErrorRate" {
					t.Errorf("labels.alertname=%q, want it kept (the labels left out are the largest)", got)
				}
			},
		},
		{
			name:  "huge runbook steps",
			steps: strings.Repeat("1. Restart the pods.\n", 50000),
			check: func(t *testing.T, b map[string]any) {
				rb := str(b, "payload.custom_details.runbook")
				if !strings.HasPrefix(rb, "1. Restart the pods.\n") || !strings.Contains(rb, "… [truncated ") {
					t.Errorf("runbook=%.40q…, want its start and the marker", rb)
				}
			},
		},
		{
			// The description is cut to 8 KiB as before, escapes and all.
			name: "huge description",
			note: func(n *alertgate.Notification) { n.Event.Description = escaped },
			check: func(t *testing.T, b map[string]any) {
				if got := str(b, "payload.custom_details.description"); len(got) > 8<<10 || !strings.HasPrefix(got, `<"&>`) {
					t.Errorf("description of %d bytes, want at most 8 KiB of its start", len(got))
				}
			},
		},
		{
			// A link as large as the webhook cannot be cut (it would not
			// be a URL): it is left out, and the page says so.
			name: "huge link",
			note: func(n *alertgate.Notification) {
				n.Event.Links = append(n.Event.Links, alertgate.Link{Href: "https://prometheus.example.com/graph?g0.expr=" + huge, Text: "Source"})
			},
			check: func(t *testing.T, b map[string]any) {
				if got, want := strings.Join(links(b), "\n"), runbook.URL+" Runbook: "+runbook.Title+"\nhttps://grafana.example.com/d/checkout Dashboard"; got != want {
					t.Errorf("links=\n%s\nwant\n%s", got, want)
				}
				if got := str(b, "payload.custom_details.links_omitted"); got != "1 links left out to fit PagerDuty's 512 KB" {
					t.Errorf("links_omitted=%q", got)
				}
				if got := str(b, "payload.custom_details.description"); got != "5xx above 5% for 10m" {
					t.Errorf("description=%q, want it untouched", got)
				}
			},
		},
		{
			name: "all at once",
			note: func(n *alertgate.Notification) {
				n.Event.Labels = medium(2000, 400)
				n.Event.Labels["blob"] = huge
				n.Event.Labels["escaped"] = escaped
				n.Event.Labels["invalid"] = strings.Repeat("\xff", 200<<10)
				n.Event.Labels["alertname"] = escaped // component
				n.Event.Service = huge                // source, group, the summary's prefix
				n.Event.Labels["service"] = huge
				n.Event.Title = escaped
				n.Event.Description = escaped
				n.Event.Transition = huge
				n.Event.Links = append(n.Event.Links,
					alertgate.Link{Href: "https://example.com/?q=" + huge, Text: "big"},
					alertgate.Link{Href: "https://example.com/ok", Text: huge})
				n.Runbook = &alertgate.Runbook{ID: runbook.ID, Title: huge, URL: runbook.URL}
			},
			steps: escaped,
			check: func(t *testing.T, b map[string]any) {
				if got := str(b, "payload.summary"); len(got) > 1024 || got == "" {
					t.Errorf("summary of %d bytes", len(got))
				}
				if got := str(b, "routing_key"); got != paymentsKey {
					t.Errorf("routing_key=%q", got)
				}
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pd := newFakePagerDuty(t)
			n := pd.notifier()
			n.Runbooks = loadedRunbooks{runbook.ID: steps}
			if tc.steps != "" {
				n.Runbooks = loadedRunbooks{runbook.ID: tc.steps}
			}
			note := page()
			note.Event.Labels = maps.Clone(note.Event.Labels)
			if tc.note != nil {
				tc.note(&note)
			}
			labelsBefore := maps.Clone(note.Event.Labels)

			ev, err := n.Event(paymentsKey, note)
			if err != nil {
				t.Fatal(err)
			}
			body, err := json.Marshal(ev)
			if err != nil {
				t.Fatal(err)
			}
			if len(body) > limit {
				t.Fatalf("body of %d bytes, over PagerDuty's %d", len(body), limit)
			}
			if err := contract.PagerDuty(body); err != nil {
				t.Fatalf("against the contract: %v", err)
			}
			if !maps.Equal(note.Event.Labels, labelsBefore) {
				t.Fatalf("the notification's labels were changed")
			}
			var b map[string]any
			if err := json.Unmarshal(body, &b); err != nil {
				t.Fatal(err)
			}
			tc.check(t, b)

			// And it goes out: the loopback PagerDuty checks the
			// contract, size included.
			if retry, err := n.Notify(t.Context(), note); err != nil {
				t.Fatalf("Notify: retry=%v, %v", retry, err)
			}
			if got := pd.last(t); str(got, "dedup_key") != note.DedupKey {
				t.Fatalf("PagerDuty received dedup_key %q", str(got, "dedup_key"))
			}
		})
	}
}
