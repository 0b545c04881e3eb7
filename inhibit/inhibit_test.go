package inhibit

import (
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/alertgate/alertgate/bus"
	"github.com/alertgate/alertgate/config"
	"github.com/alertgate/alertgate/internal/natstest"
)

var discard = slog.New(slog.NewTextHandler(io.Discard, nil))

func matchers(t *testing.T, ss ...string) config.Matchers {
	t.Helper()
	var out config.Matchers
	for _, s := range ss {
		m, err := config.ParseMatcher(s)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, m)
	}
	return out
}

func rules(t *testing.T) []Rule {
	return []Rule{
		{Source: matchers(t, `alertname="DatacenterDown"`), Target: matchers(t, `severity!="critical"`), Equal: []string{"datacenter"}},
		{Source: matchers(t, `alertname="ClusterDown"`), Target: matchers(t, `alertname=~".+"`), Equal: []string{"cluster", "region"}},
	}
}

func start(t *testing.T, b *bus.Bus) *Inhibitor {
	t.Helper()
	i := New(b.Inhibitors, rules(t), discard)
	if err := i.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(i.Stop)
	return i
}

var (
	dcDown   = map[string]string{"alertname": "DatacenterDown", "datacenter": "fra", "severity": "critical"}
	warnFra  = map[string]string{"alertname": "APIErrors", "datacenter": "fra", "severity": "warning"}
	warnAms  = map[string]string{"alertname": "APIErrors", "datacenter": "ams", "severity": "warning"}
	critFra  = map[string]string{"alertname": "DBDown", "datacenter": "fra", "severity": "critical"}
	noDCWarn = map[string]string{"alertname": "Disk", "severity": "warning"}
)

// Alertmanager's semantics: equal labels must have the same values (absent
// on both counts as equal), the target matchers must match, and a source
// never inhibits itself.
func TestInhibitedSemantics(t *testing.T) {
	i := New(nil, rules(t), discard)
	ctx := t.Context()
	if h := i.Inhibited("api-fra", warnFra); h != nil {
		t.Fatalf("held with no source firing: %+v", h)
	}
	if err := i.Observe(ctx, "dc-fra", "Datacenter fra down", dcDown, true); err != nil {
		t.Fatal(err)
	}
	h := i.Inhibited("api-fra", warnFra)
	if h == nil || h.Reason != "inhibited" || h.By != "dc-fra" || h.Rule != "inhibit_rules[0]" {
		t.Fatalf("warning in fra: %+v", h)
	}
	if !strings.Contains(h.Detail, `"Datacenter fra down" (dc-fra)`) || !strings.Contains(h.Detail, `datacenter="fra"`) {
		t.Fatalf("detail does not name the source and the equal labels: %s", h.Detail)
	}
	for name, c := range map[string]struct {
		key    string
		labels map[string]string
	}{
		"another datacenter":           {"api-ams", warnAms},
		"a critical target":            {"db-fra", critFra},
		"the source itself":            {"dc-fra", map[string]string{"alertname": "DatacenterDown", "datacenter": "fra", "severity": "warning"}},
		"equal label absent on target": {"disk", noDCWarn},
	} {
		if h := i.Inhibited(c.key, c.labels); h != nil {
			t.Errorf("%s: held %+v", name, h)
		}
	}
	// Absent on both sides counts as equal.
	if err := i.Observe(ctx, "dc-none", "", map[string]string{"alertname": "DatacenterDown"}, true); err != nil {
		t.Fatal(err)
	}
	if h := i.Inhibited("disk", noDCWarn); h == nil || h.By != "dc-none" {
		t.Fatalf("equal label absent on both: %+v", h)
	}
	if err := i.Observe(ctx, "dc-none", "", map[string]string{"alertname": "DatacenterDown"}, false); err != nil {
		t.Fatal(err)
	}
	// Two equal labels: both must agree.
	_ = i.Observe(ctx, "cl", "", map[string]string{"alertname": "ClusterDown", "cluster": "c1", "region": "eu"}, true)
	if h := i.Inhibited("x", map[string]string{"alertname": "X", "cluster": "c1", "region": "us"}); h != nil {
		t.Fatalf("one of two equal labels differs: held %+v", h)
	}
	if h := i.Inhibited("x", map[string]string{"alertname": "X", "cluster": "c1", "region": "eu", "severity": "critical"}); h == nil || h.Rule != "inhibit_rules[1]" {
		t.Fatalf("both equal labels agree: %+v", h)
	}
	// The source resolves: the target is free.
	if err := i.Observe(ctx, "dc-fra", "", dcDown, false); err != nil {
		t.Fatal(err)
	}
	if h := i.Inhibited("api-fra", warnFra); h != nil {
		t.Fatalf("held after the source resolved: %+v", h)
	}
	if !i.IsSource(dcDown) || i.IsSource(warnFra) {
		t.Fatal("IsSource")
	}
}

// A source observed on one instance holds the target on another, a
// restart loads the firing sources, and a resolve anywhere frees it.
func TestAcrossInstances(t *testing.T) {
	b := natstest.OpenBus(t, t.TempDir())
	a, other := start(t, b), start(t, b)
	if err := a.Observe(t.Context(), "dc-fra", "", dcDown, true); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the source on the other instance", func() bool { return other.Inhibited("api-fra", warnFra) != nil })
	// A later instance loads it at Start.
	late := start(t, b)
	if h := late.Inhibited("api-fra", warnFra); h == nil {
		t.Fatal("a starting instance did not load the firing source")
	}
	if n := len(late.Firing()); n != 1 {
		t.Fatalf("Firing: %d sources, want 1", n)
	}
	// Resolved on the other instance, which never wrote the entry itself.
	if err := other.Observe(t.Context(), "dc-fra", "", dcDown, false); err != nil {
		t.Fatal(err)
	}
	for _, i := range []*Inhibitor{a, other, late} {
		waitFor(t, "the resolve everywhere", func() bool { return i.Inhibited("api-fra", warnFra) == nil })
	}
}

// Observe is idempotent: a redelivered firing writes nothing twice.
func TestObserveIdempotent(t *testing.T) {
	b := natstest.OpenBus(t, t.TempDir())
	i := start(t, b)
	for range 3 {
		if err := i.Observe(t.Context(), "dc-fra", "", dcDown, true); err != nil {
			t.Fatal(err)
		}
	}
	st, err := b.Inhibitors.Status(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if st.Values() != 1 {
		t.Fatalf("entries written for one source observed three times: %d", st.Values())
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func parseAll(ss ...string) (config.Matchers, error) {
	var out config.Matchers
	for _, s := range ss {
		m, err := config.ParseMatcher(s)
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, nil
}
