// Package datadog normalizes Datadog monitor webhook deliveries into
// alertgate events.
//
// Datadog's webhook integration posts whatever JSON payload the webhook is
// configured with. alertgate documents a payload template (docs/datadog.md)
// that carries the monitor id, the alert scope and the alert cycle key, which
// give an exact incident identity and episode. A webhook left on Datadog's
// default payload is accepted too, with a best-effort identity taken from the
// event title and the monitor link in the message body.
//
// Identity:
//
//	key     datadog:v1:<alert_id>:<hash of the sorted alert_scope tags>
//	episode <key>:<alert_cycle_key>  (or <key>:nocycle without a cycle key; empty for bugs)
//	id      datadog:<event id>        (or datadog:h<hash of the body> without one)
package datadog

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"net/url"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/alertgate/alertgate"
	"github.com/alertgate/alertgate/ingest/internal/jsondec"
)

// keyVersion is the version segment of every key this package builds. It
// changes only if the key scheme does, because keys identify incidents and
// bug classes across the stored history.
const keyVersion = "v1"

// noCycleEpisode is the episode suffix used when a delivery has no alert
// cycle key (Datadog's default payload, or a template without
// $ALERT_CYCLE_KEY): every firing of one monitor and scope is then the same
// episode, which the next recovery closes.
const noCycleEpisode = "nocycle"

// eventTypeErrorTracking is the $EVENT_TYPE of Datadog error-tracking
// monitors, whose events are bug classes rather than incidents.
const eventTypeErrorTracking = "error_tracking_alert"

// payload decodes the fields alertgate reads from a Datadog webhook delivery,
// in either of its two shapes. Fields missing from a shape stay empty.
//
// alertgate's payload template, rendered (docs/datadog.md; trimmed):
//
//	{
//	  "id": "7476158253014412345",
//	  "alert_id": "48213097",
//	  "alert_cycle_key": "7476158253014412001",
//	  "alert_transition": "Triggered",
//	  "alert_type": "error",
//	  "alert_priority": "P2",
//	  "alert_status": "trace.http.request.duration over env:prod,service:checkout was > 0.9 ...",
//	  "alert_scope": "env:prod,service:checkout",
//	  "alert_title": "[Triggered on {env:prod,service:checkout}] Checkout latency high",
//	  "title": "[Triggered on {env:prod,service:checkout}] Checkout latency high",
//	  "body": "%%%\n@webhook-alertgate\n\nAverage request latency ...\n%%%",
//	  "text_only_msg": "@webhook-alertgate Average request latency for checkout is above 900ms. ...",
//	  "event_type": "query_alert_monitor",
//	  "date": "1773480413000",
//	  "last_updated": "1773480413000",
//	  "hostname": "",
//	  "link": "https://app.datadoghq.com/event/jump_to?event_id=7476158253014412345",
//	  "snapshot": "https://p.datadoghq.com/snapshot/view/....png",
//	  "tags": "env:prod,monitor,service:checkout,team:payments",
//	  "org": {"id": "415600", "name": "Example Org"}
//	}
//
// Datadog's default payload (trimmed):
//
//	{
//	  "body": "%%%\n@webhook-alertgate\n\n...\n- - -\n\n[[Monitor Status](https://app.datadoghq.com/monitors#18692904?)] ...\n%%%",
//	  "last_updated": "1591216985000",
//	  "event_type": "service_check",
//	  "title": "[Triggered] [TEST] Host Cluster Alert",
//	  "date": "1591216985000",
//	  "org": {"id": "415600", "name": "Puppet"},
//	  "id": "5485379890863845239"
//	}
//
// A value that is literally an unrendered variable ("$ALERT_CYCLE_KEY") counts
// as empty; numbers are accepted wherever strings are (alert_id 48213097).
type payload struct {
	ID              flexString `json:"id"`
	AlertID         flexString `json:"alert_id"`
	AlertCycleKey   flexString `json:"alert_cycle_key"`
	AlertTransition flexString `json:"alert_transition"`
	AlertType       flexString `json:"alert_type"`
	AlertPriority   flexString `json:"alert_priority"`
	AlertStatus     flexString `json:"alert_status"`
	AlertScope      flexString `json:"alert_scope"`
	AlertTitle      flexString `json:"alert_title"`
	Title           flexString `json:"title"`
	Body            flexString `json:"body"`
	TextOnlyMsg     flexString `json:"text_only_msg"`
	EventType       flexString `json:"event_type"`
	Date            flexString `json:"date"`
	LastUpdated     flexString `json:"last_updated"`
	Hostname        flexString `json:"hostname"`
	Link            flexString `json:"link"`
	Snapshot        flexString `json:"snapshot"`
	Tags            flexString `json:"tags"`
	Org             struct {
		ID   flexString `json:"id"`
		Name flexString `json:"name"`
	} `json:"org"`
}

