package web

import (
	"context"
	"time"

	"github.com/alertgate/alertgate"
	"github.com/alertgate/alertgate/dedup"
	"github.com/alertgate/alertgate/runbooks"
	"github.com/alertgate/alertgate/silences"
)

// What the HTTP surface reads, declared here where it is used: the gateway
// wires JetStream-backed implementations in, the handler tests in-memory
// ones.

// States reads the policy's stored state (dedup.Policy). A walk hands out
// one state at a time, so a page of a million classes holds only its top.
type States interface {
	Incident(ctx context.Context, key string) (*dedup.Incident, error)
	Bug(ctx context.Context, key string) (*dedup.Bug, error)
	// EachIncident and EachBug end early, returning nil, when fn returns
	// dedup.ErrStop.
	EachIncident(ctx context.Context, fn func(*dedup.Incident) error) error
	EachBug(ctx context.Context, fn func(*dedup.Bug) error) error
}

// BugIndex lists bug classes from memory (dedup.BugIndex): the first
// q.Limit of a team and status ("" for any), in dedup.Loudest's order (or
// dedup.Latest's), how many matched and the teams that have a class. ok is
// false until it has loaded.
type BugIndex interface {
	Bugs(ctx context.Context, q dedup.BugQuery) (list dedup.BugList, ok bool, err error)
}

// Notifications lists the notification log, newest first.
type Notifications interface {
	List(ctx context.Context, limit int) ([]alertgate.Record, error)
}

// DeadLetters lists the notifications their sinks gave up on, newest
// first, and sends them again once the cause is fixed (every one still
// dead when id is "").
type DeadLetters interface {
	List(ctx context.Context, limit int) ([]alertgate.DeadLetter, error)
	Replay(ctx context.Context, id string) ([]string, error)
}

// Matcher is the route table explain asks what the current config does
// with a key's last labels (routes.Table).
type Matcher interface {
	Classify(ev *alertgate.Event) string
	Route(ev alertgate.Event) alertgate.Match
}

// Runbooks are the loaded runbooks, served as pages (runbooks.Set).
type Runbooks interface {
	Get(id string) (*runbooks.Runbook, bool)
	All() []*runbooks.Runbook
}

// Readiness says whether the gateway can do its work: JetStream answers and
// every stage consumes.
type Readiness interface {
	Ready(ctx context.Context) error
}

// Audit is the durable trail of admin actions: what was done, by which
// token's name, when. Listed newest first.
type Audit interface {
	Record(ctx context.Context, rec alertgate.AuditRecord) error
	List(ctx context.Context, limit int) ([]alertgate.AuditRecord, error)
}

// Silences are the silences every instance shares (silences.Store): Add
// validates (a *silences.InvalidError names the field), Expire ends one
// now (silences.ErrNotFound for an unknown id; an expired one is left as
// it is), List reads the in-memory view, newest first, each with its
// state at now ("" lists every state).
type Silences interface {
	Add(ctx context.Context, in silences.Silence, now time.Time) (silences.Silence, error)
	Expire(ctx context.Context, id string, now time.Time) error
	List(state string, now time.Time) []silences.Silence
}

// Correlator answers what else goes on where an incident fires: the bug
// classes and other open incidents sharing its correlation label values,
// as of at, but the key exclude itself (related.Index). Nil when
// correlation is off or a correlation label is absent from labels.
type Correlator interface {
	Related(labels map[string]string, exclude string, at time.Time) *alertgate.Related
}

// SlackActions carries out the buttons pressed on Slack digests
// (slack.Actions); web checks Slack's signature first.
type SlackActions interface {
	Act(ctx context.Context, act alertgate.SlackAction) (alertgate.SlackActed, error)
}

// Reporter builds the alert-fatigue report from the history in ALERTS and
// NOTIFY (report.Reporter). Errors are coded: EINVALID for a bad window,
// ENOTFOUND for an unknown team.
type Reporter interface {
	Report(ctx context.Context, q alertgate.ReportQuery) (*alertgate.Report, error)
}

// Replayer runs the stored history through a candidate config (YAML) and
// the live one, changing nothing (replay.Runner). A bad candidate is an
// EINVALID error naming its key; a replay already running, ECONFLICT.
type Replayer interface {
	Replay(ctx context.Context, candidate []byte, q alertgate.ReplayQuery) (*alertgate.ReplayReport, error)
}
