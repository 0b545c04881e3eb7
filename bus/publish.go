package bus

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/alertgate/alertgate"
	"github.com/alertgate/alertgate/internal/wire"
)

// Headers alertgate sets on its messages besides Nats-Msg-Id.
const (
	HeaderRequestID = "Alertgate-Request-Id"
	HeaderKey       = "Alertgate-Key"
	HeaderError     = "Alertgate-Error"
)

// PublishEvents stores events in ALERTS, each with its ID as Nats-Msg-Id, and
// returns only once every one is acknowledged: the caller may answer 2xx
// then. Messages go out asynchronously and are awaited together, so a
// webhook of 50 alerts costs about one round trip, not 50.
func (b *Bus) PublishEvents(ctx context.Context, events []alertgate.Event) (alertgate.PublishResult, error) {
	msgs := make([]*nats.Msg, 0, len(events))
	ids := make([]string, 0, len(events))
	known := 0
	for i := range events {
		if b.stored.Contains(events[i].ID) {
			known++
			continue
		}
		data, err := wire.Marshal(&events[i])
		if err != nil {
			return alertgate.PublishResult{}, err
		}
		m := nats.NewMsg(SubjectAlerts + "." + string(events[i].Source))
		m.Data = data
		m.Header.Set(jetstream.MsgIDHeader, events[i].ID)
		m.Header.Set(HeaderKey, events[i].Key)
		if events[i].RequestID != "" {
			m.Header.Set(HeaderRequestID, events[i].RequestID)
		}
		msgs = append(msgs, m)
		ids = append(ids, events[i].ID)
	}
	res, err := b.publishAll(ctx, msgs)
	if err != nil {
		return res, err
	}
	b.stored.Add(ids...)
	res.Duplicates += known
	return res, nil
}

// BodySeen reports how many events a webhook body of src stood for, when
// that body was stored lately: a byte-identical re-send (a source's retry,
// Alertmanager's repeat_interval) is answered as that many duplicates
// without parsing it again.
func (b *Bus) BodySeen(src alertgate.Source, body []byte) (int, bool) {
	return b.stored.Body(string(src), body)
}

// RememberBody records that body carried events events, all stored now.
// Only for sources whose events depend on the body alone.
func (b *Bus) RememberBody(src alertgate.Source, body []byte, events int) {
	b.stored.AddBody(string(src), body, events)
}

// PublishNotifications stores notifications in NOTIFY on
// notify.<sink>.<team>, each with its ID as Nats-Msg-Id, so the same
// decision taken twice is stored once.
func (b *Bus) PublishNotifications(ctx context.Context, ns []alertgate.Notification) (alertgate.PublishResult, error) {
	msgs := make([]*nats.Msg, 0, len(ns))
	for i := range ns {
		data, err := wire.Marshal(&ns[i])
		if err != nil {
			return alertgate.PublishResult{}, err
		}
		m := nats.NewMsg(NotifySubject(ns[i].Sink, ns[i].Team))
		m.Data = data
		m.Header.Set(jetstream.MsgIDHeader, ns[i].ID)
		m.Header.Set(HeaderKey, ns[i].Key)
		if ns[i].Event.RequestID != "" {
			m.Header.Set(HeaderRequestID, ns[i].Event.RequestID)
		}
		msgs = append(msgs, m)
	}
	return b.publishAll(ctx, msgs)
}

// NotifySubject is the NOTIFY subject of a sink and team.
func NotifySubject(sink alertgate.Sink, team string) string {
	return SubjectNotify + "." + string(sink) + "." + team
}

// publishTimeout bounds the wait for JetStream's acknowledgements of one
// batch, whatever the caller's context says.
const publishTimeout = 10 * time.Second

func (b *Bus) publishAll(ctx context.Context, msgs []*nats.Msg) (alertgate.PublishResult, error) {
	var res alertgate.PublishResult
	if len(msgs) == 0 {
		return res, nil
	}
	ctx, cancel := context.WithTimeout(ctx, publishTimeout)
	defer cancel()
	if len(msgs) == 1 {
		ack, err := b.JS.PublishMsg(ctx, msgs[0])
		if err != nil {
			return res, unavailable(err)
		}
		count(&res, ack)
		return res, nil
	}
	futures := make([]jetstream.PubAckFuture, 0, len(msgs))
	for _, m := range msgs {
		f, err := b.JS.PublishMsgAsync(m, jetstream.WithStallWait(5*time.Second))
		if err != nil {
			return res, unavailable(err)
		}
		futures = append(futures, f)
	}
	var errs []error
	for _, f := range futures {
		select {
		case ack := <-f.Ok():
			count(&res, ack)
		case err := <-f.Err():
			errs = append(errs, err)
		case <-ctx.Done():
			return res, unavailable(ctx.Err())
		}
	}
	if len(errs) > 0 {
		return res, unavailable(errors.Join(errs...))
	}
	return res, nil
}

func count(r *alertgate.PublishResult, ack *jetstream.PubAck) {
	if ack.Duplicate {
		r.Duplicates++
	} else {
		r.Accepted++
	}
}

func unavailable(err error) error {
	return alertgate.WrapError(alertgate.EUNAVAILABLE, err, "jetstream cannot store the event now, retry later")
}

// PublishDeadLetter stores a notification that could not be delivered, with the
// reason, in DEADLETTER.
func (b *Bus) PublishDeadLetter(ctx context.Context, n alertgate.Notification, reason string) error {
	data, err := wire.Marshal(&n)
	if err != nil {
		return err
	}
	m := nats.NewMsg(SubjectDeadLetter + "." + string(n.Sink) + "." + n.Team)
	m.Data = data
	m.Header.Set(jetstream.MsgIDHeader, "dead:"+n.ID)
	m.Header.Set(HeaderKey, n.Key)
	m.Header.Set(HeaderError, reason)
	if _, err := b.JS.PublishMsg(ctx, m); err != nil {
		return fmt.Errorf("dead-letter %s: %w", n.ID, err)
	}
	return nil
}
