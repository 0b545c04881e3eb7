package replay

import (
	"cmp"
	"context"
	"fmt"
	"hash/maphash"
	"slices"

	"github.com/alertgate/alertgate"
	"github.com/alertgate/alertgate/bus"
	"github.com/alertgate/alertgate/internal/wire"
)

// maxFindings bounds the findings a replay keeps to list (it counts them
// all): a history that differs everywhere must not hold a copy of itself.
const maxFindings = 10_000

// exact checks that replaying the live config makes the very pages NOTIFY
// recorded in the window. It holds 16 bytes per page NOTIFY recorded (the
// hashes of its ID and dedup_key), drops each as the replay makes it, and
// keeps strings only for the pages that differ: a replay's memory grows
// with the keys, not with the events.
type exact struct {
	seed maphash.Seed
	// sent are NOTIFY's pages the replay has not made yet: hash(ID) →
	// hash(dedup_key).
	sent     map[uint64]uint64
	compared int
	// differ are the pages the replay made with another dedup_key than
	// NOTIFY's, by hash(ID), until NOTIFY's is read again.
	differ   map[uint64]alertgate.ReplayFinding
	findings []alertgate.ReplayFinding
	total    int
}

func newExact() *exact {
	return &exact{seed: maphash.MakeSeed(), sent: map[uint64]uint64{}, differ: map[uint64]alertgate.ReplayFinding{}}
}

func (x *exact) hash(s string) uint64 { return maphash.String(x.seed, s) }

// recorded notes a page NOTIFY recorded in the window.
func (x *exact) recorded(n *alertgate.Notification) {
	x.sent[x.hash(n.ID)] = x.hash(n.DedupKey)
	x.compared++
}

// made notes a page replaying the live config made in the window.
func (x *exact) made(n *alertgate.Notification) {
	h := x.hash(n.ID)
	dk, ok := x.sent[h]
	switch {
	case !ok:
		x.add(alertgate.ReplayFinding{ID: n.ID, Key: n.Key, DedupKey: n.DedupKey,
			Problem: "replaying the live config makes this page; NOTIFY has no record of it"})
	case dk != x.hash(n.DedupKey):
		delete(x.sent, h)
		x.differ[h] = alertgate.ReplayFinding{ID: n.ID, Key: n.Key, DedupKey: n.DedupKey}
	default:
		delete(x.sent, h)
	}
}

func (x *exact) add(f alertgate.ReplayFinding) {
	x.total++
	if len(x.findings) < maxFindings {
		x.findings = append(x.findings, f)
	}
}

// finish reads NOTIFY's pages again for the ones that differ, if any, to
// name them with NOTIFY's own key and dedup_key.
func (x *exact) finish(ctx context.Context, r *Runner, win window) error {
	if len(x.sent) == 0 && len(x.differ) == 0 {
		return nil
	}
	seen := map[uint64]struct{}{}
	err := readStream(ctx, r.Bus.JS, bus.StreamNotify, []string{bus.NotifySubject(alertgate.SinkPagerDuty, ">")}, func(data []byte) error {
		var n alertgate.Notification
		if err := wire.Unmarshal(data, &n); err != nil || !win.contains(n.CreatedAt) || kindOf(&n) != page {
			return nil
		}
		h := x.hash(n.ID)
		if _, dup := seen[h]; dup {
			return nil
		}
		seen[h] = struct{}{}
		if _, ok := x.sent[h]; ok {
			x.add(alertgate.ReplayFinding{ID: n.ID, Key: n.Key, DedupKey: n.DedupKey,
				Problem: "NOTIFY recorded this page; replaying the live config does not make it"})
		}
		if m, ok := x.differ[h]; ok {
			x.add(alertgate.ReplayFinding{ID: n.ID, Key: n.Key, DedupKey: n.DedupKey,
				Problem: fmt.Sprintf("NOTIFY recorded dedup_key %q; replaying the live config makes %q", n.DedupKey, m.DedupKey)})
		}
		return ctx.Err()
	})
	return err
}

// report writes the comparison into rep: the first limit findings by ID
// of those kept, and the count of all.
func (x *exact) report(rep *alertgate.ReplayReport, limit int) {
	slices.SortFunc(x.findings, func(a, b alertgate.ReplayFinding) int { return cmp.Compare(a.ID, b.ID) })
	rep.PagesCompared = x.compared
	rep.FindingsTotal = x.total
	rep.Exact = x.total == 0
	rep.Findings = x.findings[:min(len(x.findings), limit)]
	if rep.Findings == nil {
		rep.Findings = []alertgate.ReplayFinding{}
	}
}
