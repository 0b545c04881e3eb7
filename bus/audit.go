package bus

import (
	"context"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nuid"

	"github.com/alertgate/alertgate"
	"github.com/alertgate/alertgate/internal/wire"
)

// The audit trail of admin actions: one message per action on
// audit.<action>.
const (
	StreamAudit  = "AUDIT"
	SubjectAudit = "audit"
)

// minAuditRetention is how long AUDIT keeps a record at least (longer when
// retention is): who replayed what is asked about long after the alerts
// themselves are gone, and a record is a few hundred bytes a rare action.
const minAuditRetention = 366 * 24 * time.Hour

// auditDuplicateWindow drops a record published twice (a publish retried
// after a lost acknowledgement).
const auditDuplicateWindow = 2 * time.Minute

// setupAudit creates (or updates) AUDIT: limits retention like the other
// streams, so nothing removes a record but its age.
func (b *Bus) setupAudit(ctx context.Context, o Options) error {
	s, err := b.JS.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name:       StreamAudit,
		Subjects:   []string{SubjectAudit + ".>"},
		Retention:  jetstream.LimitsPolicy,
		Storage:    jetstream.FileStorage,
		MaxAge:     max(o.Retention, minAuditRetention),
		Duplicates: auditDuplicateWindow,
		Replicas:   o.Replicas,
		Discard:    jetstream.DiscardOld,
	})
	if err != nil {
		return fmt.Errorf("stream %s: %w", StreamAudit, err)
	}
	b.Audit = s
	return nil
}

// AuditTrail keeps the audit records in AUDIT (web.Audit).
type AuditTrail struct{ Bus *Bus }

// Record stores rec and returns once JetStream has acknowledged it.
func (a AuditTrail) Record(ctx context.Context, rec alertgate.AuditRecord) error {
	data, err := wire.Marshal(rec)
	if err != nil {
		return err
	}
	m := nats.NewMsg(SubjectAudit + "." + rec.Action)
	m.Data = data
	m.Header.Set(jetstream.MsgIDHeader, nuid.Next())
	if _, err := a.Bus.JS.PublishMsg(ctx, m); err != nil {
		return fmt.Errorf("audit record: %w", err)
	}
	return nil
}

// List returns up to limit records, newest first.
func (a AuditTrail) List(ctx context.Context, limit int) ([]alertgate.AuditRecord, error) {
	out := []alertgate.AuditRecord{}
	err := Backwards(ctx, a.Bus.Audit, limit, func(m *jetstream.RawStreamMsg) bool {
		var rec alertgate.AuditRecord
		if wire.Unmarshal(m.Data, &rec) != nil {
			return false
		}
		out = append(out, rec)
		return true
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}
