// Package ingest is the webhook edge: it authenticates each source's
// request, hands the body to that source's parser (one subpackage per
// source), and answers 202 only after JetStream has acknowledged every
// event. Errors become HTTP statuses in one table (statusOf).
package ingest

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nuid"

	"github.com/alertgate/alertgate"
	"github.com/alertgate/alertgate/metrics"
)

// Publisher stores events durably; it returns only after every event is
// acknowledged.
type Publisher interface {
	PublishEvents(ctx context.Context, events []alertgate.Event) (alertgate.PublishResult, error)
}

// Source is one webhook endpoint: how to authenticate it and how to parse it.
type Source struct {
	Name alertgate.Source
	// Auth returns an EUNAUTHORIZED error for bad credentials. It sees the
	// raw body because Sentry signs it.
	Auth func(r *http.Request, body []byte) error
	// Parse normalizes the body; errors are EINVALID.
	Parse func(r *http.Request, body []byte) ([]alertgate.Event, error)
}

// Handler serves the ingest endpoints.
type Handler struct {
	Publisher    Publisher
	MaxBodyBytes int64
	Log          *slog.Logger
	Metrics      *metrics.Metrics
	// Now is the clock; tests replace it.
	Now func() time.Time
}

// HeaderRequestID carries a request id from the caller (or to it).
const HeaderRequestID = "X-Request-Id"

var requestIDRE = regexp.MustCompile(`^[A-Za-z0-9._:-]{1,128}$`)

// Serve returns the http.Handler of one source.
func (h *Handler) Serve(src Source) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := h.Now()
		reqID := r.Header.Get(HeaderRequestID)
		if !requestIDRE.MatchString(reqID) {
			reqID = nuid.Next()
		}
		w.Header().Set(HeaderRequestID, reqID)
		log := h.Log.With("source", src.Name, "request_id", reqID)

		res, err := h.handle(r, src, reqID, start)
		code := http.StatusAccepted
		if err != nil {
			code = statusOf(err)
			switch code {
			case http.StatusUnauthorized:
				h.Metrics.IngestAuthFails.WithLabelValues(string(src.Name)).Inc()
				log.Warn("webhook rejected: unauthorized", "remote", r.RemoteAddr)
			case http.StatusServiceUnavailable, http.StatusInternalServerError:
				log.Error("webhook not stored", "err", err)
			default:
				log.Info("webhook rejected", "status", code, "err", alertgate.ErrorMessage(err))
			}
		} else {
			log.Debug("webhook stored", "accepted", res.Accepted, "duplicates", res.Duplicates, "took", h.Now().Sub(start))
		}
		h.Metrics.IngestRequests.WithLabelValues(string(src.Name), strconv.Itoa(code)).Inc()
		if err != nil {
			writeError(w, code, err)
			return
		}
		writeJSON(w, code, res)
	})
}

func (h *Handler) handle(r *http.Request, src Source, reqID string, now time.Time) (alertgate.PublishResult, error) {
	var res alertgate.PublishResult
	if r.ContentLength > h.MaxBodyBytes {
		return res, alertgate.Errorf(alertgate.ETOOLARGE, "body of %d bytes is over the limit of %d bytes", r.ContentLength, h.MaxBodyBytes)
	}
	body, err := io.ReadAll(http.MaxBytesReader(nil, r.Body, h.MaxBodyBytes))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return res, alertgate.Errorf(alertgate.ETOOLARGE, "body is over the limit of %d bytes", h.MaxBodyBytes)
		}
		return res, alertgate.WrapError(alertgate.EINVALID, err, "reading body failed")
	}
	if src.Auth != nil {
		if err := src.Auth(r, body); err != nil {
			return res, err
		}
	}
	if len(body) == 0 {
		return res, alertgate.Errorf(alertgate.EINVALID, "body: empty")
	}
	if ct := r.Header.Get("Content-Type"); ct != "" && !strings.Contains(ct, "json") {
		return res, alertgate.Errorf(alertgate.EINVALID, "Content-Type: %q is not JSON", ct)
	}
	events, err := src.Parse(r, body)
	if err != nil {
		if alertgate.ErrorCode(err) == alertgate.EINTERNAL {
			err = alertgate.WrapError(alertgate.EINVALID, err, "body: %v", err)
		}
		return res, err
	}
	if len(events) == 0 {
		h.Metrics.IngestEvents.WithLabelValues(string(src.Name), "ignored").Inc()
		return res, nil
	}
	for i := range events {
		events[i].ReceivedAt = now
		events[i].RequestID = reqID
		if events[i].OccurredAt.IsZero() {
			events[i].OccurredAt = now
		}
	}
	t := h.Now()
	res, err = h.Publisher.PublishEvents(r.Context(), events)
	h.Metrics.PublishSeconds.WithLabelValues("ALERTS").Observe(h.Now().Sub(t).Seconds())
	if err != nil {
		return res, err
	}
	h.Metrics.IngestEvents.WithLabelValues(string(src.Name), "accepted").Add(float64(res.Accepted))
	h.Metrics.IngestEvents.WithLabelValues(string(src.Name), "duplicate").Add(float64(res.Duplicates))
	return res, nil
}

// statusOf is the one table from error codes to HTTP statuses.
func statusOf(err error) int {
	switch alertgate.ErrorCode(err) {
	case alertgate.EINVALID:
		return http.StatusBadRequest
	case alertgate.EUNAUTHORIZED:
		return http.StatusUnauthorized
	case alertgate.ETOOLARGE:
		return http.StatusRequestEntityTooLarge
	case alertgate.ENOTFOUND:
		return http.StatusNotFound
	case alertgate.EUNAVAILABLE:
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
}

// StatusOf maps an error to its HTTP status, for the other HTTP handlers.
func StatusOf(err error) int { return statusOf(err) }

func writeError(w http.ResponseWriter, code int, err error) {
	msg := alertgate.ErrorMessage(err)
	if code == http.StatusUnauthorized {
		msg = "unauthorized" // no detail: it would help a guesser
	}
	if code == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", "5")
	}
	writeJSON(w, code, map[string]string{"error": msg})
}

// WriteError writes err as {"error": …} with its status.
func WriteError(w http.ResponseWriter, err error) { writeError(w, statusOf(err), err) }

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

// TokenAuth accepts "Authorization: Bearer <token>" or HTTP basic auth with
// the token as password (Alertmanager's http_config offers both). An empty
// token accepts every request.
func TokenAuth(token string) func(*http.Request, []byte) error {
	if token == "" {
		return nil
	}
	return func(r *http.Request, _ []byte) error {
		got := ""
		if _, pw, ok := r.BasicAuth(); ok {
			got = pw
		} else if a := r.Header.Get("Authorization"); len(a) > 7 && strings.EqualFold(a[:7], "bearer ") {
			got = strings.TrimSpace(a[7:])
		}
		if got == "" {
			return alertgate.Errorf(alertgate.EUNAUTHORIZED, "missing credentials")
		}
		if !SecretEqual(got, token) {
			return alertgate.Errorf(alertgate.EUNAUTHORIZED, "bad credentials")
		}
		return nil
	}
}

// SecretEqual compares in constant time, whatever the lengths: both sides are
// hashed first so the comparison does not leak the secret's length.
func SecretEqual(got, want string) bool {
	a, b := sha256.Sum256([]byte(got)), sha256.Sum256([]byte(want))
	return subtle.ConstantTimeCompare(a[:], b[:]) == 1
}
