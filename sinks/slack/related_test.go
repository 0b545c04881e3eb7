package slack

import (
	"fmt"
	"strings"
	"testing"
	"time"

	slackapi "github.com/slack-go/slack"

	"github.com/alertgate/alertgate"
)

// Incidents open in the related golden.
var (
	paymentsDown = alertgate.RelatedIncident{Key: "alertmanager:v1:5a5a", Title: "PaymentsAPIDown — payments", Source: "alertmanager",
		Severity: alertgate.SeverityCritical, OpenedAt: at(3), Link: "http://alertmanager:9093/#/alerts?filter={alertname=\"PaymentsAPIDown\"}"}
	ledgerLag = alertgate.RelatedIncident{Key: "datadog:v1:777", Title: "Ledger replication lag", Source: "datadog",
		Severity: alertgate.SeverityWarning, OpenedAt: t0.Add(-time.Hour), Link: "https://app.datadoghq.com/monitors/777"}
)

// Bug classes related in the related golden.
var (
	keyError = alertgate.RelatedBug{Key: "sentry:v1:998", Title: "KeyError: 'currency'", Source: "sentry", Count: 3,
		FirstSeen: t0.AddDate(0, -1, 0), LastSeen: at(2), Status: alertgate.RelatedRegression, Link: "https://sentry.io/organizations/acme/issues/998/"}
	timeout = alertgate.RelatedBug{Key: "datadog:v1:et-1", Title: "TimeoutError in PaymentGateway.charge", Source: "datadog", Count: 152,
		FirstSeen: t0.AddDate(0, 0, -3), LastSeen: at(2), Status: alertgate.RelatedRecurring, Link: "https://app.datadoghq.com/apm/error-tracking/issue/et-1"}
	typeError = alertgate.RelatedBug{Key: "sentry:v1:1170820300", Title: "TypeError: Cannot read properties of undefined (reading 'amount') in <Checkout & Pay>", Source: "sentry", Count: 1,
		FirstSeen: at(1), LastSeen: at(1), Status: alertgate.RelatedNew, Link: "https://sentry.io/organizations/acme/issues/1170820300/"}
	// No link at the source: the class links to /v1/explain.
	connReset = alertgate.RelatedBug{Key: "sentry:v1:1", Title: "ConnectionResetError: [Errno 104] Connection reset by peer", Source: "sentry", Count: 5,
		FirstSeen: t0.AddDate(0, 0, -9), LastSeen: at(1), Status: alertgate.RelatedRecurring}
)

func on(service string) map[string]string { return map[string]string{"service": service} }

// seenAgain is b as a later page lists it: n occurrences by last.
func seenAgain(b alertgate.RelatedBug, n int64, last time.Time) alertgate.RelatedBug {
	b.Count, b.LastSeen = n, last
	return b
}

