// Package metrics defines every Prometheus metric alertgate exports, in one
// place, so names follow one convention and an operator can read the full
// list here. Metrics live on a Registry given by the caller: tests get their
// own and never share global state.
package metrics

import (
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// Metrics are alertgate's collectors.
type Metrics struct {
	Registry *prometheus.Registry

	IngestRequests  *prometheus.CounterVec   // source, code
	IngestAuthFails *prometheus.CounterVec   // source
	IngestEvents    *prometheus.CounterVec   // source, result (accepted|duplicate|ignored)
	PublishSeconds  *prometheus.HistogramVec // stream
	Decisions       *prometheus.CounterVec   // kind, outcome
	KVConflicts     *prometheus.CounterVec   // bucket
	RouterErrors    *prometheus.CounterVec   // reason
	Notifications   *prometheus.CounterVec   // sink, type, state (sent|dry_run|failed|retrying|dead)
	DeliveryAttempt *prometheus.CounterVec   // sink, result (ok|retry|permanent)
	DeliverySeconds *prometheus.HistogramVec // sink
	PageLatency     prometheus.Histogram     // webhook received -> PagerDuty accepted
	DecisionLag     prometheus.Histogram     // webhook received -> router decided
	DeadLetters     *prometheus.CounterVec   // sink, reason
	NoRunbook       *prometheus.CounterVec   // team
	ConsumerPending *prometheus.GaugeVec     // stream, consumer
	Ready           prometheus.Gauge
	Panics          prometheus.Counter
	APIAuthFails    *prometheus.CounterVec // code (401|403)
	AdminActions    *prometheus.CounterVec // action
	SlackActions    *prometheus.CounterVec // action, result (ok|refused|failed)
	SlackAPIErrors  *prometheus.CounterVec // method, error (Slack's error code)
	SlackUpdates    *prometheus.CounterVec // result (published|coalesced|sent)
	ReportSeconds   prometheus.Histogram   // one alert-fatigue report, both streams read
	ReportMessages  *prometheus.CounterVec // stream: messages read for reports
	ReportErrors    prometheus.Counter     // reports that failed (JetStream unreadable, undecodable messages skipped are not errors)
	ReplayRuns      *prometheus.CounterVec // result (ok|mismatch|invalid|busy|failed)
	ReplaySeconds   prometheus.Histogram

	// silences reports alertgate_silences{state} at each scrape (CountSilences).
	silences *silenceCounts
	// bugIndex counts the bug index's classes at each scrape of
	// alertgate_bug_index_classes (CountBugIndex).
	bugIndex atomic.Pointer[func() int]
}

// New registers every collector (and the Go and process collectors) on a
// new registry.
func New() *Metrics {
	r := prometheus.NewRegistry()
	f := func(c prometheus.Collector) { r.MustRegister(c) }
	m := &Metrics{Registry: r}
	m.IngestRequests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "alertgate_ingest_requests_total",
		Help: "Webhook requests by source and HTTP status code.",
	}, []string{"source", "code"})
	m.IngestAuthFails = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "alertgate_ingest_auth_failures_total",
		Help: "Webhook requests rejected for bad or missing credentials.",
	}, []string{"source"})
	m.IngestEvents = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "alertgate_ingest_events_total",
		Help: "Normalized events by source and result: accepted (stored), duplicate (already stored), ignored (nothing to route).",
	}, []string{"source", "result"})
	m.PublishSeconds = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "alertgate_publish_duration_seconds",
		Help:    "Time to get JetStream acknowledgements for one batch.",
		Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 5},
	}, []string{"stream"})
	m.Decisions = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "alertgate_router_decisions_total",
		Help: "Policy decisions by kind and outcome (paged, resolved, duplicate, stale, new, regression, spike, counted, muted, …).",
	}, []string{"kind", "outcome"})
	m.KVConflicts = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "alertgate_kv_conflicts_total",
		Help: "State updates that lost a compare-and-set race and were retried.",
	}, []string{"bucket"})
	m.RouterErrors = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "alertgate_router_errors_total",
		Help: "Events the router could not process (undecodable: terminated; transient: redelivered), and failed re-checks of held pages (recheck: retried at the next re-check).",
	}, []string{"reason"})
	m.Notifications = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "alertgate_notifications_total",
		Help: "Notifications by sink, type and final or transient state.",
	}, []string{"sink", "type", "state"})
	m.DeliveryAttempt = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "alertgate_delivery_attempts_total",
		Help: "Delivery attempts to a sink by result: ok, retry (transient failure), permanent (rejected); throttled counts deliveries given back to wait for the sink's rate limit (not attempts).",
	}, []string{"sink", "result"})
	m.DeliverySeconds = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "alertgate_delivery_duration_seconds",
		Help:    "Duration of one delivery attempt to a sink.",
		Buckets: prometheus.DefBuckets,
	}, []string{"sink"})
	m.PageLatency = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "alertgate_page_latency_seconds",
		Help:    "Time from the webhook being received to PagerDuty accepting the page.",
		Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 300},
	})
	m.DecisionLag = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "alertgate_decision_lag_seconds",
		Help:    "Time from the webhook being received to the router's decision on its event (how far the router runs behind ingest).",
		Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 300},
	})
	m.DeadLetters = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "alertgate_dead_letters_total",
		Help: "Notifications moved to DEADLETTER, by sink and reason (permanent, exhausted: attempts used up, expired: older than delivery.max_age).",
	}, []string{"sink", "reason"})
	m.NoRunbook = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "alertgate_pages_without_runbook_total",
		Help: "Pages sent with no runbook attached, by team.",
	}, []string{"team"})
	m.ConsumerPending = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "alertgate_consumer_pending_messages",
		Help: "Messages not yet delivered to a durable consumer (its lag).",
	}, []string{"stream", "consumer"})
	m.Ready = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "alertgate_ready",
		Help: "1 when JetStream is reachable and every consumer runs.",
	})
	m.Panics = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "alertgate_http_panics_total",
		Help: "HTTP handler panics recovered (answered 500): each is a bug, reported to Sentry when SENTRY_DSN is set.",
	})
	m.APIAuthFails = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "alertgate_api_auth_failures_total",
		Help: "API requests refused by api.tokens: 401 (no or an unknown token), 403 (a read token on an admin endpoint).",
	}, []string{"code"})
	m.AdminActions = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "alertgate_admin_actions_total",
		Help: "Admin actions taken through the API (each also in the audit trail), by action.",
	}, []string{"action"})
	m.SlackActions = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "alertgate_slack_actions_total",
		Help: "Buttons pressed on Slack digests (acknowledge, silence_1h, mute) by result: ok, refused (bad signature or input), failed.",
	}, []string{"action", "result"})
	m.SlackAPIErrors = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "alertgate_slack_api_errors_total",
		Help: "Errors of Slack's Web API by method and Slack's error code (ratelimited, channel_not_found, not_in_channel, invalid_auth, …).",
	}, []string{"method", "error"})
	m.SlackUpdates = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "alertgate_slack_digest_updates_total",
		Help: "Edits of posted digests: published (a change to show), sent (chat.update done), coalesced (already shown by an earlier edit).",
	}, []string{"result"})
	m.ReportSeconds = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "alertgate_report_duration_seconds",
		Help:    "Time to build one alert-fatigue report (reading ALERTS and NOTIFY over its window).",
		Buckets: []float64{.01, .05, .1, .25, .5, 1, 2.5, 5, 10, 20, 30, 60},
	})
	m.ReportMessages = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "alertgate_report_messages_read_total",
		Help: "Messages read from a stream to build alert-fatigue reports, and of those, skipped as undecodable (stream=<name>_undecodable).",
	}, []string{"stream"})
	m.ReportErrors = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "alertgate_report_errors_total",
		Help: "Alert-fatigue reports that could not be built (a stream could not be read).",
	})
	m.ReplayRuns = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "alertgate_replay_runs_total",
		Help: "Replays of the history through a candidate config, by result: ok, mismatch (replaying the live config did not reproduce NOTIFY's pages: findings), invalid (a bad candidate or window), busy (another replay ran), failed (the streams could not be read).",
	}, []string{"result"})
	m.ReplaySeconds = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "alertgate_replay_duration_seconds",
		Help:    "Time one replay took, reading the streams included.",
		Buckets: []float64{.01, .05, .1, .5, 1, 2.5, 5, 10, 30, 60, 120, 300},
	})
	m.silences = &silenceCounts{desc: prometheus.NewDesc("alertgate_silences",
		"Silences by state: active (holding the events they match) and pending (maintenance windows to come).", []string{"state"}, nil)}
	bugIndex := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "alertgate_bug_index_classes",
		Help: "Bug classes in the in-memory index GET /v1/bugs and the status page answer from; -1 until it has loaded (the lists walk every class meanwhile).",
	}, func() float64 {
		if f := m.bugIndex.Load(); f != nil {
			return float64((*f)())
		}
		return -1
	})
	for _, c := range []prometheus.Collector{
		m.silences, bugIndex,
		m.IngestRequests, m.IngestAuthFails, m.IngestEvents, m.PublishSeconds,
		m.Decisions, m.KVConflicts, m.RouterErrors, m.Notifications,
		m.DeliveryAttempt, m.DeliverySeconds, m.PageLatency, m.DecisionLag, m.DeadLetters,
		m.NoRunbook, m.ConsumerPending, m.Ready, m.Panics, m.APIAuthFails, m.AdminActions,
		m.SlackActions, m.SlackAPIErrors, m.SlackUpdates,
		m.ReportSeconds, m.ReportMessages, m.ReportErrors,
		m.ReplayRuns, m.ReplaySeconds,
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	} {
		f(c)
	}
	return m
}