// flexString is a JSON string, number, boolean or null, kept as text; a
// number keeps its literal digits so that large ids stay exact.
type flexString string

// UnmarshalJSON accepts a string, a number, a boolean or null; an object or
// an array is a type error naming the field.
func (s *flexString) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	switch {
	case len(b) == 0 || string(b) == "null":
		*s = ""
	case b[0] == '"':
		v, err := jsondec.String(b)
		if err != nil {
			return err
		}
		*s = flexString(v)
	case b[0] == '-' || (b[0] >= '0' && b[0] <= '9'):
		*s = flexString(integral(string(b)))
	case string(b) == "true" || string(b) == "false":
		*s = flexString(b)
	default:
		kind := "object"
		if b[0] == '[' {
			kind = "array"
		}
		return &json.UnmarshalTypeError{Value: kind, Type: flexStringType}
	}
	return nil
}

var flexStringType = reflect.TypeFor[string]()

// integral rewrites a JSON number that holds an integer in float notation
// (4.8213097e7, 48213097.0) as plain digits, and leaves any other as is.
func integral(num string) string {
	if !strings.ContainsAny(num, ".eE") {
		return num
	}
	f, err := strconv.ParseFloat(num, 64)
	if err != nil || f != float64(int64(f)) || f > 1<<53 || f < -(1<<53) {
		return num
	}
	return strconv.FormatInt(int64(f), 10)
}

// clean trims v and returns "" for an unrendered template variable.
func clean(v flexString) string {
	s := strings.TrimSpace(string(v))
	if unrendered(s) {
		return ""
	}
	return s
}

// unrendered reports whether s is a template variable Datadog left as it
// was ("$ALERT_ID"): `^\$[A-Z][A-Z0-9_]*$`, checked without a regexp
// because clean runs on every field.
func unrendered(s string) bool {
	if len(s) < 2 || s[0] != '$' || s[1] < 'A' || s[1] > 'Z' {
		return false
	}
	for i := 2; i < len(s); i++ {
		if c := s[i]; (c < 'A' || c > 'Z') && (c < '0' || c > '9') && c != '_' {
			return false
		}
	}
	return true
}

// transitions maps each $ALERT_TRANSITION Datadog sends for a monitor
// notification to the status it means. Renotify re-sends a firing episode.
var transitions = []struct {
	name   string
	status alertgate.Status
	warn   bool // severity at most warning
}{
	{"Triggered", alertgate.StatusFiring, false},
	{"Re-Triggered", alertgate.StatusFiring, false},
	{"Warn", alertgate.StatusFiring, true},
	{"Re-Warn", alertgate.StatusFiring, true},
	{"No Data", alertgate.StatusFiring, false},
	{"Re-No Data", alertgate.StatusFiring, false},
	{"Renotify", alertgate.StatusFiring, false},
	{"Recovered", alertgate.StatusResolved, false},
}

