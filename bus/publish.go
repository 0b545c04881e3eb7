package bus

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"time"

	"github.com/nats-io/nats-server/v2/server"
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
	// HeaderEvents is the number of events of an ALERTS message holding
	// several (absent on a message of one).
	HeaderEvents = "Alertgate-Events"
)

// PublishEvents stores events in ALERTS and returns only once JetStream
// acknowledged every one: the caller may answer 2xx then. Events
// acknowledged lately, and an event repeated within events, are not
// published again: they count as duplicates.
//
// A webhook's events go out together: a lone event is one message, with
// its ID as Nats-Msg-Id; several are one message holding a JSON array
// (split only to stay under the server's payload limit), whose Nats-Msg-Id
// is derived from the IDs it holds, so a re-send of the same events to any
// instance is still stored once. One message per webhook instead of one per
// alert is what lets a batched storm through: JetStream's cost is per
// message, not per byte. The router splits the array and decides each event
// on its key's partition.
func (b *Bus) PublishEvents(ctx context.Context, events []alertgate.Event) (alertgate.PublishResult, error) {
	fresh := make([]int, 0, len(events))
	var inBody map[string]bool // IDs already taken from this call
	if len(events) > 1 {
		inBody = make(map[string]bool, len(events))
	}
	for i := range events {
		id := events[i].ID
		if b.stored.Contains(id) || inBody[id] {
			continue
		}
		if inBody != nil {
			inBody[id] = true
		}
		fresh = append(fresh, i)
	}
	known := len(events) - len(fresh)
	var msgs []*nats.Msg
	var sizes []int
	var ids []string // of the events in data and the messages before it
	var data []byte  // "[" and the encoded events since first, each followed by ","
	first := 0
	flush := func() {
		n := len(ids) - first
		if n == 0 {
			return
		}
		data[len(data)-1] = ']'
		ev := &events[fresh[first]]
		m := eventMsg(ev.Source, ev.RequestID)
		if n == 1 {
			m.Data = data[1 : len(data)-1] // the object, not an array of one
			m.Header.Set(jetstream.MsgIDHeader, ev.ID)
			m.Header.Set(HeaderKey, ev.Key)
		} else {
			m.Data = data
			m.Header.Set(jetstream.MsgIDHeader, BatchID(ids[first:]))
			m.Header.Set(HeaderEvents, strconv.Itoa(n))
		}
		msgs, sizes = append(msgs, m), append(sizes, n)
		data, first = nil, len(ids)
	}
	for _, i := range fresh {
		raw, err := wire.Marshal(&events[i])
		if err != nil {
			return alertgate.PublishResult{}, err
		}
		if len(data) > 0 && len(data)+len(raw)+1 > b.batchBytes {
			flush()
		}
		if data == nil {
			data = append(make([]byte, 0, min(b.batchBytes, (len(raw)+1)*(len(fresh)-len(ids)))+1), '[')
		}
		data = append(append(data, raw...), ',')
		ids = append(ids, events[i].ID)
	}
	flush()
	res, err := b.publishAll(ctx, msgs, sizes)
	if err != nil {
		return res, err
	}
	b.stored.Add(ids...)
	res.Duplicates += known
	return res, nil
}

func eventMsg(src alertgate.Source, requestID string) *nats.Msg {
	m := nats.NewMsg(SubjectAlerts + "." + string(src))
	if requestID != "" {
		m.Header.Set(HeaderRequestID, requestID)
	}
	return m
}

// BatchID is the Nats-Msg-Id of an ALERTS message holding the events
// with these IDs, in any order (two copies of one webhook may list them
// differently).
func BatchID(ids []string) string {
	h := sha256.New()
	for _, id := range slices.Sorted(slices.Values(ids)) {
		_, _ = io.WriteString(h, id)
		_, _ = h.Write([]byte{0})
	}
	return "batch:" + base64.RawURLEncoding.EncodeToString(h.Sum(nil))
}

