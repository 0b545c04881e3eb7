package bus

import (
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/alertgate/alertgate"
	"github.com/alertgate/alertgate/internal/wire"
)

func openBus(t *testing.T) *Bus {
	t.Helper()
	b, err := Open(t.Context(), Options{DataDir: t.TempDir(), Name: "test"}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	return b
}

func testEvents(prefix string, n int) []alertgate.Event {
	evs := make([]alertgate.Event, n)
	for i := range evs {
		evs[i] = alertgate.Event{
			ID: fmt.Sprintf("%s-%d", prefix, i), Source: alertgate.SourceAlertmanager, Kind: alertgate.KindIncident,
			Key: fmt.Sprintf("alertmanager:v1:%s%d", prefix, i), Episode: "e", Status: alertgate.StatusFiring,
			Title: "High error rate", Labels: map[string]string{"service": "checkout"}, RequestID: "req-" + prefix,
			OccurredAt: time.Date(2026, 3, 14, 9, 26, 53, 0, time.UTC), Count: 1,
		}
	}
	return evs
}

// storedMsgs reads ALERTS from sequence from on.
func storedMsgs(t *testing.T, b *Bus, from uint64) []*jetstream.RawStreamMsg {
	t.Helper()
	info, err := b.Alerts.Info(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	var out []*jetstream.RawStreamMsg
	for seq := from; seq <= info.State.LastSeq; seq++ {
		m, err := b.Alerts.GetMsg(t.Context(), seq)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, m)
	}
	return out
}

func ids(evs []alertgate.Event) []string {
	out := make([]string, len(evs))
	for i := range evs {
		out[i] = evs[i].ID
	}
	return out
}

func TestPublishEventsOneMessagePerWebhook(t *testing.T) {
	b := openBus(t)
	ctx := t.Context()
	publish := func(evs []alertgate.Event, accepted, duplicates int) {
		t.Helper()
		res, err := b.PublishEvents(ctx, evs)
		if err != nil {
			t.Fatal(err)
		}
		if res.Accepted != accepted || res.Duplicates != duplicates {
			t.Fatalf("accepted=%d duplicates=%d, want %d and %d", res.Accepted, res.Duplicates, accepted, duplicates)
		}
	}

	// Three events: one message holding all three, in order.
	three := testEvents("a", 3)
	publish(three, 3, 0)
	msgs := storedMsgs(t, b, 1)
	if len(msgs) != 1 {
		t.Fatalf("%d messages, want 1", len(msgs))
	}
	m := msgs[0]
	if got, want := m.Subject, "alerts.alertmanager"; got != want {
		t.Fatalf("subject %q, want %q", got, want)
	}
	if got, want := m.Header.Get(jetstream.MsgIDHeader), BatchID(ids(three)); got != want {
		t.Fatalf("Nats-Msg-Id %q, want %q", got, want)
	}
	if got, want := m.Header.Get(HeaderEvents), "3"; got != want {
		t.Fatalf("%s=%q, want %q", HeaderEvents, got, want)
	}
	if got, want := m.Header.Get(HeaderRequestID), "req-a"; got != want {
		t.Fatalf("%s=%q, want %q", HeaderRequestID, got, want)
	}
	got, err := DecodeEvents(m.Data)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(ids(got), ids(three)) || got[2].Key != three[2].Key || got[1].Labels["service"] != "checkout" {
		t.Fatalf("decoded %+v, want %+v", got, three)
	}

	// A lone event is a message of its own, under its own ID and key: the
	// form every reader of ALERTS also takes.
	one := testEvents("b", 1)
	publish(one, 1, 0)
	m = storedMsgs(t, b, 2)[0]
	if got, want := m.Header.Get(jetstream.MsgIDHeader), one[0].ID; got != want {
		t.Fatalf("Nats-Msg-Id %q, want %q", got, want)
	}
	if got, want := m.Header.Get(HeaderKey), one[0].Key; got != want {
		t.Fatalf("%s=%q, want %q", HeaderKey, got, want)
	}
	if m.Header.Get(HeaderEvents) != "" || m.Data[0] != '{' {
		t.Fatalf("a lone event is stored as an array: %s", m.Data)
	}
	if got, err := DecodeEvents(m.Data); err != nil || len(got) != 1 || got[0].ID != one[0].ID {
		t.Fatalf("decoded %+v, %v", got, err)
	}

	// Known events are answered from memory; a webhook mixing known and
	// new ones publishes the new ones only.
	publish(three, 0, 3)
	mixed := append(testEvents("a", 2), testEvents("c", 1)...)
	publish(mixed, 1, 2)
	if n := len(storedMsgs(t, b, 1)); n != 3 {
		t.Fatalf("%d messages, want 3", n)
	}

	// The same event twice in one webhook is stored once.
	twice := testEvents("d", 2)
	twice[1] = twice[0]
	publish(twice, 1, 1)

	// With the memory gone (a restart, another instance), JetStream still
	// recognises the same events by the message's ID.
	b.stored = newRecentIDs(time.Minute, 100)
	publish(three, 0, 3)
	if n := len(storedMsgs(t, b, 1)); n != 4 {
		t.Fatalf("%d messages after a re-send, want 4", n)
	}
}

// A webhook too large for one message is split under the size bound, every
// event stored once and in order.
func TestPublishEventsSplitsLargeWebhooks(t *testing.T) {
	b := openBus(t)
	evs := testEvents("big", 25)
	raw, err := wire.Marshal(&evs[0])
	if err != nil {
		t.Fatal(err)
	}
	b.batchBytes = 3*len(raw) + 10 // three events each
	res, err := b.PublishEvents(t.Context(), evs)
	if err != nil {
		t.Fatal(err)
	}
	if res.Accepted != len(evs) || res.Duplicates != 0 {
		t.Fatalf("accepted=%d duplicates=%d, want %d and 0", res.Accepted, res.Duplicates, len(evs))
	}
	msgs := storedMsgs(t, b, 1)
	if want := (len(evs) + 2) / 3; len(msgs) != want {
		t.Fatalf("%d messages, want the webhook split in %d", len(msgs), want)
	}
	var all []alertgate.Event
	for _, m := range msgs {
		if len(m.Data) > b.batchBytes {
			t.Fatalf("message of %d bytes over the bound of %d", len(m.Data), b.batchBytes)
		}
		got, err := DecodeEvents(m.Data)
		if err != nil {
			t.Fatal(err)
		}
		if n := m.Header.Get(HeaderEvents); n != "" && n != strconv.Itoa(len(got)) {
			t.Fatalf("%s=%s on a message of %d events", HeaderEvents, n, len(got))
		}
		all = append(all, got...)
	}
	if !slices.Equal(ids(all), ids(evs)) {
		t.Fatalf("stored %v, want %v", ids(all), ids(evs))
	}
}

func TestBatchBytes(t *testing.T) {
	for _, tc := range []struct {
		maxPayload int64
		want       int
	}{
		{1 << 20, maxBatchBytes},   // the default server: the bound
		{64 << 10, 64<<10 - 8<<10}, // a small max_payload: under it, room for headers
		{4 << 10, 1 << 10},         // absurdly small: a floor
		{64 << 20, maxBatchBytes},  // a large one changes nothing
		{maxBatchBytes, maxBatchBytes - 8<<10},
	} {
		if got := batchBytes(tc.maxPayload); got != tc.want {
			t.Errorf("batchBytes(%d)=%d, want %d", tc.maxPayload, got, tc.want)
		}
	}
}

func TestDecodeEventsRejectsGarbage(t *testing.T) {
	for _, data := range []string{"", "nope", "[{]", `{"id":`} {
		if _, err := DecodeEvents([]byte(data)); err == nil {
			t.Errorf("DecodeEvents(%q): no error", data)
		}
	}
	if evs, err := DecodeEvents([]byte(" \n[]")); err != nil || len(evs) != 0 {
		t.Errorf("DecodeEvents(empty array)=%v, %v", evs, err)
	}
}

// Two copies of one webhook (an HA Alertmanager pair) may list the same
// alerts in another order: one message ID. Another set is another ID.
func TestBatchIDIgnoresOrder(t *testing.T) {
	if BatchID([]string{"a", "b", "c"}) != BatchID([]string{"c", "a", "b"}) {
		t.Fatal("the same IDs in another order give another batch ID")
	}
	for _, other := range [][]string{{"a", "b"}, {"a", "b", "c", "d"}, {"ab", "c"}, {"a", "bc"}} {
		if BatchID([]string{"a", "b", "c"}) == BatchID(other) {
			t.Fatalf("batch ID of a,b,c equals that of %v", other)
		}
	}
}

// A page or a digest is stored once however often it is published (its
// ID is its Nats-Msg-Id); a Slack item has no Msg-Id, so a copy is stored
// again and left to the digest, which lists each ID once. A digest has a
// subject of its own, apart from the items.
func TestPublishNotificationsMsgIDs(t *testing.T) {
	b := openBus(t)
	page := alertgate.Notification{ID: "page-1", Sink: alertgate.SinkPagerDuty, Team: "payments", Type: alertgate.TypePage, Key: "k1"}
	item := alertgate.Notification{ID: "digest:bug-1", Sink: alertgate.SinkSlack, Team: "payments", Type: alertgate.TypeBugNew, Key: "k2"}
	digest := alertgate.Notification{ID: "digest:payments:1:1", Sink: alertgate.SinkSlack, Team: "payments", Type: alertgate.TypeDigest, Key: "digest:payments"}
	for i, want := range []alertgate.PublishResult{{Accepted: 3}, {Accepted: 1, Duplicates: 2}} {
		res, err := b.PublishNotifications(t.Context(), []alertgate.Notification{page, item, digest})
		if err != nil {
			t.Fatal(err)
		}
		if res != want {
			t.Fatalf("publish %d: %+v, want %+v", i+1, res, want)
		}
	}
	for subject, want := range map[string]uint64{
		NotifySubject(alertgate.SinkPagerDuty, "payments"): 1,
		NotifySubject(alertgate.SinkSlack, "payments"):     2,
		DigestSubject("payments"):                          1,
	} {
		info, err := b.Notify.Info(t.Context(), jetstream.WithSubjectFilter(subject))
		if err != nil {
			t.Fatal(err)
		}
		if got := info.State.Subjects[subject]; got != want {
			t.Errorf("%s holds %d messages, want %d", subject, got, want)
		}
	}
	m, err := b.Notify.GetLastMsgForSubject(t.Context(), NotifySubject(alertgate.SinkPagerDuty, "payments"))
	if err != nil {
		t.Fatal(err)
	}
	if got := m.Header.Get(jetstream.MsgIDHeader); got != page.ID {
		t.Errorf("page Msg-Id %q, want %q", got, page.ID)
	}
}

// Each sink's worker consumes what it delivers one at a time: PagerDuty
// its pages and resolves, Slack the digests and never their items.
func TestDeliverySubject(t *testing.T) {
	for _, tc := range []struct {
		n    alertgate.Notification
		sink alertgate.Sink
	}{
		{alertgate.Notification{Sink: alertgate.SinkPagerDuty, Team: "payments", Type: alertgate.TypePage}, alertgate.SinkPagerDuty},
		{alertgate.Notification{Sink: alertgate.SinkPagerDuty, Team: "payments", Type: alertgate.TypeResolve}, alertgate.SinkPagerDuty},
		{alertgate.Notification{Sink: alertgate.SinkSlack, Team: "payments", Type: alertgate.TypeDigest}, alertgate.SinkSlack},
		{alertgate.Notification{Sink: alertgate.SinkSlack, Team: "payments", Type: alertgate.TypeBugNew}, ""},
		{alertgate.Notification{Sink: alertgate.SinkSlack, Team: "payments", Type: alertgate.TypeBugSpike}, ""},
	} {
		subject := NotifySubjectOf(tc.n)
		for _, sink := range []alertgate.Sink{alertgate.SinkPagerDuty, alertgate.SinkSlack} {
			if got, want := subject == DeliverySubject(sink, tc.n.Team), sink == tc.sink; got != want {
				t.Errorf("%s %s on %s: delivered by %s=%v, want %v", tc.n.Sink, tc.n.Type, subject, sink, got, want)
			}
		}
	}
}

// firstDeliveries fetches n messages from cons (nil: a new consumer of
// NOTIFY) and returns, by notification ID, what FirstDelivery says of
// each; settle then acknowledges (or not) each message (nil: Ack).
func firstDeliveries(t *testing.T, b *Bus, cons jetstream.Consumer, n int, settle func(id string, m jetstream.Msg)) map[string]bool {
	t.Helper()
	if cons == nil {
		var err error
		cons, err = b.Notify.CreateConsumer(t.Context(), jetstream.ConsumerConfig{AckPolicy: jetstream.AckExplicitPolicy, AckWait: time.Second})
		if err != nil {
			t.Fatal(err)
		}
	}
	batch, err := cons.Fetch(n, jetstream.FetchMaxWait(5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for m := range batch.Messages() {
		var nt alertgate.Notification
		if err := wire.Unmarshal(m.Data(), &nt); err != nil {
			t.Fatal(err)
		}
		got[nt.ID] = b.FirstDelivery(m, nt.ID, nt.CreatedAt)
		if settle != nil {
			settle(nt.ID, m)
		} else {
			_ = m.Ack()
		}
	}
	if len(got) != n {
		t.Fatalf("fetched %d notifications, want %d", len(got), n)
	}
	return got
}

func testPage(id string, created time.Time) alertgate.Notification {
	return alertgate.Notification{ID: id, Sink: alertgate.SinkPagerDuty, Team: "payments", Type: alertgate.TypePage, Key: "k", CreatedAt: created}
}

// FirstDelivery: a page stored by this process, delivered once, within
// its Msg-Id window of its decision; each condition failing alone turns it
// off.
func TestFirstDelivery(t *testing.T) {
	b := openBus(t)
	now := time.Now()
	pub := func(n alertgate.Notification, msgID string) {
		t.Helper()
		data, err := wire.Marshal(&n)
		if err != nil {
			t.Fatal(err)
		}
		m := nats.NewMsg(NotifySubject(n.Sink, n.Team))
		m.Data = data
		m.Header.Set(jetstream.MsgIDHeader, msgID)
		if _, err := b.JS.PublishMsg(t.Context(), m); err != nil {
			t.Fatal(err)
		}
	}
	pub(testPage("fresh", now), "fresh")
	pub(testPage("replayed", now), "replay:7:replayed")
	pub(testPage("old", now.Add(-5*time.Minute)), "old")
	pub(testPage("undated", time.Time{}), "undated")
	cons, err := b.Notify.CreateConsumer(t.Context(), jetstream.ConsumerConfig{AckPolicy: jetstream.AckExplicitPolicy, AckWait: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	// "fresh" is given back, to come again.
	got := firstDeliveries(t, b, cons, 4, func(id string, m jetstream.Msg) {
		if id == "fresh" {
			_ = m.Nak()
		} else {
			_ = m.Ack()
		}
	})
	want := map[string]bool{"fresh": true, "replayed": false, "old": false, "undated": false}
	for id, w := range want {
		if got[id] != w {
			t.Errorf("%s: FirstDelivery=%v, want %v", id, got[id], w)
		}
	}
	if again := firstDeliveries(t, b, cons, 1, nil); again["fresh"] {
		t.Error("a redelivery counted as the first")
	}
}

// A bus opened later on the same store (the next process, after a SIGKILL
// may have lost the last delivery counts): a page the earlier one stored
// is not certainly undelivered, a page stored after the opening is.
func TestFirstDeliveryNextProcess(t *testing.T) {
	ctx := t.Context()
	dir := t.TempDir()
	open := func() *Bus {
		b, err := Open(ctx, Options{DataDir: dir, Name: "test"}, slog.New(slog.NewTextHandler(io.Discard, nil)))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	b := open()
	if _, err := b.PublishNotifications(ctx, []alertgate.Notification{testPage("before", time.Now())}); err != nil {
		t.Fatal(err)
	}
	b.Close()
	b = open()
	t.Cleanup(b.Close)
	if _, err := b.PublishNotifications(ctx, []alertgate.Notification{testPage("after", time.Now())}); err != nil {
		t.Fatal(err)
	}
	if got := firstDeliveries(t, b, nil, 2, nil); got["before"] || !got["after"] {
		t.Fatalf("FirstDelivery=%v, want before false, after true", got)
	}
}

// On a NATS server of its own (a cluster, most often) a consumer's leader
// replicates a delivery after making it, so a count can be lost without
// this process knowing: no delivery there is certainly the first.
func TestFirstDeliveryExternalServer(t *testing.T) {
	ns, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: -1, JetStream: true, StoreDir: t.TempDir(), NoLog: true, NoSigs: true})
	if err != nil {
		t.Fatal(err)
	}
	ns.Start()
	t.Cleanup(ns.Shutdown)
	if !ns.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats server not ready")
	}
	b, err := Open(t.Context(), Options{URL: ns.ClientURL(), Name: "test"}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	if _, err := b.PublishNotifications(t.Context(), []alertgate.Notification{testPage("p", time.Now())}); err != nil {
		t.Fatal(err)
	}
	if got := firstDeliveries(t, b, nil, 1, nil); got["p"] {
		t.Error("a first delivery from an external server taken as certain")
	}
}