// relatedDigest: pages of checkout and payments, interleaved, each listing
// the bug classes of its service (the second checkout page a class of the
// first again, with more occurrences by then); a regression and a spike of
// payments while its incident is open, a new class of checkout during two.
func relatedDigest() Digest {
	return Digest{
		Team:        "payments",
		WindowStart: t0, WindowEnd: at(15),
		PublicURL: "http://localhost:8080",
		New: []Bug{
			{Key: "sentry:v1:1170820300", Title: "TypeError: Cannot read properties of undefined (reading 'amount') in <Checkout & Pay>", Service: "checkout", Source: "sentry",
				Link: "https://sentry.io/organizations/acme/issues/1170820300/", Severity: alertgate.SeverityCritical,
				FirstSeen: at(1), LastSeen: at(14), Count: 4, CountSince: 4,
				Related: &alertgate.Related{On: on("checkout"), Window: "30m0s", Bugs: []alertgate.RelatedBug{}, Incidents: []alertgate.RelatedIncident{
					{Key: "alertmanager:v1:0335742509d16c93", Title: "HighErrorRate — checkout", Source: "alertmanager", Severity: alertgate.SeverityCritical, OpenedAt: at(0)},
				}}},
			// No related incident: as in any digest.
			{Key: "sentry:v1:1170820242", Title: "ReferenceError: blooopy is not defined", Service: "front-end", Source: "sentry",
				Link: "https://sentry.io/organizations/acme/issues/1170820242/", Severity: alertgate.SeverityError,
				FirstSeen: at(2), LastSeen: at(12), Count: 14, CountSince: 14,
				Related: &alertgate.Related{On: on("front-end"), Window: "30m0s", Bugs: []alertgate.RelatedBug{}, Incidents: []alertgate.RelatedIncident{}}},
		},
		Regressions: []Bug{
			{Key: "sentry:v1:998", Title: "KeyError: 'currency'", Service: "payments", Source: "sentry",
				Link: "https://sentry.io/organizations/acme/issues/998/", Reason: "occurred after it was resolved", Severity: alertgate.SeverityError,
				FirstSeen: t0.AddDate(0, -1, 0), LastSeen: at(7), Count: 230, CountSince: 3,
				Related: &alertgate.Related{On: on("payments"), Window: "30m0s", Bugs: []alertgate.RelatedBug{}, Incidents: []alertgate.RelatedIncident{paymentsDown}}},
		},
		Spikes: []Bug{
			{Key: "datadog:v1:et-1", Title: "TimeoutError in PaymentGateway.charge", Service: "payments", Source: "datadog",
				Link: "https://app.datadoghq.com/apm/error-tracking/issue/et-1", Reason: "152 in 1h (spike threshold 100)", Severity: alertgate.SeverityWarning,
				FirstSeen: t0.AddDate(0, 0, -3), LastSeen: at(14), Count: 2040, CountSince: 152,
				Related: &alertgate.Related{On: on("payments"), Window: "30m0s", Bugs: []alertgate.RelatedBug{}, Incidents: []alertgate.RelatedIncident{paymentsDown, ledgerLag}}},
		},
		Opened: []Incident{
			{Key: "alertmanager:v1:0335742509d16c93", Title: "HighErrorRate — checkout", Service: "checkout", Source: "alertmanager",
				DedupKey: "alertmanager:v1:0335742509d16c93:1773479700", RunbookURL: "http://localhost:8080/runbooks/checkout-high-error-rate",
				RunbookTitle: "Checkout high error rate", Severity: alertgate.SeverityCritical, OpenedAt: at(0),
				Related: &alertgate.Related{On: on("checkout"), Window: "30m0s",
					Bugs: []alertgate.RelatedBug{connReset, typeError}, Incidents: []alertgate.RelatedIncident{}}},
			{Key: "alertmanager:v1:5a5a", Title: "PaymentsAPIDown — payments", Service: "payments", Source: "alertmanager",
				DedupKey: "alertmanager:v1:5a5a:1773479880", RunbookURL: "http://localhost:8080/runbooks/payments-api-down",
				RunbookTitle: "Payments API down", Link: paymentsDown.Link, Severity: alertgate.SeverityCritical, OpenedAt: at(3),
				Related: &alertgate.Related{On: on("payments"), Window: "30m0s",
					Bugs: []alertgate.RelatedBug{timeout, keyError}, Incidents: []alertgate.RelatedIncident{ledgerLag}}},
			{Key: "datadog:v1:48213097", Title: "Checkout latency high", Service: "checkout", Source: "datadog",
				DedupKey: "datadog:v1:48213097:cycle-77", RunbookURL: "http://localhost:8080/runbooks/checkout-latency",
				Link: "https://app.datadoghq.com/monitors/48213097", Severity: alertgate.SeverityWarning, OpenedAt: at(9),
				Related: &alertgate.Related{On: on("checkout"), Window: "30m0s",
					Bugs:      []alertgate.RelatedBug{seenAgain(typeError, 3, at(8))},
					Incidents: []alertgate.RelatedIncident{{Key: "alertmanager:v1:0335742509d16c93", Title: "HighErrorRate — checkout", Source: "alertmanager", OpenedAt: at(0)}}}},
		},
		Resolved: []Incident{
			{Key: "alertmanager:v1:77aa01c2", Title: "KubePodCrashLooping payments-api-7d9f", Service: "payments", Source: "alertmanager",
				DedupKey: "alertmanager:v1:77aa01c2:1773479400", Severity: alertgate.SeverityError, OpenedAt: at(-5), ResolvedAt: at(7)},
		},
	}
}

