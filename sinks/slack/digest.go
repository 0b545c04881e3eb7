package slack

import (
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/url"
	"slices"
	"strings"
	"time"

	slackapi "github.com/slack-go/slack"

	"github.com/alertgate/alertgate"
)

// Digest is one channel's report for one window.
type Digest struct {
	Team                   string
	WindowStart, WindowEnd time.Time
	// PublicURL is alertgate's base URL, for links to /v1/bugs and
	// /v1/explain; empty: no such links.
	PublicURL                string
	New, Regressions, Spikes []Bug
	// Recurring are bug classes with CountSince > 0 that are not new, a
	// regression or a spike this window. Render shows the top 10 by
	// CountSince whatever the caller passes.
	Recurring []Bug
	// Opened and Resolved are incidents paged and resolved in the window.
	Opened, Resolved []Incident
	// NoRunbook are pages sent without a runbook, shown as a warning.
	NoRunbook []Incident
	// Held are pages (and bug notifications) held in the window: silenced,
	// inhibited, muted by a time interval, flapping, or on a notify:
	// digest route, with why.
	Held []Held
	// ID is the digest's notification ID, which its buttons name.
	ID string `json:",omitempty"`
	// Buttons puts Acknowledge and Silence 1h on each incident paged and
	// Mute on each bug class (a team in app mode: webhooks cannot take
	// the presses).
	Buttons bool `json:",omitempty"`
	// States are what became of listed items since the digest was posted,
	// by key: a posted digest is rendered again with them (chat.update).
	States map[string]ItemState `json:",omitempty"`
}

// ItemState is what became of one listed item since its digest was
// posted.
type ItemState struct {
	// ResolvedAt: the source resolved the incident.
	ResolvedAt time.Time `json:"resolved_at,omitzero"`
	// AckedBy, SilencedBy and MutedBy name the Slack user who pressed
	// Acknowledge, Silence 1h or Mute.
	AckedBy    string    `json:"acked_by,omitempty"`
	SilencedBy string    `json:"silenced_by,omitempty"`
	SilencedTo time.Time `json:"silenced_to,omitzero"`
	MutedBy    string    `json:"muted_by,omitempty"`
}

// Held is a held page as a digest lists it.
type Held struct {
	Key, Title, Service, Source string
	// Reason is the hold's (alertgate.HoldSilenced…); Detail its words.
	Reason, Detail string
	// Resolved: the source resolved the episode while it was held.
	Resolved bool
	At       time.Time
}

// Bug is a bug class as a digest shows it.
type Bug struct {
	Key, Title, Service, Source string
	// Link is the class at its source (a Sentry issue); without one the
	// title links to alertgate's /v1/explain when PublicURL is set.
	Link string
	// Reason is the policy's words ("150 in 1h", "occurred after resolve").
	Reason              string
	Severity            alertgate.Severity
	FirstSeen, LastSeen time.Time
	// Count is all occurrences; CountSince those since the last digest.
	Count, CountSince int64
	// Related is what its notification listed as going on where it
	// occurred: the open incidents sharing its correlation labels, which
	// the item names as "during" the first of them.
	Related *alertgate.Related
}

// Incident is an incident episode as a digest shows it.
type Incident struct {
	Key, Title, Service, Source string
	// DedupKey is PagerDuty's dedup_key, shown so responders can find the
	// PagerDuty incident.
	DedupKey                 string
	RunbookURL, RunbookTitle string
	Link                     string
	Severity                 alertgate.Severity
	OpenedAt, ResolvedAt     time.Time
	// Related is what its page listed as going on where it fired: the
	// digest lists the bug classes under the incidents of its service.
	Related *alertgate.Related
}

// Empty reports whether the window has nothing to report; Render returns
// nil for it and no message is sent.
func (d Digest) Empty() bool {
	return len(d.New)+len(d.Regressions)+len(d.Spikes)+len(d.Recurring)+
		len(d.Opened)+len(d.Resolved)+len(d.NoRunbook)+len(d.Held) == 0
}

// heldCounts are the held items by reason, as "2 silenced, 1 inhibited",
// in a fixed order.
func heldCounts(hs []Held) string {
	n := map[string]int{}
	for _, h := range hs {
		n[h.Reason]++
	}
	var parts []string
	for _, r := range []string{alertgate.HoldSilenced, alertgate.HoldInhibited, alertgate.HoldMutedTime, alertgate.HoldFlapping, alertgate.HoldDigestOnly} {
		if n[r] > 0 {
			parts = append(parts, number(int64(n[r]))+" "+holdWords(r))
		}
	}
	return strings.Join(parts, ", ")
}

