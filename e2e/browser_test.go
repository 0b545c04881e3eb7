package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/alertgate/alertgate/internal/harness"
)

// chromiumPath is Debian's Chromium (apt-get install chromium).
const chromiumPath = "/usr/bin/chromium"

// Keys of the status page scenario's incidents and bug classes.
const (
	uiCheckoutFP  = "3f9c2a71e0b4d815" // HighErrorRate on checkout: open
	uiSearchFP    = "8d41b6e2a9c07f35" // InstanceDown on search: fired, then resolved
	uiMonitor     = 4001               // Datadog latency monitor: open, its page dead-lettered
	uiSentryIssue = "5151"             // platform's bug class, 6 occurrences
	uiCheckoutKey = "alertmanager:v1:" + uiCheckoutFP
	uiSearchKey   = "alertmanager:v1:" + uiSearchFP
	uiSentryKey   = "sentry:v1:issue:" + uiSentryIssue
	uiEventsKey   = "events:checkout-cart-undefined" // payments' bug class, 2 occurrences, seen last
)

// The status page as a person sees it in Chromium: what is open, which bug
// classes are loud (sorted and filtered by clicking), what was sent, what is
// dead, the way to the runbook, and a phone screen without sideways scroll.
// UPDATE_SCREENSHOT=1 rewrites docs/screenshot.png from this page.
func TestBrowserStatusPage(t *testing.T) {
	b := startChromium(t)

	pd := harness.NewPagerDuty(t)
	// PagerDuty refuses the latency monitor's page: a dead letter.
	pd.Respond = func(_ int, ev harness.PDEvent) harness.PDResponse {
		if ev.Payload != nil && strings.Contains(ev.Payload.Summary, "Checkout latency high") {
			return harness.PDResponse{Status: http.StatusBadRequest}
		}
		return harness.PDResponse{}
	}
	// The gateway's clock starts two hours back, so the page shows a
	// realistic afternoon; it ends two minutes before the browser looks.
	clock := harness.NewClock()
	clock.FastForward(-2 * time.Hour)
	g := harness.Start(t, harness.Options{PD: pd, Config: streamConfig(100000), Now: clock.Now})
	postStatusPageStream(t, g, clock)
	g.Settle(t)

	// Desktop first.
	page := g.URL() + "/"
	b.open(page)
	if title := tabRun(b, chromedp.Title()); !strings.HasPrefix(title, "(2) alertgate status") {
		t.Errorf("title=%q, want the open incident count first", title)
	}
	if txt := b.text("refresh"); !strings.Contains(txt, "refreshes every 15 seconds") {
		t.Errorf("refresh note=%q", txt)
	}
	if got := tabRun(b, chromedp.Evaluate[string](`document.querySelector('meta[http-equiv="refresh"]').content`)); got != "15" {
		t.Errorf("meta refresh=%q, want 15", got)
	}

	// Open incidents: the two still firing, not the resolved one.
	incidents := b.text("incidents")
	for _, want := range []string{"5xx ratio above 5% on checkout-api", "Checkout latency high", "payments", "checkout-high-error-rate"} {
		if !strings.Contains(incidents, want) {
			t.Errorf("#incidents lacks %q:\n%s", want, incidents)
		}
	}
	if strings.Contains(incidents, "search-7") {
		t.Errorf("#incidents shows the resolved incident:\n%s", incidents)
	}
	if got := b.keys("#incidents tbody tr"); len(got) != 2 || !slices.Contains(got, uiCheckoutKey) || slices.Contains(got, uiSearchKey) {
		t.Errorf("incident rows=%v, want %s and the Datadog monitor", got, uiCheckoutKey)
	}

	// Bug classes: the louder first; a click on "last seen" puts the most
	// recent first; a click on a team keeps only its classes.
	if got, want := strings.Join(b.keys("#bugs tbody tr"), ","), uiSentryKey+","+uiEventsKey; got != want {
		t.Errorf("bugs by count=%s, want %s", got, want)
	}
	b.follow("#sort-last_seen")
	if got, want := strings.Join(b.keys("#bugs tbody tr"), ","), uiEventsKey+","+uiSentryKey; got != want {
		t.Errorf("bugs by last seen=%s, want %s", got, want)
	}
	if loc := b.location(); loc.Query().Get("sort") != "last_seen" {
		t.Errorf("location after the sort click=%s", loc)
	}
	b.follow(`#bugs a[data-team="payments"]`)
	if loc := b.location(); loc.Query().Get("team") != "payments" || loc.Query().Get("sort") != "last_seen" {
		t.Errorf("location after the team click=%s, want team=payments and the sort kept", loc)
	}
	if got := b.keys("#bugs tbody tr"); len(got) != 1 || got[0] != uiEventsKey {
		t.Errorf("payments' bugs=%v, want only %s", got, uiEventsKey)
	}
	b.open(page + "?team=platform")
	if got := b.keys("#bugs tbody tr"); len(got) != 1 || got[0] != uiSentryKey {
		t.Errorf("/?team=platform bugs=%v, want only %s", got, uiSentryKey)
	}
	b.open(page + "?team=nobody")
	if txt := b.text("bugs"); !strings.Contains(txt, "No bug classes for team nobody.") {
		t.Errorf("unknown team:\n%s", txt)
	}

	// Notifications: the states as badges, styled.
	b.open(page)
	notes := b.text("notifications")
	for _, want := range []string{"sent", "dead", "Checkout latency high", "HTTP 400"} {
		if !strings.Contains(notes, want) {
			t.Errorf("#notifications lacks %q:\n%s", want, notes)
		}
	}
	badge := `document.querySelector('#notifications .badge[data-state="dead"]')`
	if got := tabRun(b, chromedp.Evaluate[string](badge+`.innerText.trim()`)); got != "dead" {
		t.Errorf("dead badge text=%q", got)
	}
	if bg := tabRun(b, chromedp.Evaluate[string](`getComputedStyle(`+badge+`).backgroundColor`)); bg == "" || bg == "rgba(0, 0, 0, 0)" {
		t.Errorf("dead badge has no background (%q): the stylesheet did not apply", bg)
	}

	// Dead letters: the refused page, and how to replay it.
	dead := b.text("deadletters")
	for _, want := range []string{"Checkout latency high", "400", "alertgate deadletter replay --id"} {
		if !strings.Contains(dead, want) {
			t.Errorf("#deadletters lacks %q:\n%s", want, dead)
		}
	}
	if n := tabRun(b, chromedp.Evaluate[int](`document.querySelectorAll('#deadletters tr[data-seq]').length`)); n != 1 {
		t.Errorf("dead letter rows=%d, want 1", n)
	}

	// Runbooks: listed, and the incident's link opens its page here.
	if href := tabRun(b, chromedp.Evaluate[string](`document.querySelector('#runbooks tr[data-id="host-down"] a').href`)); href != g.URL()+"/runbooks/host-down" {
		t.Errorf("runbook list link=%q", href)
	}
	b.follow(`#incidents tr[data-key="` + uiCheckoutKey + `"] a.runbook`)
	if loc := b.location(); loc.Path != "/runbooks/checkout-high-error-rate" {
		t.Errorf("runbook link went to %s", loc)
	}
	if h1 := tabRun(b, chromedp.Text(chromedp.CSS("h1"))); h1 != "Checkout: high 5xx error rate" {
		t.Errorf("runbook page title=%q", h1)
	}

	if os.Getenv("UPDATE_SCREENSHOT") == "1" {
		tabRun(b, chromedp.EmulateViewport(1280, 900))
		b.open(page)
		png := tabRun(b, chromedp.FullScreenshot(100))
		out := filepath.Join(harness.Root(), "docs", "screenshot.png")
		if err := os.WriteFile(out, png, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("wrote %s (%d bytes)", out, len(png))
	}

	// A phone: the viewport meta makes the layout 375 px wide, and no row
	// needs sideways scrolling.
	tabRun(b, chromedp.EmulateViewport(375, 812, chromedp.EmulateMobile, chromedp.EmulateScale(2)))
	for _, u := range []string{page, page + "?sort=last_seen"} {
		b.open(u)
		type overflow struct {
			InnerWidth  int      `json:"innerWidth"`
			ScrollWidth int      `json:"scrollWidth"`
			Wide        []string `json:"wide"`
		}
		o := tabRun(b, chromedp.Evaluate[overflow](`(() => {
			const w = window.innerWidth, wide = [];
			for (const el of document.querySelectorAll('body *')) {
				const r = el.getBoundingClientRect();
				if (r.right > w + 0.5) wide.push(el.tagName.toLowerCase() + (el.id ? '#' + el.id : '') + (el.className ? '.' + el.className : '') + ' right=' + Math.round(r.right));
			}
			return {innerWidth: w, scrollWidth: document.documentElement.scrollWidth, wide: wide.slice(0, 10)};
		})()`))
		if o.InnerWidth != 375 {
			t.Errorf("%s: innerWidth=%d on a 375 px phone (viewport meta?)", u, o.InnerWidth)
		}
		if o.ScrollWidth > o.InnerWidth {
			t.Errorf("%s: scrollWidth=%d > innerWidth=%d: horizontal scroll on a phone; too wide: %v", u, o.ScrollWidth, o.InnerWidth, o.Wide)
		}
	}
}

// postStatusPageStream posts, on the gateway's clock, over the two hours
// before now: an Alertmanager incident on search firing (resolved later)
// and one on checkout firing; a Datadog monitor triggered; a Sentry bug
// class with six occurrences (platform); an events bug class with two
// (payments, seen last).
func postStatusPageStream(t *testing.T, g *harness.Gateway, clock *harness.Clock) {
	at := clock.Now() // two hours ago
	post := func(after time.Duration, add func(s *harness.Script)) {
		clock.FastForward(at.Add(after).Sub(clock.Now()))
		s := harness.NewScript(t)
		s.Now = clock.Now // Sentry-Hook-Timestamp, checked against the gateway's clock
		add(s)
		s.Post(t, g)
	}
	// An alert's episode is its fingerprint and startsAt: the resolve carries
	// the startsAt of the firing.
	am := func(fp, status string, startsAt time.Time, summary string, labels map[string]string) func(s *harness.Script) {
		return func(s *harness.Script) {
			var body map[string]any
			if err := json.Unmarshal(harness.AMWebhook(harness.AMAlert{Fingerprint: fp, Status: status, StartsAt: startsAt, Labels: labels}), &body); err != nil {
				t.Fatal(err)
			}
			body["alerts"].([]any)[0].(map[string]any)["annotations"].(map[string]any)["summary"] = summary
			s.Steps = append(s.Steps, harness.Step{Path: "/v1/ingest/alertmanager", Body: statusPageJSON(t, body)})
		}
	}
	search := map[string]string{"alertname": "InstanceDown", "service": "search", "instance": "search-7:9100"}
	post(0, am(uiSearchFP, "firing", at, "search-7:9100 is not answering scrapes", search))
	post(73*time.Minute, am(uiCheckoutFP, "firing", at.Add(73*time.Minute), "5xx ratio above 5% on checkout-api", nil))
	post(89*time.Minute, am(uiSearchFP, "resolved", at, "search-7:9100 is not answering scrapes", search))
	post(108*time.Minute, func(s *harness.Script) {
		s.Datadog(uiMonitor, 1, "Triggered", 1)
		last := &s.Steps[len(s.Steps)-1]
		var dd map[string]any
		if err := json.Unmarshal(last.Body, &dd); err != nil {
			t.Fatal(err)
		}
		dd["alert_title"] = "[Triggered on {env:prod,service:checkout}] Checkout latency high"
		last.Body = statusPageJSON(t, dd)
	})
	post(111*time.Minute, func(s *harness.Script) { s.SentryIssue("created", uiSentryIssue, 1) })
	for n := 1; n < 6; n++ {
		post(111*time.Minute+time.Duration(n)*40*time.Second, func(s *harness.Script) { s.SentryEvent(uiSentryIssue, n) })
	}
	for i, after := range []time.Duration{112 * time.Minute, 118 * time.Minute} {
		post(after, func(s *harness.Script) {
			s.Steps = append(s.Steps, harness.Step{Path: "/v1/ingest/events", Body: statusPageJSON(t, map[string]any{
				"id": fmt.Sprintf("cart-undefined-%d", i), "kind": "bug", "key": strings.TrimPrefix(uiEventsKey, "events:"),
				"title": "TypeError: Cannot read properties of undefined (reading 'items')", "service": "checkout", "severity": "error",
			})})
		})
	}
}

func statusPageJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// startChromium starts headless Chromium with a fresh profile; it is closed
// when the test ends. Without Chromium the test is skipped, unless
// ALERTGATE_REQUIRE_CHROMIUM is set (CI, where a skip would hide a gap).
func startChromium(t *testing.T) tab {
	t.Helper()
	if _, err := os.Stat(chromiumPath); err != nil {
		msg := fmt.Sprintf("browser test needs Chromium at %s (apt-get install chromium): %v", chromiumPath, err)
		if os.Getenv("ALERTGATE_REQUIRE_CHROMIUM") != "" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(chromiumPath),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		// /dev/shm is small in containers; Chromium crashes when it fills.
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 900),
	)
	ctx, cancel := chromedp.NewContext(allocCtx)
	// Cleanups run last-in first-out: the browser is gone before its
	// profile directory is removed.
	t.Cleanup(func() {
		cancel()
		cancelAlloc()
	})
	// The first call starts the browser and binds it to ctx: no timeout here.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start %s: %v", chromiumPath, err)
	}
	return tab{t: t, ctx: ctx}
}

