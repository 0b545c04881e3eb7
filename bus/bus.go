// Package bus owns alertgate's JetStream plumbing: the embedded NATS server
// (or the connection to an external cluster), the streams ALERTS, NOTIFY,
// DEADLETTER and AUDIT, the KV buckets that hold policy state, and durable
// publishing. Every other package talks to JetStream through what this
// package sets up.
package bus

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Stream and bucket names. They are part of the on-disk contract: renaming
// one orphans the data of every running deployment.
const (
	StreamAlerts     = "ALERTS"
	StreamNotify     = "NOTIFY"
	StreamDeadLetter = "DEADLETTER"

	BucketIncidents     = "incidents"
	BucketBugs          = "bugs"
	BucketNotifications = "notifications"
	// BucketSilences holds the silences, one entry per id; an entry
	// expires 7 days after its silence ends (a TTL per write).
	BucketSilences = "silences"
	// BucketInhibitors holds one entry per firing incident that matches an
	// inhibit rule's source matchers, while it fires.
	BucketInhibitors = "inhibitors"
	// BucketHeld indexes the incident keys with a held page or a held
	// resolve (flapping): what the router re-checks until the hold ends.
	BucketHeld = "held"
	// BucketRelated holds what a page lists as related: per correlation
	// label values, the open incidents (while open) and each instance's
	// recent occurrence counts of bug classes (a TTL per write).
	BucketRelated = "related"
)

// Subjects.
const (
	SubjectAlerts     = "alerts"     // alerts.<source>
	SubjectNotify     = "notify"     // notify.<sink>.<team>, notify.digest.<team>: see NotifySubject
	SubjectDeadLetter = "deadletter" // deadletter.<sink>.<team>
)

// storedIDs bounds the IDs remembered (about 100 bytes each).
const storedIDs = 200_000

// Options says how to reach JetStream and how to size what alertgate creates.
type Options struct {
	// URL of an external NATS cluster; empty starts an embedded server.
	URL string
	// DataDir holds the embedded server's JetStream store (DataDir/jetstream).
	DataDir string
	// Listen makes the embedded server accept TCP clients ("127.0.0.1:4222").
	// Empty listens on no port.
	Listen string
	// SyncInterval of the embedded file store: "", "always" or a duration.
	SyncInterval string
	// Replicas for streams and buckets.
	Replicas int
	// Retention (MaxAge) of ALERTS, NOTIFY and DEADLETTER: they are the audit log.
	Retention time.Duration
	// DuplicateWindow is how long a Nats-Msg-Id is remembered.
	DuplicateWindow time.Duration
	// Name identifies this client in the server's connection list.
	Name string
}

// Bus is a connection to JetStream with alertgate's streams and buckets in place.
type Bus struct {
	NC *nats.Conn
	JS jetstream.JetStream

	Alerts, Notify, DeadLetter     jetstream.Stream
	Incidents, Bugs, Notifications jetstream.KeyValue
	Silences, Inhibitors, Held     jetstream.KeyValue
	Related                        jetstream.KeyValue

	server *server.Server
	log    *slog.Logger
	// stored remembers event IDs JetStream acknowledged lately: a repeat
	// (Alertmanager's repeat_interval, a source's retry) is answered as a
	// duplicate without another round trip.
	stored *recentIDs
	// batchBytes bounds the payload of an ALERTS message of several events.
	batchBytes int
	// countsKept says a consumer's delivery count cannot be lost without
	// this process knowing; notifyFrom is NOTIFY's last sequence when the
	// bus opened (max: unknown), and notifyWindow NOTIFY's Msg-Id window.
	// See FirstDelivery.
	countsKept   bool
	notifyFrom   atomic.Uint64
	notifyWindow time.Duration

	// Audit is the trail of admin actions (AuditTrail).
	Audit jetstream.Stream
}

