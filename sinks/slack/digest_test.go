package slack

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
	"unicode/utf16"
	"unicode/utf8"

	slackapi "github.com/slack-go/slack"

	"github.com/alertgate/alertgate"
	"github.com/alertgate/alertgate/internal/contract"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden.json from the current output")

// t0 is the start of every test window: goldens must not depend on the clock.
var t0 = time.Date(2026, 3, 14, 9, 15, 0, 0, time.UTC)

func at(m int) time.Time { return t0.Add(time.Duration(m) * time.Minute) }

func typical() Digest {
	return Digest{
		Team:        "payments",
		WindowStart: t0, WindowEnd: at(15),
		PublicURL: "http://localhost:8080/",
		New: []Bug{
			{Key: "sentry:v1:1170820242", Title: "ReferenceError: blooopy is not defined", Service: "front-end", Source: "sentry",
				Link: "https://sentry.io/organizations/acme/issues/1170820242/", Severity: alertgate.SeverityError,
				FirstSeen: at(2), LastSeen: at(12), Count: 14, CountSince: 14},
			{Key: "sentry:v1:1170820300", Title: "TypeError: Cannot read properties of undefined (reading 'amount') in <Checkout & Pay>", Service: "checkout", Source: "sentry",
				Link: "https://sentry.io/organizations/acme/issues/1170820300/?project=4&query=is:unresolved", Severity: alertgate.SeverityCritical,
				FirstSeen: at(9), LastSeen: at(14), Count: 1, CountSince: 1},
		},
		Regressions: []Bug{
			{Key: "sentry:v1:998", Title: "KeyError: 'currency'", Service: "payments", Source: "sentry",
				Link: "https://sentry.io/organizations/acme/issues/998/", Reason: "occurred after it was resolved", Severity: alertgate.SeverityError,
				FirstSeen: t0.AddDate(0, -1, 0), LastSeen: at(7), Count: 230, CountSince: 3},
		},
		Spikes: []Bug{
			{Key: "datadog:v1:et-1", Title: "TimeoutError in PaymentGateway.charge", Service: "payments", Source: "datadog",
				Link: "https://app.datadoghq.com/apm/error-tracking/issue/et-1", Reason: "152 in 1h (spike threshold 100)", Severity: alertgate.SeverityWarning,
				FirstSeen: t0.AddDate(0, 0, -3), LastSeen: at(14), Count: 2040, CountSince: 152},
		},
		// Out of order on purpose: the digest sorts by CountSince.
		Recurring: []Bug{
			{Key: "sentry:v1:1", Title: "ConnectionResetError: [Errno 104] Connection reset by peer", Service: "checkout", Source: "sentry",
				Link: "https://sentry.io/organizations/acme/issues/1/", Severity: alertgate.SeverityError, Count: 812, CountSince: 5},
			// No link at the source: the title links to /v1/explain.
			{Key: "sentry:v1:2", Title: "DeprecationWarning: datetime.utcnow() is deprecated", Service: "payments", Source: "sentry",
				Severity: alertgate.SeverityInfo, Count: 9120, CountSince: 41},
			{Key: "datadog:v1:3", Title: "grpc: the client connection is closing", Service: "ledger", Source: "datadog",
				Link: "https://app.datadoghq.com/apm/error-tracking/issue/3", Severity: alertgate.SeverityWarning, Count: 12, CountSince: 12},
		},
		Opened: []Incident{
			{Key: "alertmanager:v1:0335742509d16c93", Title: "HighErrorRate — checkout", Service: "checkout", Source: "alertmanager",
				DedupKey: "alertmanager:v1:0335742509d16c93:1773479940", RunbookURL: "http://localhost:8080/runbooks/checkout-high-error-rate",
				RunbookTitle: "Checkout high error rate", Link: "http://alertmanager:9093/#/alerts?receiver=alertgate",
				Severity: alertgate.SeverityCritical, OpenedAt: at(4)},
			{Key: "datadog:v1:48213097", Title: "Checkout latency high", Service: "checkout", Source: "datadog",
				DedupKey: "datadog:v1:48213097:cycle-77", Link: "https://app.datadoghq.com/monitors/48213097",
				Severity: alertgate.SeverityWarning, OpenedAt: at(9)},
		},
		Resolved: []Incident{
			{Key: "alertmanager:v1:77aa01c2", Title: "KubePodCrashLooping payments-api-7d9f", Service: "payments", Source: "alertmanager",
				DedupKey: "alertmanager:v1:77aa01c2:1773479400", Severity: alertgate.SeverityError, OpenedAt: at(-5), ResolvedAt: at(7)},
		},
		NoRunbook: []Incident{
			{Key: "datadog:v1:48213097", Title: "Checkout latency high", Service: "checkout", Source: "datadog",
				DedupKey: "datadog:v1:48213097:cycle-77", Link: "https://app.datadoghq.com/monitors/48213097",
				Severity: alertgate.SeverityWarning, OpenedAt: at(9)},
		},
	}
}