// stepTimeout bounds one browser action.
const stepTimeout = 10 * time.Second

// tab is the browser tab of a test.
type tab struct {
	t   *testing.T
	ctx context.Context
}

// tabRun runs one action and returns its value, failing the test on error.
func tabRun[T any](b tab, a chromedp.Action[T]) T {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, stepTimeout)
	defer cancel()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		b.t.Fatalf("browser: %v", err)
	}
	return v
}

// open loads a page and fails unless it answered 200.
func (b tab) open(u string) {
	b.t.Helper()
	if resp := tabRun(b, chromedp.NavigateResponse(u)); resp.Status != http.StatusOK {
		b.t.Fatalf("GET %s: %d", u, resp.Status)
	}
}

// follow clicks the element and waits for the page it loads.
func (b tab) follow(sel string) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, stepTimeout)
	defer cancel()
	resp, err := chromedp.RunResponse(ctx, chromedp.Click(chromedp.CSS(sel), chromedp.NodeVisible))
	if err != nil {
		b.t.Fatalf("click %s: %v", sel, err)
	}
	if resp.Status != http.StatusOK {
		b.t.Fatalf("click %s: %s answered %d", sel, resp.URL, resp.Status)
	}
}

func (b tab) location() *url.URL {
	b.t.Helper()
	u, err := url.Parse(tabRun(b, chromedp.Location()))
	if err != nil {
		b.t.Fatal(err)
	}
	return u
}

// text is the text a person sees in the element with the id.
func (b tab) text(id string) string {
	b.t.Helper()
	return tabRun(b, chromedp.Text(chromedp.ID(id)))
}

// keys returns the data-key of each element sel selects, in page order.
func (b tab) keys(sel string) []string {
	b.t.Helper()
	return tabRun(b, chromedp.Evaluate[[]string](fmt.Sprintf(`Array.from(document.querySelectorAll(%q)).map(e => e.dataset.key)`, sel)))
}
