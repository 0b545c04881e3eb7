// Package related answers the first question of whoever a page wakes:
// what else is going on here? For the correlation label values of an
// incident (config correlation.labels, service by default) it lists the
// bug classes with occurrences within the correlation window and the other
// open incidents, from every source.
//
// The router keeps the index as it decides, in the KV bucket "related",
// shared by every instance: an entry per open incident (written when an
// episode opens, deleted when none is left open) and, per bug class, an
// entry per instance with that instance's occurrence counts by minute
// (written at most once a FlushEvery per class, with a TTL of the window
// and two minutes). Every instance watches the bucket into memory, so
// Related, called by the sinks for every page and digest they send,
// reads no stream and makes no request.
package related

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"log/slog"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/alertgate/alertgate"
	"github.com/alertgate/alertgate/internal/cut"
	"github.com/alertgate/alertgate/internal/kvwatch"
)

// maxTitle bounds a related item's title: ten of them stay small beside
// the page they ride on.
const maxTitle = 200

// Bounds that keep the index small whatever comes in: an instance counts
// at most maxTracked bug classes per set of label values (a new class
// replaces the least active one) and writes the counts of its top
// maxWritten; the view holds the maxIncidents most recently opened
// incidents per set of label values. A page lists at most MaxRelated of
// each, the most active and the most recent: what falls outside these
// bounds would not be listed anyway.
const (
	maxTracked   = 64
	maxWritten   = 8
	maxIncidents = 256
)

// Options configure an Index.
type Options struct {
	// Labels are the correlation labels; none turns the index off.
	Labels []string
	// Window: a bug class is related while it has occurrences this recent.
	Window time.Duration
	// Instance names this process: each instance writes its own counts.
	Instance string
	// PublicURL links an incident without a source link to its page here.
	PublicURL string
	// FlushEvery is how often, at most, a class's counts are written
	// (default 1s); a new class or a regression is written at once.
	FlushEvery time.Duration
	Logger     *slog.Logger
}

// Bug is one occurrence of a bug class, as the router saw it decided.
type Bug struct {
	Key    string
	Title  string
	Source alertgate.Source
	Labels map[string]string
	Link   string
	// FirstSeen is when the class was first seen; Regressed says this
	// occurrence brought it back after a resolve.
	FirstSeen time.Time
	Regressed bool
	At        time.Time
}

// Incident is an incident key's open state, as the router saw it decided.
type Incident struct {
	Key      string
	Title    string
	Source   alertgate.Source
	Severity alertgate.Severity
	Labels   map[string]string
	OpenedAt time.Time
	Link     string
}

// bugEntry is one instance's record of a bug class: its occurrences by
// minute within the window.
type bugEntry struct {
	Key         string           `json:"key"`
	Title       string           `json:"title"`
	Source      alertgate.Source `json:"source"`
	Link        string           `json:"link,omitempty"`
	FirstSeen   time.Time        `json:"first_seen,omitzero"`
	LastSeen    time.Time        `json:"last_seen"`
	RegressedAt time.Time        `json:"regressed_at,omitzero"`
	// Minutes are [unix minute, occurrences] pairs, oldest first.
	Minutes [][2]int64 `json:"minutes"`
}

type incidentEntry struct {
	// Tuple identifies its correlation label values.
	Tuple    string             `json:"tuple"`
	Key      string             `json:"key"`
	Title    string             `json:"title"`
	Source   alertgate.Source   `json:"source"`
	Severity alertgate.Severity `json:"severity,omitempty"`
	OpenedAt time.Time          `json:"opened_at"`
	Link     string             `json:"link,omitempty"`
}

// group is what shares one set of correlation label values.
type group struct {
	bugs map[string]map[string]*bugEntry // class key → instance → entry
	// mine counts the classes this instance tracks here.
	mine int
	// incidents are the open incidents, oldest first (at most
	// maxIncidents: the oldest leave the view first); byKey the same by
	// key.
	incidents []*incidentEntry
	byKey     map[string]*incidentEntry
}

