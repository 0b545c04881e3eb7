package runbooks

import (
	"bytes"
	"strings"
	"testing"
)

func TestHTML(t *testing.T) {
	src := "---\n" +
		"id: xss\n" +
		"title: '<script>alert(1)</script> Checkout & payments'\n" +
		"owner: '<b>payments</b>'\n" +
		"match: ['alertname=\"HighErrorRate\"', 'service=~\"checkout|payments\"']\n" +
		"---\n" +
		"# Checkout errors\n\n" +
		"## Step 2: roll back\n\n" +
		"<script>alert(2)</script>\n\n" +
		"Inline <img src=x onerror=alert(3)> html.\n\n" +
		"[bad link](javascript:alert(4)) and https://grafana.example.com/d/checkout\n\n" +
		"| signal | query |\n|---|---|\n| errors | `rate(x[5m])` |\n\n" +
		"- [ ] task\n"
	s := load(t, map[string]string{"xss.md": src})
	r, _ := s.Get("xss")
	page, err := r.HTML()
	if err != nil {
		t.Fatal(err)
	}
	html := string(page)

	for _, tt := range []struct {
		name string
		want string
		has  bool
	}{
		// Nothing the author (or whoever edited the file) wrote runs in the browser.
		{"NoScriptTag", "<script", false},
		{"NoEventHandler", "onerror", false},
		{"NoJavascriptURL", "javascript:", false},
		{"NoRawOwnerHTML", "<b>payments</b>", false},
		// Title and owner are escaped, not dropped.
		{"TitleEscaped", "<title>&lt;script&gt;alert(1)&lt;/script&gt; Checkout &amp; payments · runbook</title>", true},
		{"HeaderTitleEscaped", "<h1>&lt;script&gt;alert(1)&lt;/script&gt; Checkout &amp; payments</h1>", true},
		{"OwnerEscaped", "owner: <strong>&lt;b&gt;payments&lt;/b&gt;</strong>", true},
		// The matchers it applies to, as written in Alertmanager syntax.
		{"Matchers", "<code>alertname=&#34;HighErrorRate&#34;</code>, <code>service=~&#34;checkout|payments&#34;</code>", true},
		// Body headings, with anchors to link to from chat.
		{"H1", `<h1 id="checkout-errors">Checkout errors</h1>`, true},
		{"H2", `<h2 id="step-2-roll-back">Step 2: roll back</h2>`, true},
		// GFM: tables, autolinks and task lists.
		{"Table", "<table>", true},
		{"Autolink", `<a href="https://grafana.example.com/d/checkout">`, true},
		{"TaskList", `type="checkbox"`, true},
		// Readable on a phone.
		{"Viewport", `<meta name="viewport" content="width=device-width, initial-scale=1">`, true},
		{"Doctype", "<!doctype html>", true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got, want := strings.Contains(html, tt.want), tt.has; got != want {
				t.Fatalf("page contains %q: %v, want %v\n%s", tt.want, got, want, html)
			}
		})
	}

	// The page cached at load is what RenderHTML produces.
	t.Run("Cached", func(t *testing.T) {
		var buf bytes.Buffer
		if err := RenderHTML(&buf, r); err != nil {
			t.Fatal(err)
		}
		if got, want := buf.String(), html; got != want {
			t.Fatalf("RenderHTML differs from the cached page")
		}
	})
	// A runbook built by hand, not loaded, is rendered on demand.
	t.Run("NotLoaded", func(t *testing.T) {
		page, err := (&Runbook{ID: "manual", Title: "Manual", Body: "# Do it"}).HTML()
		if err != nil {
			t.Fatal(err)
		}
		for _, want := range []string{`<h1 id="do-it">Do it</h1>`, "Applies only where a route names it."} {
			if got := string(page); !strings.Contains(got, want) {
				t.Fatalf("page lacks %q:\n%s", want, got)
			}
		}
	})
}