// DecodeEvents reads an ALERTS message: one event (a JSON object) or
// several (an array).
func DecodeEvents(data []byte) ([]alertgate.Event, error) {
	if t := bytes.TrimLeft(data, " \t\r\n"); len(t) > 0 && t[0] == '[' {
		var evs []alertgate.Event
		return evs, wire.Unmarshal(data, &evs)
	}
	evs := make([]alertgate.Event, 1)
	return evs, wire.Unmarshal(data, &evs[0])
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

// PublishNotifications stores notifications in NOTIFY, each on its
// subject (NotifySubjectOf). A notification carries its ID as Nats-Msg-Id,
// so the same decision taken twice is stored once; a digest item does
// not: the server keeps every Msg-Id of the window in memory (about 100
// bytes each, 100 MB for a million new bug classes in five minutes), and a
// copy is harmless there, since the digest lists each item ID once.
func (b *Bus) PublishNotifications(ctx context.Context, ns []alertgate.Notification) (alertgate.PublishResult, error) {
	msgs := make([]*nats.Msg, 0, len(ns))
	for i := range ns {
		m, err := NotifyMsg(&ns[i])
		if err != nil {
			return alertgate.PublishResult{}, err
		}
		msgs = append(msgs, m)
	}
	return b.publishAll(ctx, msgs, nil)
}

// NotifyMsg is the NOTIFY message of n, as PublishNotifications stores it.
func NotifyMsg(n *alertgate.Notification) (*nats.Msg, error) {
	data, err := wire.Marshal(n)
	if err != nil {
		return nil, err
	}
	m := nats.NewMsg(NotifySubjectOf(*n))
	m.Data = data
	if !digestItem(*n) {
		m.Header.Set(jetstream.MsgIDHeader, n.ID)
	}
	m.Header.Set(HeaderKey, n.Key)
	if n.Event.RequestID != "" {
		m.Header.Set(HeaderRequestID, n.Event.RequestID)
	}
	return m, nil
}

// NOTIFY's subjects, by who reads them:
//   - notify.pagerduty.<team>: pages and resolves. The PagerDuty worker
//     delivers them; the team's digest lists them as incidents opened and
//     resolved.
//   - notify.slack.<team>: digest items (new bug classes, regressions,
//     spikes). Only the digester reads them, into the team's digest:
//     nothing delivers them one by one.
//   - notify.digest.<team>: the team's rendered digests, and the updates of
//     those a Slack app posted, which the Slack worker delivers. Apart from the items, so that the digester's reads
//     and its per-subject counts of waiting items never see them.

// NotifySubject is the subject of the notifications the router decides
// for a sink and team: pages and resolves, or digest items.
func NotifySubject(sink alertgate.Sink, team string) string {
	return SubjectNotify + "." + string(sink) + "." + team
}

// DigestSubject is the subject of a team's digests.
func DigestSubject(team string) string { return SubjectNotify + "." + subjectDigests + "." + team }

const subjectDigests = "digest"

// NotifySubjectOf is the subject n is stored on.
func NotifySubjectOf(n alertgate.Notification) string {
	if n.Type == alertgate.TypeDigest || n.Type == alertgate.TypeDigestUpdate {
		return DigestSubject(n.Team)
	}
	return NotifySubject(n.Sink, n.Team)
}

// DeliverySubject is the subject a sink's worker consumes for team (">"
// for every team): what the sink delivers one at a time. Slack delivers
// digests only; its items reach Slack inside them.
func DeliverySubject(sink alertgate.Sink, team string) string {
	if sink == alertgate.SinkSlack {
		return DigestSubject(team)
	}
	return NotifySubject(sink, team)
}

// digestItem reports whether n is a digest item: read into its team's
// digest, never delivered on its own.
func digestItem(n alertgate.Notification) bool {
	return n.Sink == alertgate.SinkSlack && n.Type != alertgate.TypeDigest && n.Type != alertgate.TypeDigestUpdate
}

// publishTimeout bounds the wait for JetStream's acknowledgements of one
// batch, whatever the caller's context says.
const publishTimeout = 10 * time.Second

// publishAll publishes msgs and waits for every acknowledgement; sizes[i]
// is how many events msgs[i] stands for in the result (nil: one each).
func (b *Bus) publishAll(ctx context.Context, msgs []*nats.Msg, sizes []int) (alertgate.PublishResult, error) {
	var res alertgate.PublishResult
	if len(msgs) == 0 {
		return res, nil
	}
	ctx, cancel := context.WithTimeout(ctx, publishTimeout)
	defer cancel()
	if len(msgs) == 1 {
		ack, err := b.JS.PublishMsg(ctx, msgs[0])
		if err != nil {
			return res, publishError(err)
		}
		count(&res, ack, size(sizes, 0))
		return res, nil
	}
	futures := make([]jetstream.PubAckFuture, 0, len(msgs))
	for _, m := range msgs {
		f, err := b.JS.PublishMsgAsync(m, jetstream.WithStallWait(5*time.Second))
		if err != nil {
			return res, publishError(err)
		}
		futures = append(futures, f)
	}
	var errs []error
	for i, f := range futures {
		select {
		case ack := <-f.Ok():
			count(&res, ack, size(sizes, i))
		case err := <-f.Err():
			errs = append(errs, err)
		case <-ctx.Done():
			return res, unavailable(ctx.Err())
		}
	}
	if len(errs) > 0 {
		return res, publishError(errors.Join(errs...))
	}
	return res, nil
}

func size(sizes []int, i int) int {
	if sizes == nil {
		return 1
	}
	return sizes[i]
}

func count(r *alertgate.PublishResult, ack *jetstream.PubAck, n int) {
	if ack.Duplicate {
		r.Duplicates += n
	} else {
		r.Accepted += n
	}
}

func unavailable(err error) error {
	return alertgate.WrapError(alertgate.EUNAVAILABLE, err, "jetstream cannot store the event now, retry later")
}

// Error codes of JetStream refusals that depend on the message alone
// (nats-server's JSErrCodes), so that a retry gets the same answer.
var (
	errCodeMessageTooLarge = jetstream.JSErrCodeStreamMessageExceedsMaximum                                        // 10054: over the stream's max_msg_size
	errCodeHeaderTooLarge  = jetstream.ErrorCode(server.ApiErrors[server.JSStreamHeaderExceedsMaximumErr].ErrCode) // 10097: headers over 64 KiB
	errCodeStoreFailed     = jetstream.ErrorCode(server.ApiErrors[server.JSStreamStoreFailedF].ErrCode)            // 10077: "{err}"
)

// publishError classifies a failed publish. A refusal of the message
// itself, which no retry changes, is the request's fault: ETOOLARGE (413)
// for a message over the server's or the stream's size limit, EINVALID
// (400) for headers JetStream or nats.go refuse; answering those 503 would
// have the source retry forever and count a bad request against the
// acceptance SLO. Everything else (timeouts, no responders, a closed
// connection, a stream missing or out of resources) may pass on a retry:
// EUNAVAILABLE (503). Of a batch, one permanent refusal decides: a retry
// would meet it again.
func publishError(err error) error {
	if code, msg := refusal(err); code != "" {
		return alertgate.WrapError(code, err, "jetstream refuses the event for good: %s", msg)
	}
	return unavailable(err)
}

// refusal returns the code and the problem of a permanent refusal found
// anywhere in err's tree (wrapped or joined errors), "" when there is
// none. errors.As would stop at the first APIError, and a batch's joined
// error may hold a permanent one after a transient one.
func refusal(err error) (code, msg string) {
	switch err {
	case nil:
		return "", ""
	case nats.ErrMaxPayload:
		return alertgate.ETOOLARGE, "over the server's max_payload; send it smaller"
	case nats.ErrBadHeaderMsg:
		return alertgate.EINVALID, "a message header is invalid"
	}
	if je, ok := err.(jetstream.JetStreamError); ok {
		if e := je.APIError(); e != nil && refused(e) {
			if e.ErrorCode == errCodeHeaderTooLarge {
				return alertgate.EINVALID, e.Description + " (an id or key is too long)"
			}
			return alertgate.ETOOLARGE, e.Description + "; send it smaller"
		}
	}
	switch x := err.(type) {
	case interface{ Unwrap() []error }:
		for _, e := range x.Unwrap() {
			if code, msg := refusal(e); code != "" {
				return code, msg
			}
		}
	case interface{ Unwrap() error }:
		return refusal(x.Unwrap())
	}
	return "", ""
}

// refused reports whether JetStream's answer refuses the message for what
// it is, not for the state the server is in.
func refused(e *jetstream.APIError) bool {
	switch e.ErrorCode {
	case errCodeMessageTooLarge, errCodeHeaderTooLarge:
		return true
	case errCodeStoreFailed:
		// A file store refuses a record over its block size with this
		// code; the same code covers storage failures that may pass.
		return e.Description == server.ErrMsgTooLarge.Error()
	}
	return false
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