// Init creates the labelled series alerts watch at zero, so the first
// dead letter or error is an increase, not a new series rate() cannot see.
func (m *Metrics) Init(teams []string) {
	for _, sink := range []string{"pagerduty", "slack"} {
		for _, reason := range []string{"permanent", "exhausted", "expired"} {
			m.DeadLetters.WithLabelValues(sink, reason)
		}
		for _, result := range []string{"ok", "retry", "permanent"} {
			m.DeliveryAttempt.WithLabelValues(sink, result)
		}
	}
	for _, code := range []string{"401", "403"} {
		m.APIAuthFails.WithLabelValues(code)
	}
	for _, reason := range []string{"undecodable", "transient"} {
		m.RouterErrors.WithLabelValues(reason)
	}
	for _, t := range teams {
		m.NoRunbook.WithLabelValues(t)
	}
	for _, result := range []string{"ok", "mismatch", "invalid", "busy", "failed"} {
		m.ReplayRuns.WithLabelValues(result)
	}
}

// KVConflict counts a compare-and-set race lost on bucket (the policy's
// dedup.ConflictCounter).
func (m *Metrics) KVConflict(bucket string) {
	m.KVConflicts.WithLabelValues(bucket).Inc()
}

// CountSilences makes each scrape report alertgate_silences{state} from
// counts (silences.Store.Counts at the time of the scrape). Until it is
// called, both are 0.
func (m *Metrics) CountSilences(counts func() (active, pending int)) {
	m.silences.counts.Store(&counts)
}

// silenceCounts is the collector of alertgate_silences: the store counts
// its in-memory view when scraped, so the gauge is never stale.
type silenceCounts struct {
	desc   *prometheus.Desc
	counts atomic.Pointer[func() (active, pending int)]
}

func (c *silenceCounts) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c *silenceCounts) Collect(ch chan<- prometheus.Metric) {
	var active, pending int
	if f := c.counts.Load(); f != nil {
		active, pending = (*f)()
	}
	ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, float64(active), "active")
	ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, float64(pending), "pending")
}

// CountBugIndex makes each scrape report alertgate_bug_index_classes from
// count (dedup.BugIndex.Classes: -1 until loaded). Until it is called, -1.
func (m *Metrics) CountBugIndex(count func() int) {
	m.bugIndex.Store(&count)
}
