package related

import (
	"fmt"
	"testing"
	"time"

	"github.com/alertgate/alertgate"
)

// benchIndex is an index as benchall's related phase leaves it during its
// storm: bugs classes of checkout with 3 occurrences each, and incidents
// open incidents of it (the view keeps at most maxIncidents).
func benchIndex(bugs, incidents int) *Index {
	x := local()
	for i := range bugs {
		for range 3 {
			x.ObserveBug(bug(fmt.Sprintf("bench:bug:%d", i), t0.Add(-time.Minute), t0.Add(-time.Minute), false))
		}
	}
	for i := range incidents {
		x.ObserveIncident(stormIncident(i, t0.Add(-time.Duration(incidents-i)*time.Millisecond)), true)
	}
	return x
}

func stormIncident(i int, at time.Time) Incident {
	return Incident{Key: fmt.Sprintf("alertmanager:v1:%016x", i), Title: fmt.Sprintf("5xx ratio above 5%% on checkout %d", i),
		Source: alertgate.SourceAlertmanager, Severity: alertgate.SeverityCritical, Labels: checkout, OpenedAt: at}
}

// BenchmarkRelated is the lists of one page, as the router computes them
// for every firing incident event.
func BenchmarkRelated(b *testing.B) {
	for _, c := range []struct{ bugs, incidents int }{{0, 0}, {5, 5}, {50, 20}, {50, maxIncidents}} {
		b.Run(fmt.Sprintf("bugs=%d/incidents=%d", c.bugs, c.incidents), func(b *testing.B) {
			x := benchIndex(c.bugs, c.incidents)
			self := "alertmanager:v1:ffffffffffffffff"
			b.ReportAllocs()
			for b.Loop() {
				if r := x.Related(checkout, self, t0); len(r.Bugs) != min(c.bugs, alertgate.MaxRelated) {
					b.Fatalf("%d bugs", len(r.Bugs))
				}
			}
		})
	}
}

// BenchmarkObserveIncident records a new open incident of a service that
// already has maxIncidents open in the view, as every storm alert does
// (without a bucket: the in-memory part, not the asynchronous write).
func BenchmarkObserveIncident(b *testing.B) {
	x := benchIndex(50, maxIncidents)
	i := maxIncidents
	b.ReportAllocs()
	for b.Loop() {
		x.ObserveIncident(stormIncident(i, t0.Add(time.Duration(i)*time.Millisecond)), true)
		i++
	}
}