func holdWords(reason string) string {
	switch reason {
	case alertgate.HoldMutedTime:
		return "muted by time"
	case alertgate.HoldDigestOnly:
		return "digest only"
	}
	return reason
}

// Limits of Slack's Block Kit (and of the contract schema), and budgets of
// our own so one line never crowds out the rest.
const (
	maxBlocks    = 50
	maxHeader    = 150
	maxSection   = 3000
	maxContext   = 10 // elements of a context block
	maxSummary   = 300
	maxRecurring = 10
	// maxMessage bounds the text of all blocks together. Slack rejects
	// messages whose blocks total about 13,200 characters with
	// msg_blocks_too_long although no documented limit is reached
	// (slackapi/bolt-js#2509); a digest that long is unreadable anyway.
	maxMessage = 12000
	maxTitle   = 150
	maxName    = 40 // service, source, team in text
	maxReason  = 100
	maxKey     = 100
	maxURL     = 400
	// maxLine bounds one item's line so that every section can hold its
	// heading and at least one item.
	maxLine = 1500
	// maxRelatedTitle bounds the title of a related bug class or of the
	// incident a bug occurred during: they ride on another item's line.
	maxRelatedTitle = 80
)

// Render lays out a digest as a Slack incoming-webhook message: a header
// with the counts, a context line with the window, then one part per
// non-empty kind of news, and a closing context line. Incidents are grouped
// by service, each service's followed by the bug classes its pages listed
// as related; a bug item whose notification listed an open incident says
// "during" it. Items get a section each while the message stays within
// Slack's limits; otherwise they are packed one line each into sections,
// shared out fairly between the parts, and each cut part (and the closing
// line) says "and N more". Render returns nil when d is Empty.
func Render(d Digest) *slackapi.WebhookMessage {
	if d.Empty() {
		return nil
	}
	r := newRenderer(d)
	return &slackapi.WebhookMessage{
		Text:   r.summary(),
		Blocks: &slackapi.Blocks{BlockSet: toSlack(r.layout())},
	}
}

type blockKind int

const (
	headerBlock blockKind = iota
	contextBlock
	dividerBlock
	sectionBlock
	actionsBlock
)

// block is a block before it becomes slack-go's, so a layout can be
// measured and thrown away cheaply.
type block struct {
	kind    blockKind
	texts   []string
	buttons []button
}

// item is one bug or incident: head (symbol, linked title) and meta
// (service, times, counts), on two lines in its own section or on one line
// when packed. An aside (the related bug classes of a service's incidents)
// is head alone, a context block of its own or a line when packed, and is
// not counted among the items shown or left out.
type item struct {
	head, meta string
	aside      bool
	// buttons go under the item, in an actions block of their own, when
	// it has a section of its own.
	buttons []button
}

// button is one Block Kit button: its action_id says what it does, its
// value which item (ButtonValue).
type button struct {
	action, text, value, style string
}

// Action IDs of the buttons, which /v1/slack/interactions dispatches on.
const (
	ActionAcknowledge = "acknowledge"
	ActionSilence1h   = "silence_1h"
	ActionMute        = "mute"
)

// ButtonValue is what a button carries to identify its item: the digest,
// the item's key and, for an incident, its PagerDuty dedup_key. Slack
// allows 2000 characters; a key too long for that travels as its hash
// ("#<hex>"), which the digest's stored record resolves.
type ButtonValue struct {
	Digest   string `json:"d"`
	Key      string `json:"k"`
	DedupKey string `json:"p,omitempty"`
}

// maxButtonValue is Slack's limit on a button's value.
const maxButtonValue = 2000

// Encode is the button's value, within maxButtonValue.
func (v ButtonValue) Encode() string {
	b, _ := json.Marshal(v)
	if len(b) <= maxButtonValue {
		return string(b)
	}
	v.Key, v.DedupKey = KeyRef(v.Key), ""
	if len(v.Digest) > 200 {
		v.Digest = "" // digest IDs are short; this one cannot be stored
	}
	b, _ = json.Marshal(v)
	return string(b)
}

// KeyRef is the short reference to a key a button carries in its place.
func KeyRef(key string) string {
	sum := sha256.Sum256([]byte(key))
	return "#" + hex.EncodeToString(sum[:16])
}

// ParseButtonValue reads a button's value.
func ParseButtonValue(s string) (ButtonValue, error) {
	var v ButtonValue
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		return v, fmt.Errorf("button value is not alertgate's: %w", err)
	}
	if v.Key == "" {
		return v, errors.New("button value names no key")
	}
	return v, nil
}

