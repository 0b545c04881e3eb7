package inhibit

import (
	"fmt"
	"testing"
)

// BenchmarkInhibited: 100 rules sharing their target matchers and equal
// labels (as real configs mostly do), each with a firing source of
// another instance; the event matches every rule's targets and is held by
// none (the gateway's storm with inhibit rules).
func BenchmarkInhibited(b *testing.B) {
	var rules []Rule
	for n := range 100 {
		m, _ := parseAll(fmt.Sprintf(`alertname="BenchSource%d"`, n))
		t, _ := parseAll(`service="checkout"`, `severity=~"critical|error"`)
		rules = append(rules, Rule{Source: m, Target: t, Equal: []string{"instance"}})
	}
	x := New(nil, rules, discard)
	for n := range 100 {
		_ = x.Observe(b.Context(), fmt.Sprintf("src%d", n), "", map[string]string{"alertname": fmt.Sprintf("BenchSource%d", n), "instance": fmt.Sprintf("10.9.%d.1:8080", n)}, true)
	}
	labels := map[string]string{"alertname": "HighErrorRate", "instance": "10.0.3.17:8080", "job": "checkout-api", "service": "checkout", "severity": "critical", "key": "k"}
	b.ReportAllocs()
	for b.Loop() {
		if x.Inhibited("k", labels) != nil {
			b.Fatal("held")
		}
	}
}