const (
	overflowBugs      = 500
	overflowIncidents = 50
)

func overflowing() Digest {
	d := Digest{Team: "checkout", WindowStart: t0, WindowEnd: at(15), PublicURL: "https://alertgate.example.com"}
	for i := range overflowBugs {
		d.New = append(d.New, Bug{
			Key: fmt.Sprintf("sentry:v1:%d", 2000000+i), Title: fmt.Sprintf("[bug-%03d] NullPointerException in CheckoutService.charge", i),
			Service: "checkout", Source: "sentry", Link: fmt.Sprintf("https://sentry.io/organizations/acme/issues/%d/", 2000000+i),
			Severity: alertgate.SeverityError, FirstSeen: at(1), LastSeen: at(14), Count: int64(i + 1), CountSince: int64(i + 1),
		})
	}
	for i := range overflowIncidents {
		d.Opened = append(d.Opened, Incident{
			Key: fmt.Sprintf("alertmanager:v1:%016x", i), Title: fmt.Sprintf("[inc-%02d] HighErrorRate on checkout-%02d", i, i),
			Service: "checkout", Source: "alertmanager", DedupKey: fmt.Sprintf("alertmanager:v1:%016x:1773479940", i),
			RunbookURL: "https://alertgate.example.com/runbooks/checkout-high-error-rate", RunbookTitle: "Checkout high error rate",
			Severity: alertgate.SeverityCritical, OpenedAt: at(3),
		})
	}
	return d
}

const (
	flags  = fr + de + "🇯🇵"
	emojis = thumbs + heart + keycap
)

func longTitles() Digest {
	long := strings.Repeat("PanicError: runtime error & <index out of range> ", 120)[:5000]
	return Digest{
		Team:        strings.Repeat("платформа-", 30),
		WindowStart: t0, WindowEnd: t0.Add(26 * time.Hour),
		New: []Bug{
			{Key: "sentry:v1:long", Title: long, Service: strings.Repeat("service-", 40), Source: "sentry",
				Link: "https://sentry.io/organizations/acme/issues/1/", Severity: alertgate.SeverityCritical, FirstSeen: at(1), Count: 1},
			{Key: "sentry:v1:family", Title: strings.Repeat(family, 100), Source: "sentry",
				Link: "https://sentry.io/organizations/acme/issues/2/", Severity: alertgate.SeverityError, FirstSeen: at(1), Count: 2},
			{Key: "sentry:v1:flags", Title: strings.Repeat(flags, 100), Source: "sentry",
				Link: "https://sentry.io/organizations/acme/issues/3/", Severity: alertgate.SeverityWarning, FirstSeen: at(1), Count: 3},
			{Key: "sentry:v1:emoji", Title: strings.Repeat(emojis, 100), Source: "sentry",
				Link: "https://sentry.io/organizations/acme/issues/4/", Severity: alertgate.SeverityInfo, FirstSeen: at(1), Count: 4},
		},
		Opened: []Incident{
			{Key: "events:v1:x", Title: strings.Repeat("&", 3000), Service: strings.Repeat("<", 500), Source: "events",
				DedupKey: strings.Repeat("`k", 127), RunbookURL: "https://runbooks.example.com/" + strings.Repeat("r", 1000),
				RunbookTitle: strings.Repeat("Runbook ", 100), Severity: alertgate.SeverityCritical, OpenedAt: at(1)},
		},
	}
}