// Open starts or connects to NATS and creates (or updates) the streams and
// buckets. It returns once JetStream answers.
func Open(ctx context.Context, o Options, log *slog.Logger) (*Bus, error) {
	if log == nil {
		log = slog.Default()
	}
	if o.Replicas < 1 {
		o.Replicas = 1
	}
	if o.Retention == 0 {
		o.Retention = 14 * 24 * time.Hour
	}
	if o.DuplicateWindow == 0 {
		o.DuplicateWindow = 20 * time.Minute
	}
	b := &Bus{log: log, stored: newRecentIDs(o.DuplicateWindow, storedIDs)}
	opts := []nats.Option{
		nats.Name(o.Name),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(250 * time.Millisecond),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil {
				log.Warn("nats disconnected", "err", err)
			}
		}),
		nats.ReconnectHandler(func(nc *nats.Conn) { log.Info("nats reconnected", "url", nc.ConnectedUrlRedacted()) }),
	}
	var err error
	if o.URL == "" {
		b.server, err = startEmbedded(o)
		if err != nil {
			return nil, err
		}
		opts = append(opts, nats.InProcessServer(b.server))
		b.NC, err = nats.Connect("", opts...)
	} else {
		b.NC, err = nats.Connect(o.URL, opts...)
	}
	if err != nil {
		b.Close()
		return nil, fmt.Errorf("connect to nats: %w", err)
	}
	// An async publish whose acknowledgement is lost (a node failing over)
	// would otherwise wait forever: give up after a while and let the
	// caller retry (the Nats-Msg-Id makes the retry safe).
	b.JS, err = jetstream.New(b.NC, jetstream.WithPublishAsyncTimeout(publishTimeout))
	if err != nil {
		b.Close()
		return nil, err
	}
	if err := b.setup(ctx, o); err != nil {
		b.Close()
		return nil, err
	}
	if err := b.setupAudit(ctx, o); err != nil {
		b.Close()
		return nil, err
	}
	b.batchBytes = batchBytes(b.NC.MaxPayload())
	// Delivery counts outlive nothing this process does not see only when
	// the server is embedded: it dies with the process, and the messages
	// of an earlier process are at or before notifyFrom. A cluster's
	// consumer leader replicates a delivery after making it, so a leader
	// lost in between hands the message to its successor as undelivered.
	b.countsKept = b.server != nil
	b.notifyWindow = min(o.DuplicateWindow, notifyDuplicateWindow)
	b.notifyFrom.Store(math.MaxUint64)
	if b.countsKept {
		if info, err := b.Notify.Info(ctx); err == nil {
			b.notifyFrom.Store(info.State.LastSeq)
		} else {
			log.Warn("NOTIFY's last sequence unknown: every delivery reads the notification log", "err", err)
		}
	}
	return b, nil
}

// FirstDelivery reports whether m, a NOTIFY message holding notification
// id decided at created, is certainly the first delivery of that
// notification, so a sink need not read its delivery log to avoid sending
// it twice. All of these must hold:
//   - m is delivered for the first time, by a count that cannot have been
//     lost: the server is embedded, and m was stored after the bus opened
//     (the counts of an earlier process's last moments can be lost: those
//     messages are older);
//   - m carries id as its Nats-Msg-Id (a replayed dead letter does not) and
//     was stored well within NOTIFY's Msg-Id window of created: an earlier
//     copy of the notification (the router deciding the event again after
//     a crash) would have made the server drop m.
func (b *Bus) FirstDelivery(m jetstream.Msg, id string, created time.Time) bool {
	if !b.countsKept || created.IsZero() {
		return false
	}
	md, err := m.Metadata()
	if err != nil || md.NumDelivered != 1 || md.Sequence.Stream <= b.notifyFrom.Load() {
		return false
	}
	if m.Headers().Get(jetstream.MsgIDHeader) != id {
		return false
	}
	margin := b.notifyWindow / 5 // clocks apart, a slow publish
	age := md.Timestamp.Sub(created)
	return age > -margin && age < b.notifyWindow-margin
}

func startEmbedded(o Options) (*server.Server, error) {
	so := &server.Options{
		ServerName: "alertgate",
		JetStream:  true,
		StoreDir:   filepath.Join(o.DataDir, "jetstream"),
		DontListen: o.Listen == "",
		NoSigs:     true,
		NoLog:      true,
	}
	if o.Listen != "" {
		host, port, err := net.SplitHostPort(o.Listen)
		if err != nil {
			return nil, fmt.Errorf("nats.listen: %w", err)
		}
		so.Host = host
		if so.Port, err = strconv.Atoi(port); err != nil {
			return nil, fmt.Errorf("nats.listen: bad port %q", port)
		}
	}
	switch o.SyncInterval {
	case "":
	case "always":
		so.SyncAlways = true
	default:
		d, err := time.ParseDuration(o.SyncInterval)
		if err != nil {
			return nil, fmt.Errorf("nats.sync_interval: %w", err)
		}
		so.SyncInterval = d
	}
	ns, err := server.NewServer(so)
	if err != nil {
		return nil, fmt.Errorf("embedded nats: %w", err)
	}
	ns.Start()
	if !ns.ReadyForConnections(10 * time.Second) {
		ns.Shutdown()
		return nil, errors.New("embedded nats: not ready after 10s")
	}
	return ns, nil
}

// maxBatchBytes bounds an ALERTS message of several events: well under the
// server's payload limit (1 MiB by default), and small enough that the
// router's pull buffer holds a few.
const maxBatchBytes = 256 << 10

// batchBytes is the payload bound of a batch under a server's max_payload,
// leaving room for the headers.
func batchBytes(maxPayload int64) int {
	return int(max(min(maxBatchBytes, maxPayload-8<<10), 1<<10))
}

