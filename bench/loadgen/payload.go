package loadgen

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"
)

// Source is the kind of payload and the endpoint it goes to.
type Source string

// Payload sources.
const (
	// Alertmanager posts Alertmanager v4 webhook bodies (what Alertmanager
	// sends to a webhook receiver) to alertgate's /v1/ingest/alertmanager.
	Alertmanager Source = "alertmanager"
	// Sentry posts Sentry "event_alert triggered" bodies (one event each).
	Sentry Source = "sentry"
	// Datadog posts Datadog monitor webhook bodies (one monitor each).
	Datadog Source = "datadog"
	// Events posts alertgate's own JSON ({"events":[…]}) of kind bug.
	Events Source = "events"
	// AlertmanagerAPI posts the same alerts to a real Alertmanager's
	// /api/v2/alerts, the way Prometheus does.
	AlertmanagerAPI Source = "amapi"
)

// Sources lists every source, for flag help.
var Sources = []Source{Alertmanager, Sentry, Datadog, Events, AlertmanagerAPI}

// DefaultPath is the endpoint path of a source.
func (s Source) DefaultPath() string {
	switch s {
	case AlertmanagerAPI:
		return "/api/v2/alerts"
	default:
		return "/v1/ingest/" + string(s)
	}
}

// MaxBatch is how many alerts one request of the source can carry: Sentry
// and Datadog send one event per webhook.
func (s Source) MaxBatch() int {
	switch s {
	case Sentry, Datadog:
		return 1
	case Events:
		return 1000
	}
	return 1 << 20
}

// Workload says which keys the alerts carry.
type Workload string

// Workloads.
const (
	// Storm: every alert is a key never seen before (an outage fanning out).
	Storm Workload = "storm"
	// Repeat: a fixed pool of keys re-sent over and over (repeat intervals,
	// retries); every body is byte-identical to an earlier one.
	Repeat Workload = "repeat"
	// Mix: 90% repeats from the pool, 10% new keys.
	Mix Workload = "mix"
)

// Workloads lists every workload.
var Workloads = []Workload{Storm, Repeat, Mix}

// Key numbering: an alert's key is (run << seqBits) | seq. New keys take
// seq from a counter starting at poolSize; pool keys are 0..pool-1.
const seqBits = 40

// KeyID renders a key number as the 16 hex digits of an Alertmanager
// fingerprint.
func KeyID(run, seq uint64) string {
	var b [16]byte
	return string(appendHex16(b[:0], run<<seqBits|seq))
}

// ParseKeyID returns the seq of a key rendered by KeyID (ok false if the
// string is not one).
func ParseKeyID(s string) (run, seq uint64, ok bool) {
	if len(s) != 16 {
		return 0, 0, false
	}
	v, err := strconv.ParseUint(s, 16, 64)
	if err != nil {
		return 0, 0, false
	}
	return v >> seqBits, v & (1<<seqBits - 1), true
}

func appendHex16(b []byte, v uint64) []byte {
	const hex = "0123456789abcdef"
	for i := 15; i >= 0; i-- {
		b = append(b, hex[(v>>(uint(i)*4))&0xf])
	}
	return b
}

// template is a body split at its placeholders: parts[0] v0 parts[1] v1 …
type template struct {
	parts [][]byte
	slots []string // placeholder name before parts[i+1]
}

func compile(body []byte, names ...string) template {
	var t template
	rest := body
	for {
		at, name := -1, ""
		for _, n := range names {
			if i := bytes.Index(rest, []byte(n)); i >= 0 && (at < 0 || i < at) {
				at, name = i, n
			}
		}
		if at < 0 {
			t.parts = append(t.parts, rest)
			return t
		}
		t.parts = append(t.parts, rest[:at])
		t.slots = append(t.slots, name)
		rest = rest[at+len(name):]
	}
}

func (t template) render(b []byte, val func(slot string) []byte) []byte {
	for i, p := range t.parts {
		b = append(b, p...)
		if i < len(t.slots) {
			b = append(b, val(t.slots[i])...)
		}
	}
	return b
}

// Placeholders in templates.
const (
	phKey   = "@@KEY@@"   // 16 hex digits (fingerprint, label value)
	phNum   = "@@NUM@@"   // decimal number of the key (Sentry issue, Datadog monitor)
	phEvent = "@@EVENT@@" // 32 hex digits (Sentry event id, Datadog event id)
)

// Alertmanager webhook (v4) pieces, as Alertmanager's webhook notifier
// renders them.
const (
	amHead = `{"receiver":"alertgate","status":"firing","alerts":[`
	amTail = `],"groupLabels":{},"commonLabels":{"alertname":"HighErrorRate","job":"checkout-api","service":"checkout","severity":"critical"},` +
		`"commonAnnotations":{"description":"checkout-api returns 5xx on more than 5% of requests"},"externalURL":"http://alertmanager.bench:9093",` +
		`"version":"4","groupKey":"{}/{service=\"checkout\"}:{alertname=\"HighErrorRate\"}","truncatedAlerts":0}`
)

// alertLabels and alertAnnotations are shared by the webhook alert and the
// Alertmanager API alert, so both carry the same content.
const (
	alertLabels      = `{"alertname":"HighErrorRate","instance":"10.0.3.17:8080","job":"checkout-api","key":"@@KEY@@","service":"checkout","severity":"critical"}`
	alertAnnotations = `{"description":"checkout-api returns 5xx on more than 5% of requests","runbook_url":"https://runbooks.example/checkout-5xx","summary":"5xx ratio above 5% on checkout @@KEY@@"}`
	generatorURL     = `http://prometheus.bench:9090/graph?g0.expr=sum%28rate%28http_requests_total%7Bcode%3D~%225..%22%7D%5B5m%5D%29%29&g0.tab=1`
)