func TestRender(t *testing.T) {
	for _, tc := range []struct {
		name   string
		digest Digest
		// check reads the message's texts, decoded from the JSON body.
		check func(t *testing.T, msg *slackapi.WebhookMessage, plain string)
	}{
		// A quiet window: no message at all, and so no golden file.
		{name: "empty", digest: Digest{Team: "payments", WindowStart: t0, WindowEnd: at(15), PublicURL: "http://localhost:8080"}},
		// Every part once: each item gets its own section.
		{name: "typical", digest: typical(), check: checkTypical},
		// 500 new bug classes and 50 pages: packed, shared out, "and N more".
		{name: "overflowing", digest: overflowing(), check: checkOverflow},
		// Titles far over the limits, made of emoji sequences a careless
		// cut would break; a team name too long for the header.
		{name: "long-titles", digest: longTitles(), check: checkLongTitles},
		// Held pages: counted by reason in the header, listed with why.
		{name: "held", digest: heldDigest(), check: checkHeld},
		// Related signals: incidents grouped by service with their related
		// bug classes; bug items during an open incident.
		{name: "related", digest: relatedDigest(), check: checkRelated},
	} {
		t.Run(tc.name, func(t *testing.T) {
			msg := Render(tc.digest)
			golden := filepath.Join("testdata", tc.name+".golden.json")
			if tc.digest.Empty() {
				if msg != nil {
					t.Fatalf("Render(empty)=%+v, want nil", msg)
				}
				if _, err := os.Stat(golden); !errors.Is(err, fs.ErrNotExist) {
					t.Fatalf("%s exists (err=%v), want no golden for an empty window", golden, err)
				}
				return
			}
			if msg == nil {
				t.Fatal("Render=nil, want a message")
			}
			body := indent(t, msg)
			plain := checkLimits(t, body)
			if *update {
				if err := os.WriteFile(golden, body, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -update to create it)", err)
			}
			if got := string(body); got != string(want) {
				t.Fatalf("%s differs (run go test -update and review the diff):\n%s", golden, body)
			}
			if tc.check != nil {
				tc.check(t, msg, plain)
			}
		})
	}
}

// indent is the body Send posts, indented for review.
func indent(t *testing.T, msg *slackapi.WebhookMessage) []byte {
	t.Helper()
	body, err := encode(msg)
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := json.Indent(&b, body, "", "  "); err != nil {
		t.Fatal(err)
	}
	b.WriteByte('\n')
	return b.Bytes()
}

// rendered is the part of a message the checks read.
type rendered struct {
	Text   string `json:"text"`
	Blocks []struct {
		Type string `json:"type"`
		Text *struct {
			Type string `json:"type"`
			Text string `json:"text"`
		} `json:"text"`
		Fields   []struct{ Text string } `json:"fields"`
		Elements []struct{ Text string } `json:"elements"`
	} `json:"blocks"`
}

// units counts UTF-16 code units independently of the code under test.
func units(s string) int { return len(utf16.Encode([]rune(s))) }