func checkRelated(t *testing.T, msg *slackapi.WebhookMessage, plain string) {
	m := blocks(t, msg)
	if got, want := m.Blocks[0].Text.Text, ":rotating_light: payments · 2 new bugs, 1 regression, 1 spike, 3 incidents, 1 resolved"; got != want {
		t.Fatalf("header=%q, want %q (the related lines are not items)", got, want)
	}
	// Incidents grouped by service, each service's related classes after
	// its incidents, in a context block.
	var order []int
	for _, s := range []string{"|HighErrorRate — checkout>*", "|Checkout latency high>*", ":beetle: Related bug classes in checkout", "|PaymentsAPIDown — payments>*", "|KubePodCrashLooping payments-api-7d9f>*", ":beetle: Related bug classes in payments"} {
		i := strings.Index(plain, s)
		if i < 0 {
			t.Fatalf("%q missing from:\n%s", s, plain)
		}
		order = append(order, i)
	}
	for i := 1; i < len(order); i++ {
		if order[i] < order[i-1] {
			t.Fatalf("incidents not grouped by service: %v\n%s", order, plain)
		}
	}
	var asides []string
	for _, b := range m.Blocks {
		if b.Type == "context" && strings.HasPrefix(b.Elements[0].Text, ":beetle:") {
			asides = append(asides, b.Elements[0].Text)
		}
	}
	want := []string{
		// The class both checkout pages listed once, as last seen (×3),
		// the most active first; a class without a link links to explain.
		":beetle: Related bug classes in checkout, last 30m: " +
			"<http://localhost:8080/v1/explain?source=sentry&amp;key=sentry%3Av1%3A1|ConnectionResetError: [Errno 104] Connection reset by peer> ×5 · " +
			"<https://sentry.io/organizations/acme/issues/1170820300/|TypeError: Cannot read properties of undefined (reading 'amount') in &lt;Checkout…> ×3 _new_",
		":beetle: Related bug classes in payments, last 30m: " +
			"<https://app.datadoghq.com/apm/error-tracking/issue/et-1|TimeoutError in PaymentGateway.charge> ×152 · " +
			"<https://sentry.io/organizations/acme/issues/998/|KeyError: 'currency'> ×3 _regression_",
	}
	if strings.Join(asides, "\n") != strings.Join(want, "\n") {
		t.Fatalf("related lines:\n%s\nwant\n%s", strings.Join(asides, "\n"), strings.Join(want, "\n"))
	}
	for _, want := range []string{
		// A regression and a spike while payments' incident is open.
		"back <!date^1773480120^{date_short_pretty} at {time}|2026-03-14 09:22 UTC> · during <http://alertmanager:9093/#/alerts?filter={alertname=\"PaymentsAPIDown\"}|PaymentsAPIDown — payments> · 3 occurrences",
		"152 in 1h (spike threshold 100) · during <http://alertmanager:9093/#/alerts?filter={alertname=\"PaymentsAPIDown\"}|PaymentsAPIDown — payments> and 1 other open incident · 152 occurrences",
		// A new class: its incident has no link at the source.
		"· during <http://localhost:8080/v1/explain?source=alertmanager&amp;key=alertmanager%3Av1%3A0335742509d16c93|HighErrorRate — checkout> · 4 occurrences",
	} {
		if !strings.Contains(plain, want) {
			t.Fatalf("texts lack %q:\n%s", want, plain)
		}
	}
	if n := strings.Count(plain, "during "); n != 3 {
		t.Fatalf("%d items say during, want 3 (the new front-end class has no open incident)", n)
	}
}