// ref locates a KV entry in the view, to apply its deletion.
type ref struct {
	tuple, key, instance string
	bug                  bool
}

// Index is the shared index of related signals, watched into memory.
type Index struct {
	kv       jetstream.KeyValue
	js       jetstream.JetStream
	o        Options
	instance string // hashed: a KV key token
	window   string // o.Window as Related says it
	logger   *slog.Logger

	mu     sync.RWMutex
	groups map[string]*group
	refs   map[string]ref
	// mine are this instance's bug entries, by KV key; dirty those
	// changed since written, written when each was written last.
	mine  map[string]*bugEntry
	dirty map[string]bool
	// latest is the newest occurrence counted: the clock bug counts
	// expire by (the events', not this process's).
	latest time.Time

	watch *kvwatch.Watch
}

// New returns an Index over the bucket kv (nil kv: this process alone).
func New(js jetstream.JetStream, kv jetstream.KeyValue, o Options) *Index {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.FlushEvery <= 0 {
		o.FlushEvery = time.Second
	}
	sum := sha256.Sum256([]byte(o.Instance))
	return &Index{kv: kv, js: js, o: o, instance: hex.EncodeToString(sum[:6]), window: o.Window.String(), logger: o.Logger,
		groups: map[string]*group{}, refs: map[string]ref{}, mine: map[string]*bugEntry{}, dirty: map[string]bool{}}
}

// On reports whether correlation is configured.
func (x *Index) On() bool { return x != nil && len(x.o.Labels) > 0 }

// Start loads the index and keeps it current from the bucket; it returns
// once the current entries are loaded.
func (x *Index) Start(ctx context.Context) error {
	if !x.On() || x.kv == nil {
		return nil
	}
	w, err := kvwatch.Start(ctx, x.kv, x, kvwatch.Options{Every: x.o.FlushEvery, Tick: x.flush, Logger: x.logger})
	if err != nil {
		return err
	}
	x.watch = w
	return nil
}

// Stop writes what is unwritten and ends the watch.
func (x *Index) Stop() { x.watch.Stop() }

// Apply applies one change of the bucket (kvwatch.View).
func (x *Index) Apply(e jetstream.KeyValueEntry) { x.apply(e) }

// Replayed drops what a replay of the bucket did not list, but this
// instance's own counts, which it writes itself (kvwatch.View).
func (x *Index) Replayed(seen map[string]bool) {
	x.mu.Lock()
	defer x.mu.Unlock()
	for k, r := range x.refs {
		if !seen[k] && !(r.bug && r.instance == x.instance) {
			x.remove(k)
		}
	}
}

var _ kvwatch.View = (*Index)(nil)

// tuple identifies the correlation label values of labels; ok is false
// when one of them is absent or empty.
func (x *Index) tuple(labels map[string]string) (id string, ok bool) {
	if !x.On() {
		return "", false
	}
	var stack [256]byte
	buf := stack[:0]
	for _, l := range x.o.Labels {
		v := labels[l]
		if v == "" {
			return "", false
		}
		buf = strconv.AppendInt(buf, int64(len(v)), 10)
		buf = append(buf, ':')
		buf = append(buf, v...)
	}
	sum := sha256.Sum256(buf)
	return hex.EncodeToString(sum[:12]), true
}

// on is the correlation label values of labels, which have them all.
func (x *Index) on(labels map[string]string) map[string]string {
	on := make(map[string]string, len(x.o.Labels))
	for _, l := range x.o.Labels {
		on[l] = labels[l]
	}
	return on
}

func keyHash(key string) string {
	sum := sha256.Sum256([]byte(key))
	return hex.EncodeToString(sum[:16])
}

func minute(t time.Time) int64 { return t.Unix() / 60 }