func amWebhookAlert(startsAt string) string {
	return `{"status":"firing","labels":` + alertLabels + `,"annotations":` + alertAnnotations +
		`,"startsAt":"` + startsAt + `","endsAt":"0001-01-01T00:00:00Z","generatorURL":"` + generatorURL + `","fingerprint":"@@KEY@@"}`
}

func amAPIAlert(startsAt string) string {
	return `{"labels":` + alertLabels + `,"annotations":` + alertAnnotations +
		`,"startsAt":"` + startsAt + `","generatorURL":"` + generatorURL + `"}`
}

// Payloads renders request bodies of one source.
type Payloads struct {
	Source Source
	Run    uint64
	head   []byte
	sep    []byte
	tail   []byte
	item   template
}

// NewPayloads prepares the templates of src. Sentry and Datadog bodies are
// the fixtures under fixturesDir with their identities replaced; startsAt
// is the firing time of every Alertmanager alert (fixed, so a re-sent alert
// is the same episode).
func NewPayloads(src Source, run uint64, fixturesDir string, startsAt time.Time) (*Payloads, error) {
	p := &Payloads{Source: src, Run: run, sep: []byte(",")}
	starts := startsAt.UTC().Format(time.RFC3339Nano)
	switch src {
	case Alertmanager:
		p.head, p.tail = []byte(amHead), []byte(amTail)
		p.item = compile([]byte(amWebhookAlert(starts)), phKey)
	case AlertmanagerAPI:
		p.head, p.tail = []byte("["), []byte("]")
		p.item = compile([]byte(amAPIAlert(starts)), phKey)
	case Events:
		p.head, p.tail = []byte(`{"events":[`), []byte(`]}`)
		p.item = compile([]byte(`{"kind":"bug","key":"bench:@@KEY@@","status":"firing","severity":"error","title":"TypeError: cannot read properties of undefined (@@KEY@@)","service":"checkout","labels":{"environment":"production","release":"checkout@2026.03.14"}}`), phKey)
	case Sentry:
		b, err := fixture(fixturesDir, "sentry_event_alert_triggered.json", func(m map[string]any) error {
			ev, ok := dig(m, "data", "event")
			if !ok {
				return fmt.Errorf("no data.event")
			}
			ev["issue_id"] = phNum
			ev["event_id"] = phEvent
			ev["issue_url"] = "https://sentry.io/api/0/issues/" + phNum + "/"
			ev["url"] = "https://sentry.io/api/0/projects/test-org/front-end/events/" + phEvent + "/"
			ev["web_url"] = "https://sentry.io/organizations/test-org/issues/" + phNum + "/events/" + phEvent + "/"
			ev["title"] = "ReferenceError: heck is not defined (" + phKey + ")"
			return nil
		})
		if err != nil {
			return nil, err
		}
		p.item = compile(b, phKey, phNum, phEvent)
	case Datadog:
		b, err := fixture(fixturesDir, "datadog_triggered.json", func(m map[string]any) error {
			m["id"] = phNum
			m["alert_id"] = phNum
			m["alert_cycle_key"] = phNum
			m["aggreg_key"] = phKey
			m["link"] = "https://app.datadoghq.com/event/jump_to?event_id=" + phNum
			return nil
		})
		if err != nil {
			return nil, err
		}
		p.item = compile(b, phKey, phNum)
	default:
		return nil, fmt.Errorf("unknown source %q", src)
	}
	return p, nil
}

func dig(m map[string]any, path ...string) (map[string]any, bool) {
	for _, k := range path {
		next, ok := m[k].(map[string]any)
		if !ok {
			return nil, false
		}
		m = next
	}
	return m, true
}

func fixture(dir, name string, edit func(map[string]any) error) ([]byte, error) {
	raw, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		return nil, fmt.Errorf("fixture: %w", err)
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, fmt.Errorf("fixture %s: %w", name, err)
	}
	if err := edit(m); err != nil {
		return nil, fmt.Errorf("fixture %s: %w", name, err)
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(m); err != nil {
		return nil, err
	}
	return bytes.TrimSpace(buf.Bytes()), nil
}

// Render appends the body of one request carrying keys (seq numbers).
func (p *Payloads) Render(b []byte, seqs []uint64) []byte {
	b = append(b, p.head...)
	var kb [16]byte
	var nb, eb [32]byte
	for i, seq := range seqs {
		if i > 0 {
			b = append(b, p.sep...)
		}
		v := p.Run<<seqBits | seq
		key := appendHex16(kb[:0], v)
		var num, ev []byte
		b = p.item.render(b, func(slot string) []byte {
			switch slot {
			case phKey:
				return key
			case phNum:
				if num == nil {
					// Datadog monitor ids and Sentry issue ids are
					// decimal; keep them under 2^53 for JSON readers.
					num = strconv.AppendUint(nb[:0], v&(1<<52-1)+1, 10)
				}
				return num
			default:
				if ev == nil {
					ev = appendHex16(appendHex16(eb[:0], v), ^v)
				}
				return ev
			}
		})
	}
	return append(b, p.tail...)
}