// transitionNames lists the known transitions for error messages.
func transitionNames() string {
	names := make([]string, len(transitions))
	for i, t := range transitions {
		names[i] = t.name
	}
	return strings.Join(names, ", ")
}

// lookupTransition returns the index in transitions of name, matched without
// regard to case, or -1.
func lookupTransition(name string) int {
	for i, t := range transitions {
		if strings.EqualFold(t.name, name) {
			return i
		}
	}
	return -1
}

// Datadog event titles start with "[P2] " and "[Triggered on {scope}] "
// style groups; the rest is the monitor's name.
var (
	titlePriority   = regexp.MustCompile(`^\[[Pp]([1-5])\]\s*`)
	titleTransition = regexp.MustCompile(`^\[(Triggered|Re-Triggered|Recovered|Warn|Re-Warn|No Data|Re-No Data|Renotify)(?: on \{(.*?)\})?\]\s*`)
)

// titleParts is a Datadog title split into its prefixes and the name.
type titleParts struct {
	name       string
	transition string // "" when the title has no transition prefix
	scope      string // from "[Triggered on {scope}]"
	priority   string // "P1".."P5" from "[P1]"
}

// splitTitle strips the priority and transition prefixes of a Datadog title
// ("[P1] [Triggered on {host:a}] Disk full") in either order, once each.
func splitTitle(title string) titleParts {
	p := titleParts{name: strings.TrimSpace(title)}
	for range 2 {
		if m := titlePriority.FindStringSubmatch(p.name); m != nil && p.priority == "" {
			p.priority = "P" + m[1]
			p.name = p.name[len(m[0]):]
			continue
		}
		if m := titleTransition.FindStringSubmatch(p.name); m != nil && p.transition == "" {
			p.transition, p.scope = m[1], strings.TrimSpace(m[2])
			p.name = p.name[len(m[0]):]
			continue
		}
		break
	}
	p.name = strings.TrimSpace(p.name)
	return p
}

// monitorLink finds the monitor id and the site of the first monitor link
// in a message body: https://app.datadoghq.com/monitors#18692904 or
// https://app.datadoghq.eu/monitors/18692904.
var monitorLink = regexp.MustCompile(`https://([A-Za-z0-9.-]+)/monitors(?:#|/)([0-9]{1,20})\b`)

// siteHost returns the host of a Datadog site URL (app.datadoghq.eu,
// us5.datadoghq.com, app.ddog-gov.com, …), or "" when u is not one.
func siteHost(u string) string {
	parsed, err := url.Parse(u)
	if err != nil || parsed.Scheme != "https" || parsed.User != nil || parsed.Port() != "" {
		return ""
	}
	host := strings.ToLower(parsed.Hostname())
	for _, domain := range []string{"datadoghq.com", "datadoghq.eu", "ddog-gov.com"} {
		if host == domain || strings.HasSuffix(host, "."+domain) {
			return host
		}
	}
	return ""
}

// httpsURL reports whether u is an absolute https URL, the only kind
// attached as a link.
func httpsURL(u string) bool {
	parsed, err := url.Parse(u)
	return err == nil && parsed.Scheme == "https" && parsed.Host != ""
}

// normalizeScope splits a comma-separated scope into its tags, trimmed,
// sorted and without duplicates, so that the order Datadog lists them in
// does not change the key.
func normalizeScope(scope string) []string {
	var tags []string
	for t := range strings.SplitSeq(scope, ",") {
		if t = strings.TrimSpace(t); t != "" {
			tags = append(tags, t)
		}
	}
	slices.Sort(tags)
	return slices.Compact(tags)
}

// addTags sets a label for each "key:value" tag of a comma-separated list;
// a value may hold colons. Bare tags ("monitor") carry no value a route
// could match on and are skipped; of repeated keys the first one wins.
// Tags of overriding replace labels set before this call.
func addTags(labels map[string]string, list string, overriding bool) {
	seen := map[string]bool{}
	for t := range strings.SplitSeq(list, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(t), ":")
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		if !ok || k == "" || v == "" || seen[k] {
			continue
		}
		seen[k] = true
		if _, set := labels[k]; set && !overriding {
			continue
		}
		labels[k] = v
	}
}