// ObserveBug counts one occurrence of a bug class. The count is in the
// view at once; other instances see it within FlushEvery.
func (x *Index) ObserveBug(b Bug) {
	tuple, ok := x.tuple(b.Labels)
	if !ok {
		return
	}
	k := tuple + ".b." + keyHash(b.Key) + "." + x.instance
	from := minute(b.At.Add(-x.o.Window))
	x.mu.Lock()
	defer x.mu.Unlock()
	g := x.grp(tuple)
	e := x.mine[k]
	if e == nil {
		if g.mine >= maxTracked {
			x.evict(g, from)
		}
		e = &bugEntry{Key: b.Key, Source: b.Source}
		x.mine[k] = e
		x.putBug(tuple, b.Key, x.instance, e)
		x.refs[k] = ref{tuple: tuple, key: b.Key, instance: x.instance, bug: true}
		g.mine++
	}
	e.Title, e.Link = cut.Bytes(b.Title, maxTitle), b.Link
	if !b.FirstSeen.IsZero() && (e.FirstSeen.IsZero() || b.FirstSeen.Before(e.FirstSeen)) {
		e.FirstSeen = b.FirstSeen
	}
	if b.At.After(e.LastSeen) {
		e.LastSeen = b.At
	}
	if b.Regressed && b.At.After(e.RegressedAt) {
		e.RegressedAt = b.At
	}
	e.Minutes = addMinute(e.Minutes, minute(b.At), from)
	x.dirty[k] = true
	if b.At.After(x.latest) {
		x.latest = b.At
	}
}

// evict stops counting the class this instance saw least (fewest
// occurrences since from, then least recently) in g.
func (x *Index) evict(g *group, from int64) {
	var (
		worst      string
		worstCount int64 = -1
		worstSeen  time.Time
	)
	for key, byInstance := range g.bugs {
		e := byInstance[x.instance]
		if e == nil {
			continue
		}
		n := count(e, from, 1<<62)
		if worstCount < 0 || n < worstCount || (n == worstCount && e.LastSeen.Before(worstSeen)) {
			worst, worstCount, worstSeen = key, n, e.LastSeen
		}
	}
	if worst == "" {
		return
	}
	for k, r := range x.refs {
		if r.bug && r.instance == x.instance && r.key == worst {
			x.remove(k)
			return
		}
	}
}

// count is e's occurrences in minutes [from, to].
func count(e *bugEntry, from, to int64) int64 {
	var n int64
	for _, m := range e.Minutes {
		if m[0] >= from && m[0] <= to {
			n += m[1]
		}
	}
	return n
}

// addMinute counts one occurrence in minute m and drops minutes before
// from.
func addMinute(ms [][2]int64, m, from int64) [][2]int64 {
	if n := len(ms); n > 0 && ms[n-1][0] == m {
		ms[n-1][1]++
	} else {
		i, _ := slices.BinarySearchFunc(ms, m, func(p [2]int64, m int64) int { return cmp.Compare(p[0], m) })
		if i < len(ms) && ms[i][0] == m {
			ms[i][1]++
		} else {
			ms = slices.Insert(ms, i, [2]int64{m, 1})
		}
	}
	drop := 0
	for drop < len(ms) && ms[drop][0] < from {
		drop++
	}
	return ms[drop:]
}