// items counts the items of its that are not asides.
func items(its []item) int {
	n := 0
	for _, it := range its {
		if !it.aside {
			n++
		}
	}
	return n
}

func (it item) line(own bool) string {
	switch {
	case it.meta == "":
		return it.head
	case own:
		return it.head + "\n" + it.meta
	}
	return it.head + " · " + it.meta
}

// group is one part of the digest (new bug classes, incidents, …).
type group struct {
	heading string
	items   []item
	limit   int    // most items ever shown
	noun    string // what the items are, for "and N more …"
	more    string // where all of them are listed; "" when unknown
}

func (g group) trailer(n int) string {
	s := "_…and " + number(int64(n)) + " more " + g.noun + "_"
	if g.more != "" {
		s += " · " + link(g.more, "see all")
	}
	return s
}

type renderer struct {
	d       Digest
	base    string // PublicURL when it is an http(s) URL, without the final /
	header  string
	context []string
	groups  []group
}

func newRenderer(d Digest) *renderer {
	r := &renderer{d: d}
	if base := strings.TrimRight(strings.TrimSpace(d.PublicURL), "/"); linkURL(base) != "" {
		r.base = base
	}
	r.header = r.headerText()
	r.context = r.contextTexts()
	r.groups = r.buildGroups()
	return r
}

func (r *renderer) teamName(max int) string {
	if t := clean(r.d.Team); t != "" {
		return Truncate(t, max)
	}
	return "alertgate"
}

// counts are the header's and the summary's numbers, most urgent first.
func (r *renderer) counts(long bool) []string {
	d := r.d
	var out []string
	add := func(n int, one, many string) {
		if n > 0 {
			out = append(out, count(int64(n), one, many))
		}
	}
	if long {
		add(len(d.New), "new bug class", "new bug classes")
	} else {
		add(len(d.New), "new bug", "new bugs")
	}
	add(len(d.Regressions), "regression", "regressions")
	add(len(d.Spikes), "spike", "spikes")
	if long {
		add(len(d.Opened), "incident paged", "incidents paged")
	} else {
		add(len(d.Opened), "incident", "incidents")
	}
	add(len(d.Resolved), "resolved", "resolved")
	add(len(d.Recurring), "recurring", "recurring")
	if len(d.Held) > 0 {
		out = append(out, "held: "+heldCounts(d.Held))
	}
	if long {
		add(len(d.NoRunbook), "page without a runbook", "pages without a runbook")
	}
	return out
}

// headerText is plain text (Slack shows it as is: no escaping), at most
// maxHeader; the team name gives way to the counts.
func (r *renderer) headerText() string {
	d := r.d
	symbol := ":bar_chart:"
	if len(d.New)+len(d.Regressions)+len(d.Spikes)+len(d.Opened) > 0 {
		symbol = ":rotating_light:"
	}
	counts := strings.Join(r.counts(false), ", ")
	room := maxHeader - width(symbol+"  · "+counts)
	return Truncate(symbol+" "+r.teamName(max(room, 20))+" · "+counts, maxHeader)
}

// summary is the top-level text: what a phone notification shows.
func (r *renderer) summary() string {
	s := "alertgate digest for " + escape(r.teamName(maxName)) + ": " + strings.Join(r.counts(true), ", ")
	return Truncate(s, maxSummary)
}

func (r *renderer) contextTexts() []string {
	d := r.d
	var out []string
	start, end := d.WindowStart, d.WindowEnd
	switch {
	case !start.IsZero() && !end.IsZero():
		endFmt, endFallback := "{date_short_pretty} {time}", "2006-01-02 15:04 UTC"
		if start.UTC().Format(time.DateOnly) == end.UTC().Format(time.DateOnly) {
			endFmt, endFallback = "{time}", "15:04 UTC"
		}
		out = append(out, ":calendar: "+date(start, "{date_short_pretty} {time}", "2006-01-02 15:04 UTC")+
			" – "+date(end, endFmt, endFallback)+" ("+duration(end.Sub(start))+")")
	case !end.IsZero():
		out = append(out, ":calendar: up to "+when(end))
	}
	classes := len(d.New) + len(d.Regressions) + len(d.Spikes) + len(d.Recurring)
	var events int64
	for _, l := range [][]Bug{d.New, d.Regressions, d.Spikes, d.Recurring} {
		for _, b := range l {
			events += max(b.CountSince, 0)
		}
	}
	switch {
	case events > 0:
		out = append(out, count(events, "occurrence", "occurrences")+" of "+count(int64(classes), "bug class", "bug classes")+" since the last digest")
	case classes > 0:
		out = append(out, count(int64(classes), "bug class", "bug classes"))
	}
	if n := len(d.NoRunbook); n > 0 {
		out = append(out, ":warning: "+count(int64(n), "page", "pages")+" without a runbook")
	}
	if len(out) == 0 {
		out = append(out, "alertgate digest")
	}
	return out[:min(len(out), maxContext)]
}