// isIDToken reports whether s, a Datadog event id or cycle key, is used as
// is (`^[A-Za-z0-9_.-]{1,64}$`); anything else is hashed.
func isIDToken(s string) bool {
	if len(s) == 0 || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '_', c == '.', c == '-':
		default:
			return false
		}
	}
	return true
}

// parseTime reads an epoch timestamp in seconds, milliseconds, microseconds
// or nanoseconds, told apart by magnitude, or an RFC 3339 time.
func parseTime(s string) (time.Time, bool) {
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		switch {
		case n <= 0:
			return time.Time{}, false
		case n < 1e11: // seconds until the year 5138
			return time.Unix(n, 0).UTC(), true
		case n < 1e14:
			return time.UnixMilli(n).UTC(), true
		case n < 1e17:
			return time.UnixMicro(n).UTC(), true
		default:
			return time.Unix(0, n).UTC(), true
		}
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t.UTC(), true
	}
	return time.Time{}, false
}

// cleanMessage turns a Datadog message into a description: without the
// "%%%" markdown markers, the "- - -" footer of links and the leading
// @-handles that addressed the notification.
func cleanMessage(msg string) string {
	msg = strings.TrimSpace(msg)
	msg = strings.TrimSpace(strings.TrimSuffix(strings.TrimPrefix(msg, "%%%"), "%%%"))
	if before, _, ok := strings.Cut(msg, "\n- - -"); ok {
		msg = before
	}
	for {
		msg = strings.TrimLeft(msg, " \t\r\n")
		if !strings.HasPrefix(msg, "@") {
			break
		}
		end := strings.IndexAny(msg, " \t\r\n")
		if end < 0 {
			return ""
		}
		msg = msg[end:]
	}
	for strings.Contains(msg, "\n\n\n") {
		msg = strings.ReplaceAll(msg, "\n\n\n", "\n\n")
	}
	return strings.TrimSpace(msg)
}

// decode parses body into p, with errors that name the problem.
func decode(body []byte, p *payload) error {
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) == 0 {
		return alertgate.Errorf(alertgate.EINVALID, "body: empty, want a JSON object")
	}
	// An object that decodes needs none of the checks below, which only
	// find the message for a body that does not.
	if trimmed[0] == '{' && jsondec.Unmarshal(trimmed, p) == nil {
		return nil
	}
	*p = payload{}
	return explain(trimmed, p)
}

// explain decodes trimmed, a non-empty body, into p with encoding/json and
// returns an error that names what is wrong with it.
func explain(trimmed []byte, p *payload) error {
	if !json.Valid(trimmed) {
		var v any
		err := json.Unmarshal(trimmed, &v)
		var syntax *json.SyntaxError
		if errors.As(err, &syntax) {
			return alertgate.Errorf(alertgate.EINVALID, "body: malformed JSON at byte %d: %s", syntax.Offset, syntax.Error())
		}
		return alertgate.Errorf(alertgate.EINVALID, "body: malformed JSON")
	}
	if trimmed[0] != '{' {
		kind := "a string"
		switch {
		case trimmed[0] == '[':
			kind = "an array"
		case string(trimmed) == "null":
			kind = "null"
		case string(trimmed) == "true" || string(trimmed) == "false":
			kind = "a boolean"
		case trimmed[0] != '"':
			kind = "a number"
		}
		return alertgate.Errorf(alertgate.EINVALID, "body: want a JSON object, got %s", kind)
	}
	if err := json.Unmarshal(trimmed, p); err != nil {
		var typ *json.UnmarshalTypeError
		if errors.As(err, &typ) && typ.Field != "" {
			want := "a string or a number"
			if typ.Type != nil && typ.Type.Kind() == reflect.Struct {
				want = "an object"
			}
			return alertgate.Errorf(alertgate.EINVALID, "%s: want %s, got %s", typ.Field, want, typ.Value)
		}
		return alertgate.Errorf(alertgate.EINVALID, "body: %v", err)
	}
	return nil
}