// flush writes the counts changed since the last flush of the classes
// among this instance's maxWritten most active of their label values,
// each with a TTL: counts older than the window say nothing, and an
// instance gone leaves nothing behind.
func (x *Index) flush(ctx context.Context) {
	x.mu.Lock()
	// Classes quiet for longer than the window are forgotten here, as
	// their entries' TTL forgets them in the bucket.
	for k, e := range x.mine {
		if e.LastSeen.Before(x.latest.Add(-x.o.Window - 2*time.Minute)) {
			x.remove(k)
		}
	}
	if len(x.dirty) == 0 {
		x.mu.Unlock()
		return
	}
	type top struct {
		k string
		n int64
		e *bugEntry
	}
	byGroup := map[string][]top{}
	for k, e := range x.mine {
		r := x.refs[k]
		byGroup[r.tuple] = append(byGroup[r.tuple], top{k, count(e, minute(e.LastSeen.Add(-x.o.Window)), 1<<62), e})
	}
	batch := map[string][]byte{}
	for _, ts := range byGroup {
		slices.SortFunc(ts, func(a, b top) int { return cmp.Or(cmp.Compare(b.n, a.n), b.e.LastSeen.Compare(a.e.LastSeen)) })
		for _, t := range ts[:min(len(ts), maxWritten)] {
			if x.dirty[t.k] {
				batch[t.k], _ = json.Marshal(t.e)
			}
		}
	}
	clear(x.dirty)
	x.mu.Unlock()
	if x.kv == nil || x.js == nil {
		return
	}
	for k, data := range batch {
		m := &nats.Msg{Subject: "$KV." + x.kv.Bucket() + "." + k, Data: data}
		if _, err := x.js.PublishMsg(ctx, m, jetstream.WithMsgTTL(x.o.Window+2*time.Minute)); err != nil {
			x.logger.Warn("related bug counts not written; the next occurrence writes them", "err", err)
			return
		}
	}
}

// ObserveIncident records whether an incident key has an open episode:
// the router calls it after each decision that changed the key. The write
// is asynchronous: the page does not wait for it, and one lost in a crash
// leaves a page with less context, nothing else.
func (x *Index) ObserveIncident(in Incident, firing bool) {
	if !x.On() {
		return
	}
	// Keyed by the incident key alone: a resolve without the labels
	// still finds it.
	k := "i." + keyHash(in.Key)
	if !firing {
		x.mu.Lock()
		x.remove(k)
		x.mu.Unlock()
		x.publish(k, &nats.Msg{Header: nats.Header{"KV-Operation": []string{"DEL"}}})
		return
	}
	tuple, ok := x.tuple(in.Labels)
	if !ok {
		return
	}
	e := &incidentEntry{Tuple: tuple, Key: in.Key, Title: cut.Bytes(in.Title, maxTitle), Source: in.Source, Severity: in.Severity, OpenedAt: in.OpenedAt, Link: in.Link}
	if e.Link == "" && x.o.PublicURL != "" {
		e.Link = strings.TrimRight(x.o.PublicURL, "/") + "/v1/incidents/" + url.PathEscape(in.Key)
	}
	x.mu.Lock()
	if r, ok := x.refs[k]; ok {
		if r.tuple == tuple {
			if i := x.groups[r.tuple].find(in.Key); i >= 0 && x.groups[r.tuple].incidents[i].OpenedAt.Equal(in.OpenedAt) {
				x.mu.Unlock()
				return // known as it is: nothing to write
			}
		}
		x.remove(k) // its labels moved it
	}
	x.putIncident(k, tuple, e)
	x.mu.Unlock()
	data, _ := json.Marshal(e)
	x.publish(k, &nats.Msg{Data: data})
}

// publish writes m under KV key k without waiting for the write.
func (x *Index) publish(k string, m *nats.Msg) {
	if x.kv == nil || x.js == nil {
		return
	}
	m.Subject = "$KV." + x.kv.Bucket() + "." + k
	if _, err := x.js.PublishMsgAsync(m); err != nil {
		x.logger.Warn("related incident not written: pages on other instances will not list it", "err", err)
	}
}

func (x *Index) grp(tuple string) *group {
	g := x.groups[tuple]
	if g == nil {
		g = &group{bugs: map[string]map[string]*bugEntry{}, byKey: map[string]*incidentEntry{}}
		x.groups[tuple] = g
	}
	return g
}

