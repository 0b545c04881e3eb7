package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/alertgate/alertgate"
	"github.com/alertgate/alertgate/dedup"
	"github.com/alertgate/alertgate/internal/app"
	"github.com/alertgate/alertgate/internal/harness"
)

// `alertgate route test` (app.RoutePayload) answers what the running
// router did, for every delivery of the scripted streams: kind, team, route,
// runbook, and whether it paged.
func TestRouteTestAgreesWithRouter(t *testing.T) {
	g := harness.Start(t, harness.Options{Config: streamConfig(100000)})
	s := mixedStream(t)
	s.Steps = append(s.Steps, digestStream(t, time.Now).Steps...)
	s.Post(t, g)
	g.Settle(t)

	// Pages sent or dry-run: the notification log has both.
	paged := map[string]bool{}
	for _, n := range g.Notifications(t) {
		if n["sink"] == "pagerduty" && n["type"] == "page" {
			paged[n["dedup_key"].(string)] = true
		}
	}
	ctx := context.Background()
	checked := 0
	for i, st := range s.Steps {
		source := alertgate.Source(strings.TrimPrefix(st.Path, "/v1/ingest/"))
		answers, err := app.RoutePayload(g.Config, g.Runbooks, source, st.Header["Sentry-Hook-Resource"], st.Body, time.Now())
		if err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
		for _, a := range answers {
			checked++
			var team, runbook string
			var route int
			switch a.Kind {
			case alertgate.KindIncident:
				in, err := g.Policy.Incident(ctx, a.Key)
				if err != nil || in == nil {
					t.Fatalf("step %d: the router has no incident %s (%v)", i, a.Key, err)
				}
				team, route, runbook = in.Team, in.Last.Route, in.Last.Runbook
				if a.Status == alertgate.StatusFiring && a.Pages != paged[dedup.DedupKey(a.Key, a.Episode)] {
					t.Errorf("step %d %s: route test says pages=%v, the router paged=%v", i, a.Key, a.Pages, !a.Pages)
				}
			default:
				b, err := g.Policy.Bug(ctx, a.Key)
				if err != nil || b == nil {
					t.Fatalf("step %d: the router has no bug class %s (%v)", i, a.Key, err)
				}
				team, route, runbook = b.Team, b.Last.Route, b.Last.Runbook
				if a.Pages {
					t.Errorf("step %d %s: route test says a bug pages, no route sets page_bugs", i, a.Key)
				}
			}
			got := ""
			if a.Runbook != nil {
				got = a.Runbook.URL
			}
			if a.Team != team || a.Route != route || got != runbook {
				t.Errorf("step %d %s: route test team=%s route=%d runbook=%q; router team=%s route=%d runbook=%q",
					i, a.Key, a.Team, a.Route, got, team, route, runbook)
			}
		}
	}
	if checked < len(s.Steps) {
		t.Fatalf("checked %d events for %d deliveries", checked, len(s.Steps))
	}
}