func (r *renderer) buildGroups() []group {
	d := r.d
	bugs, incidents := r.seeAll("/v1/bugs"), r.seeAll("/v1/incidents")
	var gs []group
	addBugs := func(heading, noun string, list []Bug, limit int, line func(Bug) item) {
		if len(list) == 0 {
			return
		}
		g := group{heading: heading + " (" + number(int64(len(list))) + ")", noun: noun, more: bugs, limit: limit}
		for _, b := range list {
			g.items = append(g.items, withState(line(b), r.state(b.Key), r.bugButtons(b)))
		}
		gs = append(gs, g)
	}
	addBugs(":new: *New bug classes*", "new bug classes", d.New, len(d.New), r.newBug)
	addBugs(":boomerang: *Regressions*", "regressions", d.Regressions, len(d.Regressions), r.regression)
	addBugs(":chart_with_upwards_trend: *Spikes*", "spikes", d.Spikes, len(d.Spikes), r.spike)
	recurring := slices.Clone(d.Recurring)
	slices.SortStableFunc(recurring, func(a, b Bug) int {
		switch {
		case a.CountSince != b.CountSince:
			return cmp.Compare(b.CountSince, a.CountSince)
		case a.Count != b.Count:
			return cmp.Compare(b.Count, a.Count)
		}
		return strings.Compare(a.Key, b.Key)
	})
	addBugs(":repeat: *Recurring*", "recurring bug classes", recurring, maxRecurring, r.recurring)

	if len(d.Opened)+len(d.Resolved) > 0 {
		var parts []string
		if n := len(d.Opened); n > 0 {
			parts = append(parts, number(int64(n))+" opened")
		}
		if n := len(d.Resolved); n > 0 {
			parts = append(parts, number(int64(n))+" resolved")
		}
		g := group{heading: ":pager: *Incidents paged* (" + strings.Join(parts, ", ") + ")", noun: "incidents", more: incidents}
		g.items = r.incidents()
		g.limit = len(g.items)
		gs = append(gs, g)
	}
	if len(d.Held) > 0 {
		g := group{heading: ":mute: *Held, not paged* (" + heldCounts(d.Held) + ")", noun: "held pages", more: incidents, limit: len(d.Held)}
		for _, h := range d.Held {
			g.items = append(g.items, r.held(h))
		}
		gs = append(gs, g)
	}
	if n := len(d.NoRunbook); n > 0 {
		g := group{
			heading: ":warning: *Pages without a runbook* (" + number(int64(n)) + ") · add a runbook whose `match` covers these; `alertgate check` lists the routes that can page without one",
			noun:    "pages without a runbook", more: incidents, limit: n,
		}
		for _, in := range d.NoRunbook {
			g.items = append(g.items, r.noRunbook(in))
		}
		gs = append(gs, g)
	}
	return gs
}

// incidents are the items of the incidents opened and resolved, grouped
// by service: the services in the order they first appear (opened, then
// resolved), each one's opened then resolved incidents in their order,
// and after them the bug classes their pages listed as related.
func (r *renderer) incidents() []item {
	type entry struct {
		in     Incident
		opened bool
	}
	var all []entry
	for _, in := range r.d.Opened {
		all = append(all, entry{in, true})
	}
	for _, in := range r.d.Resolved {
		all = append(all, entry{in, false})
	}
	rank := map[string]int{}
	for _, e := range all {
		if _, ok := rank[clean(e.in.Service)]; !ok {
			rank[clean(e.in.Service)] = len(rank)
		}
	}
	slices.SortStableFunc(all, func(a, b entry) int {
		return cmp.Compare(rank[clean(a.in.Service)], rank[clean(b.in.Service)])
	})
	var out []item
	for i := 0; i < len(all); {
		var pages []Incident
		j := i
		for ; j < len(all) && clean(all[j].in.Service) == clean(all[i].in.Service); j++ {
			if all[j].opened {
				out = append(out, withState(r.opened(all[j].in), r.state(all[j].in.Key), r.incidentButtons(all[j].in)))
				pages = append(pages, all[j].in)
			} else {
				out = append(out, withState(r.resolved(all[j].in), r.state(all[j].in.Key), nil))
			}
		}
		out = append(out, r.relatedBugs(pages)...)
		i = j
	}
	return out
}