// stateMarkerTTL is how long the marker JetStream leaves in place of an
// expired state entry lives: watchers see the key go, then the marker goes
// too. Nothing of alertgate's reads it (a Get finds no key either way).
const stateMarkerTTL = time.Minute

// notifyDuplicateWindow is NOTIFY's Msg-Id window (shorter when
// DuplicateWindow is).
const notifyDuplicateWindow = 5 * time.Minute

func (b *Bus) setup(ctx context.Context, o Options) error {
	var err error
	stream := func(name, subject string, window time.Duration) (jetstream.Stream, error) {
		s, err := b.JS.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
			Name:     name,
			Subjects: []string{subject + ".>"},
			// Limits retention: the streams are the audit log, and a
			// work-queue stream would forget its Msg-Id dedup set on restart.
			Retention:  jetstream.LimitsPolicy,
			Storage:    jetstream.FileStorage,
			MaxAge:     o.Retention,
			Duplicates: window,
			Replicas:   o.Replicas,
			Discard:    jetstream.DiscardOld,
		})
		if err != nil {
			return nil, fmt.Errorf("stream %s: %w", name, err)
		}
		return s, nil
	}
	if b.Alerts, err = stream(StreamAlerts, SubjectAlerts, o.DuplicateWindow); err != nil {
		return err
	}
	// A notification ID comes twice only when the router decides an event
	// again: a redelivery after a crash between emit and state write (the
	// ack wait, 30 s) or a lost compare-and-set. Sources, whose retries can
	// come much later, are ALERTS' business. The server keeps every Msg-Id
	// of the window in memory, so NOTIFY's is short.
	if b.Notify, err = stream(StreamNotify, SubjectNotify, min(o.DuplicateWindow, notifyDuplicateWindow)); err != nil {
		return err
	}
	if b.DeadLetter, err = stream(StreamDeadLetter, SubjectDeadLetter, o.DuplicateWindow); err != nil {
		return err
	}
	bucket := func(name, desc string, ttl, markers time.Duration) (jetstream.KeyValue, error) {
		kv, err := b.JS.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
			Bucket:         name,
			Description:    desc,
			History:        1,
			TTL:            ttl,
			LimitMarkerTTL: markers,
			Storage:        jetstream.FileStorage,
			Replicas:       o.Replicas,
		})
		if err != nil {
			return nil, fmt.Errorf("kv %s: %w", name, err)
		}
		return kv, nil
	}
	// The state buckets take a TTL per write (the policy forgets a bug
	// class unseen for dedup.bug_class_ttl, an incident key without an
	// open episode after dedup.incident_ttl, and keeps the rest), which
	// needs LimitMarkerTTL; the bucket itself has no MaxAge, so a write
	// without a TTL is kept. A bucket made by an earlier version (neither)
	// is updated in place: the server allows turning per-message TTLs on
	// for an existing stream (not off), keeps every entry, and scans the
	// stream once for TTLs. Entries written before carry none until their
	// key is written again.
	if b.Incidents, err = bucket(BucketIncidents, "incident episodes by key", 0, stateMarkerTTL); err != nil {
		return err
	}
	if b.Bugs, err = bucket(BucketBugs, "bug classes by key", 0, stateMarkerTTL); err != nil {
		return err
	}
	if b.Notifications, err = bucket(BucketNotifications, "delivery state of each notification", o.Retention, 0); err != nil {
		return err
	}
	if b.Silences, err = bucket(BucketSilences, "silences by id", 0, stateMarkerTTL); err != nil {
		return err
	}
	if b.Inhibitors, err = bucket(BucketInhibitors, "firing inhibit sources by rule, equal labels and key", 0, 0); err != nil {
		return err
	}
	if b.Held, err = bucket(BucketHeld, "incident keys with a held page or resolve", 0, 0); err != nil {
		return err
	}
	b.Related, err = bucket(BucketRelated, "open incidents and recent bug occurrences by correlation labels", 0, stateMarkerTTL)
	return err
}

// Ready reports whether JetStream answers.
func (b *Bus) Ready(ctx context.Context) error {
	if b.NC == nil || !b.NC.IsConnected() {
		return errors.New("nats not connected")
	}
	_, err := b.JS.AccountInfo(ctx)
	return err
}

// Close drains the connection and stops the embedded server.
func (b *Bus) Close() {
	if b.NC != nil {
		_ = b.NC.Drain()
		for i := 0; i < 100 && !b.NC.IsClosed(); i++ {
			time.Sleep(10 * time.Millisecond)
		}
		b.NC.Close()
	}
	if b.server != nil {
		b.server.Shutdown()
		b.server.WaitForShutdown()
	}
}