func (x *Index) putBug(tuple, key, instance string, e *bugEntry) {
	g := x.grp(tuple)
	m := g.bugs[key]
	if m == nil {
		m = map[string]*bugEntry{}
		g.bugs[key] = m
	}
	m[instance] = e
}

// find returns the index of key among g's incidents, or -1.
func (g *group) find(key string) int {
	if g == nil {
		return -1
	}
	e := g.byKey[key]
	if e == nil {
		return -1
	}
	i, ok := slices.BinarySearchFunc(g.incidents, e, byOpening)
	if !ok {
		return -1
	}
	return i
}

// byOpening orders incidents by when they opened, then key.
func byOpening(a, b *incidentEntry) int {
	return cmp.Or(a.OpenedAt.Compare(b.OpenedAt), cmp.Compare(a.Key, b.Key))
}

// putIncident adds or replaces the incident under KV key k, keeping the
// group's incidents in order of opening and within maxIncidents.
func (x *Index) putIncident(k, tuple string, e *incidentEntry) {
	g := x.grp(tuple)
	if i := g.find(e.Key); i >= 0 {
		g.incidents = slices.Delete(g.incidents, i, i+1)
	}
	i, _ := slices.BinarySearchFunc(g.incidents, e, byOpening)
	g.incidents = slices.Insert(g.incidents, i, e)
	g.byKey[e.Key] = e
	x.refs[k] = ref{tuple: tuple, key: e.Key}
	if len(g.incidents) > maxIncidents {
		old := g.incidents[0]
		g.incidents = slices.Delete(g.incidents, 0, 1)
		delete(g.byKey, old.Key)
		delete(x.refs, "i."+keyHash(old.Key))
	}
}

// remove drops the entry under KV key k from the view.
func (x *Index) remove(k string) {
	r, ok := x.refs[k]
	if !ok {
		return
	}
	delete(x.refs, k)
	g := x.groups[r.tuple]
	if g == nil {
		return
	}
	if r.bug {
		if m := g.bugs[r.key]; m != nil {
			delete(m, r.instance)
			if len(m) == 0 {
				delete(g.bugs, r.key)
			}
		}
		if r.instance == x.instance {
			if _, ok := x.mine[k]; ok {
				g.mine--
			}
			delete(x.mine, k)
			delete(x.dirty, k)
		}
	} else if i := g.find(r.key); i >= 0 {
		g.incidents = slices.Delete(g.incidents, i, i+1)
		delete(g.byKey, r.key)
	}
	if len(g.bugs) == 0 && len(g.incidents) == 0 {
		delete(x.groups, r.tuple)
	}
}

// apply brings one change of the bucket into the view.
func (x *Index) apply(e jetstream.KeyValueEntry) {
	k := e.Key()
	parts := strings.Split(k, ".")
	x.mu.Lock()
	defer x.mu.Unlock()
	if e.Operation() != jetstream.KeyValuePut {
		if len(parts) == 4 && parts[3] == x.instance {
			return // this instance's own counts expired: it keeps counting
		}
		x.remove(k)
		return
	}
	switch {
	case len(parts) == 4 && parts[1] == "b":
		if parts[3] == x.instance {
			return // this instance's own counts are newer here
		}
		var b bugEntry
		if json.Unmarshal(e.Value(), &b) != nil || b.Key == "" {
			return
		}
		x.putBug(parts[0], b.Key, parts[3], &b)
		x.refs[k] = ref{tuple: parts[0], key: b.Key, instance: parts[3], bug: true}
	case len(parts) == 2 && parts[0] == "i":
		var in incidentEntry
		if json.Unmarshal(e.Value(), &in) != nil || in.Key == "" || in.Tuple == "" {
			return
		}
		if r, ok := x.refs[k]; ok && r.tuple != in.Tuple {
			x.remove(k)
		}
		x.putIncident(k, in.Tuple, &in)
	}
}