// relatedSet is the bug classes that pages sharing correlation label
// values listed as related.
type relatedSet struct {
	on     map[string]string
	window string
	bugs   map[string]alertgate.RelatedBug
	// pages counts the pages that listed any; more is the most that one
	// of them left out of its list.
	pages, more int
}

// relatedBugs are the asides listing the bug classes the pages (of one
// service) listed as related: one per set of correlation label values
// (just one with the default correlation.labels, the service), each class
// once, as last seen.
func (r *renderer) relatedBugs(pages []Incident) []item {
	var sets []*relatedSet
	byOn := map[string]*relatedSet{}
	for _, in := range pages {
		rel := in.Related
		if rel == nil || len(rel.Bugs) == 0 {
			continue
		}
		k := onKey(rel.On)
		s := byOn[k]
		if s == nil {
			s = &relatedSet{on: rel.On, bugs: map[string]alertgate.RelatedBug{}}
			byOn[k] = s
			sets = append(sets, s)
		}
		if s.window == "" {
			s.window = rel.Window
		}
		s.pages++
		s.more = max(s.more, rel.MoreBugs)
		for _, b := range rel.Bugs {
			if old, ok := s.bugs[b.Key]; !ok || b.LastSeen.After(old.LastSeen) ||
				(b.LastSeen.Equal(old.LastSeen) && b.Count > old.Count) {
				s.bugs[b.Key] = b
			}
		}
	}
	var out []item
	for _, s := range sets {
		out = append(out, r.relatedLine(s))
	}
	return out
}

// onKey identifies a set of label values.
func onKey(on map[string]string) string {
	keys := slices.Sorted(maps.Keys(on))
	var b strings.Builder
	for _, k := range keys {
		b.WriteString(k + "\x00" + on[k] + "\x00")
	}
	return b.String()
}

// onLabel names a set of label values: the value alone when there is one
// (the service), else name=value pairs.
func onLabel(on map[string]string) string {
	if len(on) == 1 {
		for _, v := range on {
			return text(v, maxName)
		}
	}
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(on)) {
		parts = append(parts, text(k, maxName)+"="+text(on[k], maxName))
	}
	return strings.Join(parts, ", ")
}

// relatedLine is one aside: ":beetle: Related bug classes in checkout,
// last 30m: <title> ×3 _regression_ · <title> ×2 _new_ · and 1 more", the
// most active first, as many as fit in maxLine.
func (r *renderer) relatedLine(s *relatedSet) item {
	bugs := slices.SortedFunc(maps.Values(s.bugs), func(a, b alertgate.RelatedBug) int {
		return cmp.Or(cmp.Compare(b.Count, a.Count), b.LastSeen.Compare(a.LastSeen), cmp.Compare(a.Key, b.Key))
	})
	head := ":beetle: Related bug classes"
	if l := onLabel(s.on); l != "" {
		head += " in " + l
	}
	if w, err := time.ParseDuration(s.window); err == nil && w > 0 {
		head += ", last " + duration(w)
	}
	head += ": "
	var parts []string
	for _, b := range bugs {
		p := link(r.target(b.Link, string(b.Source), b.Key), shortTitle(b.Title, b.Key, maxRelatedTitle))
		if b.Count > 0 {
			p += " ×" + number(b.Count)
		}
		switch b.Status {
		case alertgate.RelatedNew, alertgate.RelatedRegression:
			p += " _" + b.Status + "_"
		}
		parts = append(parts, p)
	}
	for shown := len(parts); ; shown-- {
		line := head + strings.Join(parts[:shown], " · ")
		// Several pages' lists are merged: what each left out may be in
		// another's, so their count is no longer known.
		switch hidden := len(parts) - shown; {
		case s.more > 0 && s.pages > 1:
			line += " · and more"
		case hidden+s.more > 0:
			line += " · and " + number(int64(hidden+s.more)) + " more"
		}
		if width(line) <= maxLine || shown == 1 {
			return item{head: line, aside: true}
		}
	}
}

// during names the open incident a bug class occurred during (the most
// recently opened its notification listed) and counts the others.
func (r *renderer) during(rel *alertgate.Related) string {
	if rel == nil || len(rel.Incidents) == 0 {
		return ""
	}
	in := rel.Incidents[0]
	s := "during " + link(r.target(in.Link, string(in.Source), in.Key), shortTitle(in.Title, in.Key, maxRelatedTitle))
	if n := len(rel.Incidents) - 1 + rel.MoreIncidents; n > 0 {
		s += " and " + count(int64(n), "other open incident", "other open incidents")
	}
	return s
}

func (r *renderer) seeAll(path string) string {
	if r.base == "" {
		return ""
	}
	return linkURL(r.base + path)
}