// checkLimits asserts the contract and Slack's limits on a body, and
// returns all its texts, one per line.
func checkLimits(t *testing.T, body []byte) string {
	t.Helper()
	if err := contract.Slack(body); err != nil {
		t.Fatalf("contract.Slack: %v", err)
	}
	if !utf8.Valid(body) {
		t.Fatal("body is not valid UTF-8")
	}
	var m rendered
	if err := json.Unmarshal(body, &m); err != nil {
		t.Fatal(err)
	}
	if m.Text == "" || units(m.Text) > 40000 {
		t.Fatalf("text of %d units, want 1..40000", units(m.Text))
	}
	if got, want := len(m.Blocks) <= 50, true; got != want {
		t.Fatalf("%d blocks, want at most 50", len(m.Blocks))
	}
	total := 0
	texts := []string{m.Text}
	for i, b := range m.Blocks {
		if b.Text != nil {
			texts = append(texts, b.Text.Text)
		}
		for _, e := range b.Elements {
			texts = append(texts, e.Text)
		}
		switch b.Type {
		case "header":
			if n := units(b.Text.Text); n > 150 || n == 0 {
				t.Fatalf("block %d: header of %d units, want 1..150", i, n)
			}
			total += units(b.Text.Text)
		case "section":
			if n := units(b.Text.Text); n > 3000 || n == 0 {
				t.Fatalf("block %d: section of %d units, want 1..3000", i, n)
			}
			if len(b.Fields) > 10 {
				t.Fatalf("block %d: %d fields, want at most 10", i, len(b.Fields))
			}
			for _, f := range b.Fields {
				if n := units(f.Text); n > 2000 {
					t.Fatalf("block %d: field of %d units, want at most 2000", i, n)
				}
			}
			total += units(b.Text.Text)
		case "context":
			if n := len(b.Elements); n < 1 || n > 10 {
				t.Fatalf("block %d: context of %d elements, want 1..10", i, n)
			}
			for _, e := range b.Elements {
				total += units(e.Text)
			}
		}
	}
	if total > maxMessage {
		t.Fatalf("blocks hold %d units of text, want at most %d (msg_blocks_too_long)", total, maxMessage)
	}
	plain := strings.Join(texts, "\n")
	// No cut left a dangling joiner or an orphan modifier.
	for _, bad := range []string{"\u200d…", "…\u200d", "…\ufe0f", "…🏽", "…\u20e3"} {
		if strings.Contains(plain, bad) {
			t.Fatalf("texts contain %q", bad)
		}
	}
	return plain
}