// A storm of pages, each with long related lines: the message stays
// within the limits, and "and N more" counts incidents only.
func TestRenderRelatedOverflow(t *testing.T) {
	d := Digest{Team: "checkout", WindowStart: t0, WindowEnd: at(15), PublicURL: "https://alertgate.example.com"}
	const pages = 60
	for i := range pages {
		svc := fmt.Sprintf("svc-%02d", i%20)
		rel := &alertgate.Related{On: on(svc), Window: "30m0s", MoreBugs: 7}
		for j := range alertgate.MaxRelated {
			rel.Bugs = append(rel.Bugs, alertgate.RelatedBug{
				Key: fmt.Sprintf("sentry:v1:%d-%d", i, j), Title: strings.Repeat("NullPointerException & <more> ", 10), Source: "sentry", Count: int64(100 - j),
				Status: alertgate.RelatedNew, Link: "https://sentry.io/organizations/acme/issues/" + strings.Repeat("9", 300) + fmt.Sprintf("/%d-%d", i, j),
			})
		}
		d.Opened = append(d.Opened, Incident{
			Key: fmt.Sprintf("alertmanager:v1:%016x", i), Title: fmt.Sprintf("[inc-%02d] HighErrorRate on %s", i, svc),
			Service: svc, Source: "alertmanager", Severity: alertgate.SeverityCritical, OpenedAt: at(3), Related: rel,
		})
	}
	plain := checkLimits(t, indent(t, Render(d)))
	shown := 0
	for i := range pages {
		if strings.Contains(plain, fmt.Sprintf("[inc-%02d]", i)) {
			shown++
		}
	}
	if shown == 0 || shown == pages {
		t.Fatalf("%d of %d incidents shown: the overflow is not exercised", shown, pages)
	}
	if want := fmt.Sprintf("_…and %d more incidents_", pages-shown); !strings.Contains(plain, want) {
		t.Fatalf("texts lack %q", want)
	}
	if !strings.Contains(plain, ":beetle: Related bug classes in svc-00") {
		t.Fatal("no related line shown")
	}
	// Three pages of each service listed more than they showed: how many
	// is not known once merged.
	if !strings.Contains(plain, " · and more") {
		t.Fatal("merged related lines do not say more are left out")
	}
}

func TestRelatedLine(t *testing.T) {
	r := newRenderer(Digest{Team: "t", PublicURL: "http://localhost:8080"})
	long := func(n int) []alertgate.RelatedBug {
		var out []alertgate.RelatedBug
		for j := range n {
			out = append(out, alertgate.RelatedBug{Key: fmt.Sprintf("k%d", j), Title: strings.Repeat("x", 200), Count: int64(10 - j),
				Link: "https://sentry.io/" + strings.Repeat("p", 380) + fmt.Sprint(j)})
		}
		return out
	}
	for _, tc := range []struct {
		name  string
		pages []*alertgate.Related
		// want are substrings, in order; missing must not appear.
		want    []string
		missing []string
	}{
		// Too long for one line: the most active first, the rest counted
		// with what the page left out.
		{"cut", []*alertgate.Related{{On: on("checkout"), Window: "30m0s", Bugs: long(5), MoreBugs: 2}},
			[]string{"in checkout, last 30m: ", "p0|", " ×10", "p1|", " · and 5 more"}, []string{"p2|", "p4|"}},
		// One page: its count of the classes left out is exact.
		{"one page", []*alertgate.Related{{On: on("checkout"), Window: "1h0m0s", Bugs: long(1), MoreBugs: 4}},
			[]string{"last 1h: ", " · and 4 more"}, nil},
		// Several correlation labels: named with their values.
		{"labels", []*alertgate.Related{{On: map[string]string{"service": "checkout", "env": "prod"}, Window: "30m0s", Bugs: long(1)}},
			[]string{"Related bug classes in env=prod, service=checkout, last 30m: "}, []string{"more"}},
		// No window given: none said.
		{"no window", []*alertgate.Related{{On: on("checkout"), Bugs: long(1)}},
			[]string{"Related bug classes in checkout: "}, []string{"last"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var pages []Incident
			for _, rel := range tc.pages {
				pages = append(pages, Incident{Service: "checkout", Related: rel})
			}
			its := r.relatedBugs(pages)
			if len(its) != 1 || !its[0].aside {
				t.Fatalf("relatedBugs=%+v, want one aside", its)
			}
			line := its[0].head
			if width(line) > maxLine {
				t.Fatalf("line of %d, want at most %d", width(line), maxLine)
			}
			rest := line
			for _, w := range tc.want {
				i := strings.Index(rest, w)
				if i < 0 {
					t.Fatalf("%q not found in order in %q", w, line)
				}
				rest = rest[i+len(w):]
			}
			for _, m := range tc.missing {
				if strings.Contains(line, m) {
					t.Fatalf("%q in %q", m, line)
				}
			}
		})
	}
	// Pages without related bug classes: no line.
	if its := r.relatedBugs([]Incident{{Service: "checkout"}, {Service: "checkout", Related: &alertgate.Related{On: on("checkout"), Bugs: []alertgate.RelatedBug{}}}}); len(its) != 0 {
		t.Fatalf("relatedBugs=%+v, want none", its)
	}
}