// target is where an item's title links: its page at the source, else
// alertgate's explanation of the key.
func (r *renderer) target(href, source, key string) string {
	if u := linkURL(href); u != "" {
		return u
	}
	if r.base == "" || source == "" || key == "" {
		return ""
	}
	return linkURL(r.base + "/v1/explain?source=" + url.QueryEscape(source) + "&key=" + url.QueryEscape(key))
}

func title(t, key string) string { return shortTitle(t, key, maxTitle) }

// shortTitle is t (else key) as text of at most max.
func shortTitle(t, key string, max int) string {
	if clean(t) == "" {
		t = key
	}
	if clean(t) == "" {
		t = "(untitled)"
	}
	return text(t, max)
}

func severitySymbol(s alertgate.Severity) string {
	switch s {
	case alertgate.SeverityCritical:
		return ":red_circle:"
	case alertgate.SeverityError:
		return ":large_orange_circle:"
	case alertgate.SeverityWarning:
		return ":large_yellow_circle:"
	case alertgate.SeverityInfo:
		return ":large_blue_circle:"
	}
	return ":white_circle:"
}

// fit joins head and meta, dropping trailing meta until the line is
// within maxLine (only pathological input, such as titles of nothing but
// "&", gets there).
func fit(head string, meta ...string) item {
	var kept []string
	for _, m := range meta {
		if m != "" {
			kept = append(kept, m)
		}
	}
	for {
		it := item{head: head, meta: strings.Join(kept, " · ")}
		if width(it.line(false)) <= maxLine || len(kept) == 0 {
			return it
		}
		kept = kept[:len(kept)-1]
	}
}

func (r *renderer) bugHead(b Bug) string {
	return severitySymbol(b.Severity) + " *" + link(r.target(b.Link, b.Source, b.Key), title(b.Title, b.Key)) + "*"
}

func since(n int64) string {
	if n <= 0 {
		return ""
	}
	return count(n, "occurrence", "occurrences") + " since the last digest"
}

func (r *renderer) newBug(b Bug) item {
	var first, total string
	if !b.FirstSeen.IsZero() {
		first = "first seen " + when(b.FirstSeen)
	}
	if b.Count > 0 {
		total = count(b.Count, "occurrence", "occurrences")
	}
	return fit(r.bugHead(b), text(b.Service, maxName), text(b.Source, maxName), first, r.during(b.Related), total)
}

func (r *renderer) regression(b Bug) item {
	var last string
	if !b.LastSeen.IsZero() {
		last = "back " + when(b.LastSeen)
	}
	return fit(r.bugHead(b), text(b.Service, maxName), text(b.Source, maxName), last, r.during(b.Related), since(b.CountSince), text(b.Reason, maxReason))
}

func (r *renderer) spike(b Bug) item {
	return fit(r.bugHead(b), text(b.Service, maxName), text(b.Source, maxName), text(b.Reason, maxReason), r.during(b.Related), since(b.CountSince))
}

func (r *renderer) recurring(b Bug) item {
	n := "×" + number(b.CountSince) + " since the last digest"
	if b.Count > 0 {
		n += ", " + number(b.Count) + " total"
	}
	return fit(r.bugHead(b), text(b.Service, maxName), text(b.Source, maxName), n)
}

func (r *renderer) incidentHead(symbol string, in Incident, sev bool) string {
	h := symbol + " *" + link(r.target(in.Link, in.Source, in.Key), title(in.Title, in.Key)) + "*"
	if sev && in.Severity != "" {
		h += " " + code(string(in.Severity), 20)
	}
	return h
}

func dedupKey(k string) string {
	if c := code(k, maxKey); c != "" {
		return "PagerDuty " + c
	}
	return ""
}

func paged(in Incident) string {
	if in.OpenedAt.IsZero() {
		return ""
	}
	return "paged " + when(in.OpenedAt)
}

// state is what became of a listed item since its digest was posted, as
// words on its line ("" for nothing).
func (r *renderer) state(key string) string {
	st, ok := r.d.States[key]
	if !ok {
		return ""
	}
	var parts []string
	if !st.ResolvedAt.IsZero() {
		parts = append(parts, ":white_check_mark: resolved at "+date(st.ResolvedAt, "{time}", "15:04 UTC"))
	}
	if st.AckedBy != "" {
		parts = append(parts, ":eyes: acknowledged by "+text(st.AckedBy, maxName))
	}
	if st.SilencedBy != "" {
		parts = append(parts, ":mute: silenced 1h by "+text(st.SilencedBy, maxName))
	}
	if st.MutedBy != "" {
		parts = append(parts, ":no_bell: muted by "+text(st.MutedBy, maxName))
	}
	return "*" + strings.Join(parts, " · ") + "*"
}