// Parse normalizes one Datadog monitor webhook delivery into one event.
//
// It reads alertgate's payload template (docs/datadog.md) exactly and
// Datadog's default payload on a best-effort basis. Bad input, including a
// transition it does not know and a delivery that identifies no monitor,
// returns an *alertgate.Error with code EINVALID whose message names the
// field.
func Parse(body []byte) ([]alertgate.Event, error) {
	var p payload
	if err := decode(body, &p); err != nil {
		return nil, err
	}

	alertTitle, eventTitle := splitTitle(clean(p.AlertTitle)), splitTitle(clean(p.Title))
	title := alertTitle
	if title.name == "" && title.transition == "" {
		title = eventTitle
	}
	rawBody := clean(p.Body)

	// The monitor: $ALERT_ID, else the monitor link in the message body,
	// else (default payload without a link) the monitor's name.
	alertID := clean(p.AlertID)
	site := siteHost(clean(p.Link))
	if m := monitorLink.FindStringSubmatch(rawBody); m != nil {
		if alertID == "" {
			alertID = m[2]
		}
		if site == "" && m[2] == alertID {
			site = siteHost("https://" + m[1] + "/")
		}
	}
	if alertID != "" && !isDigits(alertID) {
		return nil, alertgate.Errorf(alertgate.EINVALID, "alert_id: %q is not a Datadog monitor id", truncate(alertID, 40))
	}
	if alertID != "" {
		alertID = cmp.Or(strings.TrimLeft(alertID, "0"), "0")
	}
	if alertID == "" && title.name == "" {
		return nil, alertgate.Errorf(alertgate.EINVALID,
			"alert_id: missing, and no monitor link in body nor title to tell the monitor by; configure the Datadog webhook with the alertgate payload template (docs/datadog.md)")
	}

	// The transition: $ALERT_TRANSITION, else the title's prefix.
	transition := clean(p.AlertTransition)
	ti := -1
	if transition != "" {
		if ti = lookupTransition(transition); ti < 0 {
			return nil, alertgate.Errorf(alertgate.EINVALID, "alert_transition: %q is not one of %s", truncate(transition, 40), transitionNames())
		}
	} else {
		for _, tp := range []titleParts{alertTitle, eventTitle} {
			if tp.transition != "" {
				ti = lookupTransition(tp.transition)
				break
			}
		}
		if ti < 0 {
			return nil, alertgate.Errorf(alertgate.EINVALID,
				"alert_transition: missing, and the title has no [Triggered]/[Recovered]/… prefix; configure the Datadog webhook with the alertgate payload template (docs/datadog.md)")
		}
	}
	tr := transitions[ti]

	scope := clean(p.AlertScope)
	if scope == "" {
		scope = cmp.Or(alertTitle.scope, eventTitle.scope)
	}
	scopeTags := normalizeScope(scope)

	ev := alertgate.Event{
		Source:     alertgate.SourceDatadog,
		Kind:       alertgate.KindIncident,
		Status:     tr.status,
		Transition: tr.name,
		Labels:     map[string]string{},
	}

	eventType := clean(p.EventType)
	monitor := alertID
	if monitor == "" {
		monitor = "title-" + alertgate.Hash(title.name)
	}
	ev.Key = "datadog:" + keyVersion + ":" + monitor + ":" + alertgate.Hash(strings.Join(scopeTags, ","))
	if eventType == eventTypeErrorTracking {
		ev.Kind = alertgate.KindBug
	} else if cycle := clean(p.AlertCycleKey); isIDToken(cycle) {
		ev.Episode = ev.Key + ":" + cycle
	} else if cycle != "" {
		ev.Episode = ev.Key + ":h" + alertgate.Hash(cycle)
	} else {
		ev.Episode = ev.Key + ":" + noCycleEpisode
	}

	if id := clean(p.ID); isIDToken(id) {
		ev.ID = "datadog:" + id
	} else if id != "" {
		ev.ID = "datadog:h" + alertgate.Hash(id)
	} else {
		ev.ID = "datadog:h" + alertgate.Hash(string(body))
	}

	// Severity: the monitor's priority, else the alert type; a warning
	// transition is at most a warning.
	priority := strings.ToUpper(clean(p.AlertPriority))
	if lookupPriority(priority) == "" {
		priority = cmp.Or(alertTitle.priority, eventTitle.priority)
	}
	ev.Severity = lookupPriority(priority)
	if ev.Severity == "" {
		switch strings.ToLower(clean(p.AlertType)) {
		case "error":
			ev.Severity = alertgate.SeverityError
		case "warning":
			ev.Severity = alertgate.SeverityWarning
		case "success", "info":
			ev.Severity = alertgate.SeverityInfo
		default:
			ev.Severity = alertgate.SeverityError
		}
	}
	if tr.warn && (ev.Severity == alertgate.SeverityCritical || ev.Severity == alertgate.SeverityError) {
		ev.Severity = alertgate.SeverityWarning
	}

	ev.Title = title.name
	if ev.Title == "" {
		ev.Title = "Datadog monitor " + alertID
	}
	ev.Description = cmp.Or(cleanMessage(clean(p.TextOnlyMsg)), clean(p.AlertStatus), cleanMessage(rawBody))

	// Labels: the event's tags, then the scope's (more specific), then
	// alertgate's own.
	addTags(ev.Labels, clean(p.Tags), false)
	addTags(ev.Labels, strings.Join(scopeTags, ","), true)
	setLabel(ev.Labels, "host", clean(p.Hostname))
	setLabel(ev.Labels, "priority", strings.ToLower(priority))
	setLabel(ev.Labels, "event_type", eventType)
	setLabel(ev.Labels, "alert_id", alertID)
	setLabel(ev.Labels, "transition", tr.name)
	setLabel(ev.Labels, "org_id", clean(p.Org.ID))
	setLabel(ev.Labels, "org_name", clean(p.Org.Name))

	if link := clean(p.Link); httpsURL(link) {
		ev.Links = append(ev.Links, alertgate.Link{Href: link, Text: "Datadog event"})
	}
	if alertID != "" && site != "" {
		ev.Links = append(ev.Links, alertgate.Link{Href: "https://" + site + "/monitors/" + alertID, Text: "Datadog monitor"})
	}
	if snap := clean(p.Snapshot); httpsURL(snap) {
		ev.Links = append(ev.Links, alertgate.Link{Href: snap, Text: "Snapshot"})
	}

	for _, v := range []flexString{p.Date, p.LastUpdated} {
		if t, ok := parseTime(clean(v)); ok {
			ev.OccurredAt = t
			break
		}
	}

	ev.Finish()
	if err := ev.Validate(); err != nil {
		return nil, err
	}
	return []alertgate.Event{ev}, nil
}

// lookupPriority maps a Datadog monitor priority onto a severity, or "".
func lookupPriority(p string) alertgate.Severity {
	switch p {
	case "P1":
		return alertgate.SeverityCritical
	case "P2":
		return alertgate.SeverityError
	case "P3":
		return alertgate.SeverityWarning
	case "P4", "P5":
		return alertgate.SeverityInfo
	}
	return ""
}

func setLabel(labels map[string]string, k, v string) {
	if v != "" {
		labels[k] = v
	}
}

func isDigits(s string) bool {
	if s == "" || len(s) > 20 {
		return false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// truncate shortens s for an error message.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n]) + "…"
}
