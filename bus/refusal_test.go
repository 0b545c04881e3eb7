package bus

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/alertgate/alertgate"
)

// pubAckError is the error nats.go's synchronous publish returns when the
// server answers with e: the PubAck response as the server encodes it,
// decoded as the client decodes it, wrapped as the client wraps it.
func pubAckError(t *testing.T, e *server.ApiError) error {
	t.Helper()
	b, err := json.Marshal(server.JSPubAckResponse{PubAck: &server.PubAck{Stream: StreamAlerts}, Error: e})
	if err != nil {
		t.Fatal(err)
	}
	var resp struct {
		Error *jetstream.APIError `json:"error"`
	}
	if err := json.Unmarshal(b, &resp); err != nil || resp.Error == nil {
		t.Fatalf("decode %s: %v", b, err)
	}
	return fmt.Errorf("nats: %w", resp.Error)
}

// A refusal that depends on the message alone is a 4xx the source does not
// retry; anything that may pass later stays 503. The errors are the
// libraries' own: nats.go's sentinels and the server's API errors.
func TestPublishErrorClassifies(t *testing.T) {
	headerTooLarge := pubAckError(t, server.NewJSStreamHeaderExceedsMaximumError())
	for _, tc := range []struct {
		name string
		err  error
		code string
		msg  string // substring of the caller-safe message
	}{
		// Permanent: the same message gets the same answer.
		{"header over 64k (10097)", headerTooLarge, alertgate.EINVALID, "header size exceeds maximum allowed of 64k (an id or key is too long)"},
		{"message over max_msg_size (10054)", pubAckError(t, server.NewJSStreamMessageExceedsMaximumError()), alertgate.ETOOLARGE, "message size exceeds maximum allowed"},
		{"nats.go's value for 10054", jetstream.ErrStreamMessageExceedsMaximum, alertgate.ETOOLARGE, "message size exceeds maximum allowed"},
		{"file store record too large (10077)", pubAckError(t, server.NewJSStreamStoreFailedError(server.ErrMsgTooLarge)), alertgate.ETOOLARGE, "message too large"},
		{"over max_payload (client side)", nats.ErrMaxPayload, alertgate.ETOOLARGE, "max_payload"},
		{"invalid header (client side)", nats.ErrBadHeaderMsg, alertgate.EINVALID, "header is invalid"},
		{"async batch: one permanent among transient", errors.Join(nats.ErrTimeout, headerTooLarge), alertgate.EINVALID, "an id or key is too long"},
		{"wrapped join", fmt.Errorf("publish: %w", errors.Join(pubAckError(t, server.NewJSInsufficientResourcesError()), nats.ErrMaxPayload)), alertgate.ETOOLARGE, "max_payload"},

		// Transient: a retry may pass.
		{"timeout", nats.ErrTimeout, alertgate.EUNAVAILABLE, "retry later"},
		{"deadline", context.DeadlineExceeded, alertgate.EUNAVAILABLE, "retry later"},
		{"no responders", nats.ErrNoResponders, alertgate.EUNAVAILABLE, "retry later"},
		{"no stream response", jetstream.ErrNoStreamResponse, alertgate.EUNAVAILABLE, "retry later"},
		{"connection closed", nats.ErrConnectionClosed, alertgate.EUNAVAILABLE, "retry later"},
		{"stream not found", jetstream.ErrStreamNotFound, alertgate.EUNAVAILABLE, "retry later"},
		{"jetstream not enabled", jetstream.ErrJetStreamNotEnabled, alertgate.EUNAVAILABLE, "retry later"},
		{"insufficient resources", pubAckError(t, server.NewJSInsufficientResourcesError()), alertgate.EUNAVAILABLE, "retry later"},
		{"stream offline", pubAckError(t, server.NewJSStreamOfflineError()), alertgate.EUNAVAILABLE, "retry later"},
		{"store failed on I/O", pubAckError(t, server.NewJSStreamStoreFailedError(errors.New("write: no space left on device"))), alertgate.EUNAVAILABLE, "retry later"},
		{"async batch: all transient", errors.Join(nats.ErrTimeout, jetstream.ErrNoStreamResponse), alertgate.EUNAVAILABLE, "retry later"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := publishError(tc.err)
			if got := alertgate.ErrorCode(err); got != tc.code {
				t.Fatalf("code=%q, want %q (%v)", got, tc.code, err)
			}
			if got := alertgate.ErrorMessage(err); !strings.Contains(got, tc.msg) {
				t.Fatalf("message=%q, want it to contain %q", got, tc.msg)
			}
			if !errors.Is(err, tc.err) {
				t.Fatalf("the cause %v is not kept in %v", tc.err, err)
			}
		})
	}
}

// Against the embedded server: a single event whose key passes 64 KiB of
// headers is refused by JetStream with 10097, an event over max_payload by
// nats.go, both for good and answered so; a closed connection stays
// transient. Nothing is stored for a refusal.
func TestPublishEventsRefusedForGood(t *testing.T) {
	b := openBus(t)
	long := testEvents("long", 1)
	long[0].Key = "events:" + strings.Repeat("k", 64<<10)
	_, err := b.PublishEvents(t.Context(), long)
	if got, want := alertgate.ErrorCode(err), alertgate.EINVALID; got != want {
		t.Fatalf("64 KiB key: code=%q, want %q (%v)", got, want, err)
	}
	var apiErr *jetstream.APIError
	if !errors.As(err, &apiErr) || apiErr.ErrorCode != errCodeHeaderTooLarge {
		t.Fatalf("64 KiB key: %v, want JetStream's err_code %d", err, errCodeHeaderTooLarge)
	}

	big := testEvents("big", 2)
	big[1].Labels["blob"] = strings.Repeat("v", int(b.NC.MaxPayload()))
	_, err = b.PublishEvents(t.Context(), big)
	if got, want := alertgate.ErrorCode(err), alertgate.ETOOLARGE; got != want {
		t.Fatalf("event over max_payload: code=%q, want %q (%v)", got, want, err)
	}
	if !errors.Is(err, nats.ErrMaxPayload) {
		t.Fatalf("event over max_payload: %v, want nats.ErrMaxPayload", err)
	}

	info, err := b.Alerts.Info(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	// The batch's first event went out in its own message before the
	// second was refused: a re-send of it would be a duplicate.
	if got, want := info.State.Msgs, uint64(1); got > want {
		t.Fatalf("ALERTS holds %d messages, want at most %d", got, want)
	}
	for seq := uint64(1); seq <= info.State.LastSeq; seq++ {
		m, err := b.Alerts.GetMsg(t.Context(), seq)
		if err == nil && m.Header.Get(jetstream.MsgIDHeader) != "big-0" {
			t.Fatalf("stored %q, want nothing of the refused events", m.Header.Get(jetstream.MsgIDHeader))
		}
	}

	b.NC.Close()
	_, err = b.PublishEvents(t.Context(), testEvents("closed", 1))
	if got, want := alertgate.ErrorCode(err), alertgate.EUNAVAILABLE; got != want {
		t.Fatalf("closed connection: code=%q, want %q (%v)", got, want, err)
	}
}