// incidentButtons are an open incident's: Acknowledge while neither
// resolved nor acknowledged, Silence 1h while not silenced.
func (r *renderer) incidentButtons(in Incident) []button {
	if !r.d.Buttons || in.Key == "" {
		return nil
	}
	st := r.d.States[in.Key]
	v := ButtonValue{Digest: r.d.ID, Key: in.Key, DedupKey: in.DedupKey}.Encode()
	var bs []button
	if st.ResolvedAt.IsZero() && st.AckedBy == "" && in.DedupKey != "" {
		bs = append(bs, button{action: ActionAcknowledge, text: "Acknowledge", value: v, style: "primary"})
	}
	if st.SilencedBy == "" {
		bs = append(bs, button{action: ActionSilence1h, text: "Silence 1h", value: v})
	}
	return bs
}

// bugButtons are a bug class's: Mute while not muted.
func (r *renderer) bugButtons(b Bug) []button {
	if !r.d.Buttons || b.Key == "" || r.d.States[b.Key].MutedBy != "" {
		return nil
	}
	return []button{{action: ActionMute, text: "Mute", value: ButtonValue{Digest: r.d.ID, Key: b.Key}.Encode()}}
}

// withState adds the item's state to its line and its buttons.
func withState(it item, state string, buttons []button) item {
	if state != "" {
		if it.meta == "" {
			it.meta = state
		} else {
			it.meta += " · " + state
		}
	}
	it.buttons = buttons
	return it
}

func (r *renderer) opened(in Incident) item {
	runbook := ":warning: no runbook"
	if u := linkURL(in.RunbookURL); u != "" {
		label := "Runbook"
		if t := text(in.RunbookTitle, 60); t != "" {
			label += ": " + t
		}
		runbook = link(u, ":book: "+label)
	}
	return fit(r.incidentHead(severitySymbol(in.Severity), in, true),
		text(in.Service, maxName), text(in.Source, maxName), paged(in), dedupKey(in.DedupKey), runbook)
}

func (r *renderer) resolved(in Incident) item {
	var done string
	switch {
	case !in.OpenedAt.IsZero() && !in.ResolvedAt.IsZero() && !in.ResolvedAt.Before(in.OpenedAt):
		done = "resolved after " + duration(in.ResolvedAt.Sub(in.OpenedAt))
	case !in.ResolvedAt.IsZero():
		done = "resolved " + when(in.ResolvedAt)
	default:
		done = "resolved"
	}
	return fit(r.incidentHead(":white_check_mark:", in, false),
		text(in.Service, maxName), text(in.Source, maxName), done, dedupKey(in.DedupKey))
}

func (r *renderer) held(h Held) item {
	state := holdWords(h.Reason)
	if h.Resolved {
		state = "resolved while held (" + state + ")"
	}
	head := ":zzz: *" + link(r.target("", h.Source, h.Key), title(h.Title, h.Key)) + "*"
	return fit(head, text(h.Service, maxName), text(h.Source, maxName), text(state, maxName+20), text(h.Detail, maxReason))
}

func (r *renderer) noRunbook(in Incident) item {
	return fit(r.incidentHead(severitySymbol(in.Severity), in, true),
		text(in.Service, maxName), text(in.Source, maxName), paged(in), dedupKey(in.DedupKey))
}

// layout chooses the richest layout that fits: every item in its own
// section; else every item on its own line, packed; else as many items as
// fit, taken in turns from each part so that 500 new bug classes cannot
// crowd out the incidents, each cut part ending with "and N more".
func (r *renderer) layout() []block {
	all := make([]int, len(r.groups))
	for i, g := range r.groups {
		all[i] = min(len(g.items), g.limit)
	}
	if b := r.build(all, true); fits(b) {
		return b
	}
	// With buttons every item shown keeps its own section, for the
	// buttons under it: fewer are shown, the rest counted.
	own := r.d.Buttons
	if !own {
		if b := r.build(all, false); fits(b) {
			return b
		}
	}
	shown := make([]int, len(r.groups))
	full := make([]bool, len(r.groups))
	for more := true; more; {
		more = false
		for i := range r.groups {
			if full[i] || shown[i] >= all[i] {
				continue
			}
			shown[i]++
			if !fits(r.build(shown, own)) {
				shown[i]--
				full[i] = true
				continue
			}
			more = true
		}
	}
	return r.build(shown, own)
}