// blocks re-encodes msg and decodes it as the checks read it.
func blocks(t *testing.T, msg *slackapi.WebhookMessage) rendered {
	t.Helper()
	var m rendered
	if err := json.Unmarshal(indent(t, msg), &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func checkTypical(t *testing.T, msg *slackapi.WebhookMessage, plain string) {
	m := blocks(t, msg)
	if got, want := m.Blocks[0].Text.Text, ":rotating_light: payments · 2 new bugs, 1 regression, 1 spike, 2 incidents, 1 resolved, 3 recurring"; got != want {
		t.Fatalf("header=%q, want %q", got, want)
	}
	// Parts in the contract's order, each once.
	var order []int
	for _, h := range []string{"*New bug classes*", "*Regressions*", "*Spikes*", "*Recurring*", "*Incidents paged*", "*Pages without a runbook*"} {
		i := strings.Index(plain, h)
		if i < 0 || strings.Count(plain, h) != 1 {
			t.Fatalf("part %s: found %d times, want once", h, strings.Count(plain, h))
		}
		order = append(order, i)
	}
	for i := 1; i < len(order); i++ {
		if order[i] < order[i-1] {
			t.Fatalf("parts out of order: %v", order)
		}
	}
	for _, want := range []string{
		"resolved after 12m",                                                 // duration of the resolved incident
		"×41 since the last digest, 9,120 total",                             // recurring counts
		"in &lt;Checkout &amp; Pay&gt;",                                      // user text escaped
		"?project=4&amp;query=is:unresolved|",                                // link target escaped
		"/v1/explain?source=sentry&amp;key=sentry%3Av1%3A2|",                 // no source link: explain
		"`alertmanager:v1:0335742509d16c93:1773479940`",                      // dedup key in code
		"<!date^1773479700^{date_short_pretty} {time}|2026-03-14 09:15 UTC>", // window start
		"see <http://localhost:8080/v1/bugs> and <http://localhost:8080/v1/incidents>",
	} {
		if !strings.Contains(plain, want) {
			t.Fatalf("texts lack %q", want)
		}
	}
	// Recurring sorted by CountSince: 41, 12, 5.
	i41, i12, i5 := strings.Index(plain, "×41 "), strings.Index(plain, "×12 "), strings.Index(plain, "×5 ")
	if !(i41 < i12 && i12 < i5) {
		t.Fatalf("recurring not sorted by CountSince: %d %d %d", i41, i12, i5)
	}
	if strings.Contains(plain, "and 0 more") || strings.Contains(plain, "more not shown") {
		t.Fatal("nothing is hidden, yet the texts say more")
	}
	if got, want := msg.Text, "alertgate digest for payments: 2 new bug classes, 1 regression, 1 spike, 2 incidents paged, 1 resolved, 3 recurring, 1 page without a runbook"; got != want {
		t.Fatalf("text=%q, want %q", got, want)
	}
}

func checkOverflow(t *testing.T, msg *slackapi.WebhookMessage, plain string) {
	shown := func(format string, n int) int {
		k := 0
		for i := range n {
			if strings.Contains(plain, fmt.Sprintf(format, i)) {
				if k != i {
					t.Fatalf("%s shown after a gap at %d: items are not shown in order", fmt.Sprintf(format, i), k)
				}
				k++
			}
		}
		return k
	}
	bugs, incidents := shown("[bug-%03d]", overflowBugs), shown("[inc-%02d]", overflowIncidents)
	if bugs == 0 || incidents == 0 {
		t.Fatalf("shown %d bugs and %d incidents: one part crowded out the other", bugs, incidents)
	}
	hiddenBugs, hiddenIncidents := overflowBugs-bugs, overflowIncidents-incidents
	if hiddenBugs == 0 {
		t.Fatal("all 500 bug classes shown: the overflow is not exercised")
	}
	if want := fmt.Sprintf("_…and %s more new bug classes_ · <https://alertgate.example.com/v1/bugs|see all>", number(int64(hiddenBugs))); !strings.Contains(plain, want) {
		t.Fatalf("texts lack %q", want)
	}
	if hiddenIncidents > 0 {
		if want := fmt.Sprintf("_…and %d more incidents_", hiddenIncidents); !strings.Contains(plain, want) {
			t.Fatalf("texts lack %q", want)
		}
	}
	m := blocks(t, msg)
	last := m.Blocks[len(m.Blocks)-1]
	if got, want := last.Type, "context"; got != want {
		t.Fatalf("last block is %s, want %s", got, want)
	}
	if got, want := last.Elements[0].Text, fmt.Sprintf("alertgate · and %d more not shown · see <https://alertgate.example.com/v1/bugs> and <https://alertgate.example.com/v1/incidents>", hiddenBugs+hiddenIncidents); got != want {
		t.Fatalf("closing=%q, want %q", got, want)
	}
	if got, want := m.Blocks[0].Text.Text, ":rotating_light: checkout · 500 new bugs, 50 incidents"; got != want {
		t.Fatalf("header=%q, want %q", got, want)
	}
}

var (
	familyCut = regexp.MustCompile(`\|(?:` + family + `)+…>`)
	flagsCut  = regexp.MustCompile(`\|(?:🇫🇷|🇩🇪|🇯🇵)+…>`)
	emojiCut  = regexp.MustCompile(`\|(?:` + thumbs + `|` + heart + `|` + regexp.QuoteMeta(keycap) + `)+…>`)
)

func checkLongTitles(t *testing.T, msg *slackapi.WebhookMessage, plain string) {
	for name, re := range map[string]*regexp.Regexp{"family": familyCut, "flags": flagsCut, "emoji": emojiCut} {
		if !re.MatchString(plain) {
			t.Fatalf("%s title not cut between whole symbols", name)
		}
	}
	m := blocks(t, msg)
	if h := m.Blocks[0].Text.Text; !strings.HasPrefix(h, ":rotating_light: платформа-") || !strings.HasSuffix(h, "… · 4 new bugs, 1 incident") {
		t.Fatalf("header=%q: want the team cut and the counts kept", h)
	}
	if !strings.Contains(plain, "PanicError: runtime error &amp; &lt;index out of range&gt;") {
		t.Fatal("long title not escaped")
	}
	// A window across midnight shows the end's date too.
	if !strings.Contains(plain, "<!date^1773573300^{date_short_pretty} {time}|2026-03-15 11:15 UTC> (1d2h)") {
		t.Fatal("window end lacks its date")
	}
}

func TestEmpty(t *testing.T) {
	for _, tc := range []struct {
		name string
		d    Digest
		want bool
	}{
		// Nothing in the window.
		{"zero", Digest{}, true},
		// Only a window and links: still nothing to say.
		{"window only", Digest{Team: "payments", WindowStart: t0, WindowEnd: at(15), PublicURL: "http://x"}, true},
		// Recurring counts alone are worth a digest.
		{"recurring", Digest{Recurring: []Bug{{Key: "k", CountSince: 1}}}, false},
		// A resolve alone is worth a digest.
		{"resolved", Digest{Resolved: []Incident{{Key: "k"}}}, false},
		// A page without a runbook alone is worth a digest.
		{"no runbook", Digest{NoRunbook: []Incident{{Key: "k"}}}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got, want := tc.d.Empty(), tc.want; got != want {
				t.Fatalf("Empty()=%v, want %v", got, want)
			}
			if got, want := Render(tc.d) == nil, tc.want; got != want {
				t.Fatalf("Render()==nil is %v, want %v", got, want)
			}
		})
	}
}

// TestRenderRecurringTop shows at most ten recurring classes, the most
// frequent, and says how many more there are.
func TestRenderRecurringTop(t *testing.T) {
	d := Digest{Team: "payments", WindowStart: t0, WindowEnd: at(15)}
	for i := range 30 {
		d.Recurring = append(d.Recurring, Bug{Key: fmt.Sprintf("k%02d", i), Title: fmt.Sprintf("[rec-%02d]", i), CountSince: int64(i + 1), Count: 100})
	}
	plain := checkLimits(t, indent(t, Render(d)))
	for i := range 30 {
		if got, want := strings.Contains(plain, fmt.Sprintf("[rec-%02d]", i)), i >= 20; got != want {
			t.Fatalf("[rec-%02d] shown=%v, want %v", i, got, want)
		}
	}
	if !strings.Contains(plain, "_…and 20 more recurring bug classes_") {
		t.Fatal("texts lack the count of the classes not shown")
	}
	// No PublicURL: no links to alertgate.
	if strings.Contains(plain, "/v1/") {
		t.Fatal("links to alertgate without a PublicURL")
	}
}

// TestRenderDoesNotMutate keeps the caller's slices in their order.
func TestRenderDoesNotMutate(t *testing.T) {
	d := typical()
	before := fmt.Sprint(d.Recurring)
	Render(d)
	if got, want := fmt.Sprint(d.Recurring), before; got != want {
		t.Fatalf("Recurring reordered:\n%s\nwant\n%s", got, want)
	}
}

func heldDigest() Digest {
	return Digest{Team: "payments", WindowStart: t0, WindowEnd: at(15), PublicURL: "http://localhost:8080",
		Held: []Held{
			{Key: "alertmanager:v1:aa", Title: "Checkout latency high", Service: "checkout", Source: "alertmanager", Reason: alertgate.HoldSilenced, Detail: `silence 01KB (service="checkout") by ana: deploy`, At: at(1)},
			{Key: "alertmanager:v1:bb", Title: "Checkout pods restarting", Service: "checkout", Source: "alertmanager", Reason: alertgate.HoldInhibited, Detail: `inhibited by firing incident "Datacenter down" (inhibit_rules[0])`, At: at(2)},
			{Key: "datadog:v1:cc", Title: "Disk 80% on db-3", Service: "db", Source: "datadog", Reason: alertgate.HoldDigestOnly, Detail: "routes[0] notify: digest", At: at(3)},
			{Key: "alertmanager:v1:aa", Title: "Checkout latency high", Service: "checkout", Source: "alertmanager", Reason: alertgate.HoldSilenced, Detail: `silence 01KB`, Resolved: true, At: at(4)},
		}}
}

func checkHeld(t *testing.T, msg *slackapi.WebhookMessage, plain string) {
	m := blocks(t, msg)
	if got, want := m.Blocks[0].Text.Text, ":bar_chart: payments · held: 2 silenced, 1 inhibited, 1 digest only"; got != want {
		t.Fatalf("header=%q, want %q", got, want)
	}
	for _, want := range []string{"*Held, not paged*", "resolved while held (silenced)", "inhibited by firing incident", "digest only"} {
		if !strings.Contains(plain, want) {
			t.Fatalf("%q missing from:\n%s", want, plain)
		}
	}
}