// Related lists what shares the correlation label values of labels at
// time at, but the key exclude itself: bug classes by occurrences within
// the window, then open incidents, the most recently opened first. Nil
// when correlation is off or a correlation label is absent.
func (x *Index) Related(labels map[string]string, exclude string, at time.Time) *alertgate.Related {
	tuple, ok := x.tuple(labels)
	if !ok {
		return nil
	}
	r := &alertgate.Related{On: x.on(labels), Window: x.window, Bugs: make([]alertgate.RelatedBug, 0, alertgate.MaxRelated), Incidents: make([]alertgate.RelatedIncident, 0, alertgate.MaxRelated)}
	since := at.Add(-x.o.Window)
	from, to := minute(since), minute(at)
	x.mu.RLock()
	defer x.mu.RUnlock()
	g := x.groups[tuple]
	if g == nil {
		return r
	}
	// The MaxRelated most active classes, kept in order as they come.
	type cand struct {
		n        int64
		last     time.Time
		key      string
		instance map[string]*bugEntry
	}
	var topBuf [alertgate.MaxRelated + 1]cand
	top := topBuf[:0]
	less := func(a, b cand) bool { // a before b
		return a.n > b.n || (a.n == b.n && (a.last.After(b.last) || (a.last.Equal(b.last) && a.key < b.key)))
	}
	bugs := 0
	for key, byInstance := range g.bugs {
		if key == exclude {
			continue
		}
		c := cand{key: key, instance: byInstance}
		for _, e := range byInstance {
			c.n += count(e, from, to)
			if e.LastSeen.After(c.last) {
				c.last = e.LastSeen
			}
		}
		if c.n == 0 {
			continue
		}
		bugs++
		if len(top) == alertgate.MaxRelated && !less(c, top[len(top)-1]) {
			continue
		}
		i := len(top)
		for i > 0 && less(c, top[i-1]) {
			i--
		}
		top = slices.Insert(top, i, c)
		if len(top) > alertgate.MaxRelated {
			top = top[:alertgate.MaxRelated]
		}
	}
	r.MoreBugs = bugs - len(top)
	for _, c := range top {
		b := alertgate.RelatedBug{Count: c.n}
		var regressed time.Time
		for _, e := range c.instance {
			if e.LastSeen.After(b.LastSeen) {
				b.Key, b.Title, b.Source, b.LastSeen = e.Key, e.Title, e.Source, e.LastSeen
			}
			if b.Link == "" {
				b.Link = e.Link
			}
			if !e.FirstSeen.IsZero() && (b.FirstSeen.IsZero() || e.FirstSeen.Before(b.FirstSeen)) {
				b.FirstSeen = e.FirstSeen
			}
			if e.RegressedAt.After(regressed) {
				regressed = e.RegressedAt
			}
		}
		switch {
		case !b.FirstSeen.Before(since):
			b.Status = alertgate.RelatedNew
		case !regressed.Before(since):
			b.Status = alertgate.RelatedRegression
		default:
			b.Status = alertgate.RelatedRecurring
		}
		r.Bugs = append(r.Bugs, b)
	}
	// The incidents opened by at are a prefix of g.incidents; the newest
	// of them first.
	n, _ := slices.BinarySearchFunc(g.incidents, at, func(e *incidentEntry, at time.Time) int {
		if e.OpenedAt.After(at) {
			return 1
		}
		return -1
	})
	eligible := n
	if e := g.byKey[exclude]; e != nil && !e.OpenedAt.After(at) {
		eligible--
	}
	for i := n - 1; i >= 0 && len(r.Incidents) < alertgate.MaxRelated; i-- {
		e := g.incidents[i]
		if e.Key == exclude {
			continue
		}
		r.Incidents = append(r.Incidents, alertgate.RelatedIncident{Key: e.Key, Title: e.Title, Source: e.Source, Severity: e.Severity, OpenedAt: e.OpenedAt, Link: e.Link})
	}
	r.MoreIncidents = eligible - len(r.Incidents)
	return r
}