// build lays out the first shown[i] items of each group, each in its own
// section (own) or packed one per line.
func (r *renderer) build(shown []int, own bool) []block {
	bs := []block{
		{kind: headerBlock, texts: []string{r.header}},
		{kind: contextBlock, texts: r.context},
		{kind: dividerBlock},
	}
	hidden := 0
	for i, g := range r.groups {
		n := shown[i]
		var trailer string
		if rest := items(g.items[n:]); rest > 0 {
			hidden += rest
			trailer = g.trailer(rest)
		}
		if own {
			bs = append(bs, block{kind: sectionBlock, texts: []string{g.heading}})
			for _, it := range g.items[:n] {
				kind := sectionBlock
				if it.aside {
					kind = contextBlock
				}
				bs = append(bs, block{kind: kind, texts: []string{it.line(true)}})
				if r.d.Buttons && len(it.buttons) > 0 {
					bs = append(bs, block{kind: actionsBlock, buttons: it.buttons})
				}
			}
			if trailer != "" {
				bs = append(bs, block{kind: contextBlock, texts: []string{trailer}})
			}
			continue
		}
		lines := []string{g.heading}
		for _, it := range g.items[:n] {
			lines = append(lines, it.line(false))
		}
		if trailer != "" {
			lines = append(lines, trailer)
		}
		for _, s := range pack(lines) {
			bs = append(bs, block{kind: sectionBlock, texts: []string{s}})
		}
	}
	return append(bs, block{kind: dividerBlock}, block{kind: contextBlock, texts: []string{r.closing(hidden)}})
}

func (r *renderer) closing(hidden int) string {
	parts := []string{"alertgate"}
	if hidden > 0 {
		parts = append(parts, "and "+number(int64(hidden))+" more not shown")
	}
	var see []string
	d := r.d
	if r.base != "" && len(d.New)+len(d.Regressions)+len(d.Spikes)+len(d.Recurring) > 0 {
		see = append(see, "<"+linkURL(r.base+"/v1/bugs")+">")
	}
	if r.base != "" && len(d.Opened)+len(d.Resolved)+len(d.NoRunbook) > 0 {
		see = append(see, "<"+linkURL(r.base+"/v1/incidents")+">")
	}
	if len(see) > 0 {
		parts = append(parts, "see "+strings.Join(see, " and "))
	}
	return strings.Join(parts, " · ")
}

// pack joins lines into as few sections as fit in maxSection each.
func pack(lines []string) []string {
	var out []string
	var cur string
	for _, l := range lines {
		switch {
		case cur == "":
			cur = l
		case width(cur)+1+width(l) > maxSection:
			out = append(out, cur)
			cur = l
		default:
			cur += "\n" + l
		}
	}
	if cur != "" {
		out = append(out, cur)
	}
	return out
}

func fits(bs []block) bool {
	if len(bs) > maxBlocks {
		return false
	}
	total := 0
	for _, b := range bs {
		for _, t := range b.texts {
			total += width(t)
		}
		for _, bt := range b.buttons {
			total += width(bt.text)
		}
	}
	return total <= maxMessage
}

func toSlack(bs []block) []slackapi.Block {
	out := make([]slackapi.Block, 0, len(bs))
	mrkdwn := func(s string) *slackapi.TextBlockObject {
		return slackapi.NewTextBlockObject(slackapi.MarkdownType, s, false, false)
	}
	for _, b := range bs {
		switch b.kind {
		case headerBlock:
			out = append(out, slackapi.NewHeaderBlock(slackapi.NewTextBlockObject(slackapi.PlainTextType, b.texts[0], true, false)))
		case contextBlock:
			els := make([]slackapi.MixedElement, 0, len(b.texts))
			for _, t := range b.texts {
				els = append(els, mrkdwn(t))
			}
			out = append(out, slackapi.NewContextBlock("", els...))
		case dividerBlock:
			out = append(out, slackapi.NewDividerBlock())
		case sectionBlock:
			out = append(out, slackapi.NewSectionBlock(mrkdwn(b.texts[0]), nil, nil))
		case actionsBlock:
			els := make([]slackapi.BlockElement, 0, len(b.buttons))
			for _, bt := range b.buttons {
				e := slackapi.NewButtonBlockElement(bt.action, bt.value, slackapi.NewTextBlockObject(slackapi.PlainTextType, bt.text, false, false))
				if bt.style != "" {
					e.Style = slackapi.Style(bt.style)
				}
				els = append(els, e)
			}
			// block_ids are unique in a message: the block's position.
			out = append(out, slackapi.NewActionBlock(fmt.Sprintf("actions-%d", len(out)), els...))
		}
	}
	return out
}
