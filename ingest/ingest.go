// Package ingest is the webhook edge: it authenticates each source's
// request, hands the body to that source's parser (one subpackage per
// source), and answers 202 only after JetStream has acknowledged every
// event. Errors become HTTP statuses in one table (internal/httperr).
package ingest

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nuid"

	"github.com/alertgate/alertgate"
	"github.com/alertgate/alertgate/internal/httperr"
	"github.com/alertgate/alertgate/internal/metrics"
	"github.com/alertgate/alertgate/internal/secret"
)

// Publisher stores events durably; it returns only after every event is
// acknowledged.
type Publisher interface {
	PublishEvents(ctx context.Context, events []alertgate.Event) (alertgate.PublishResult, error)
}

// Source is one webhook endpoint: how to authenticate it and how to parse it.
type Source struct {
	Name alertgate.Source
	// Auth checks the request's credentials; nil leaves the endpoint open.
	Auth Authenticator
	// Parser turns the body into events.
	Parser Parser
	// BodyOnly says Parser depends on the body alone (not on headers):
	// a byte-identical body then means the same events, and a re-send of
	// one whose events were just stored is answered without parsing.
	BodyOnly bool
}

// Authenticator checks the credentials of a source's request.
type Authenticator interface {
	// Authenticate returns an EUNAUTHORIZED error for bad credentials. It
	// sees the raw body because Sentry signs it.
	Authenticate(r *http.Request, body []byte) error
}

// Parser normalizes a source's webhook body into events.
type Parser interface {
	// Parse returns the body's events (none: nothing to store); its errors
	// are EINVALID unless it says otherwise.
	Parse(r *http.Request, body []byte) ([]alertgate.Event, error)
}

// BodyMemory is implemented by a Publisher that remembers webhook bodies
// whose events it stored lately (bus.Bus).
type BodyMemory interface {
	BodySeen(src alertgate.Source, body []byte) (events int, ok bool)
	RememberBody(src alertgate.Source, body []byte, events int)
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

// validRequestID reports whether a caller's request id is kept:
// `^[A-Za-z0-9._:-]{1,128}$`, checked without a regexp on every request.
func validRequestID(id string) bool {
	if len(id) == 0 || len(id) > 128 {
		return false
	}
	for i := 0; i < len(id); i++ {
		switch c := id[i]; {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '.', c == '_', c == ':', c == '-':
		default:
			return false
		}
	}
	return true
}

// Endpoints returns the handler of POST /v1/ingest/{source} for srcs: each
// source's endpoint by the path's last segment, 404 naming the sources for
// any other.
func (h *Handler) Endpoints(srcs []Source) http.Handler {
	bySource := make(map[string]http.Handler, len(srcs))
	names := make([]string, 0, len(srcs))
	for _, src := range srcs {
		bySource[string(src.Name)] = h.Serve(src)
		names = append(names, string(src.Name))
	}
	known := strings.Join(names, ", ")
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name := strings.TrimPrefix(r.URL.Path, PathPrefix)
		if ep, ok := bySource[name]; ok {
			ep.ServeHTTP(w, r)
			return
		}
		httperr.Write(w, alertgate.Errorf(alertgate.ENOTFOUND, "unknown source %q: use %s", name, known))
	})
}

// PathPrefix is where the ingest endpoints live: PathPrefix + source name.
const PathPrefix = "/v1/ingest/"

// Serve returns the http.Handler of one source.
func (h *Handler) Serve(src Source) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := h.Now()
		reqID := r.Header.Get(HeaderRequestID)
		if !validRequestID(reqID) {
			reqID = nuid.Next()
		}
		w.Header().Set(HeaderRequestID, reqID)
		buf := bodyBufs.Get().(*bytes.Buffer)
		defer putBodyBuf(buf)

		res, err := h.handle(r, src, reqID, start, buf)
		code := http.StatusAccepted
		if err != nil {
			code = httperr.Status(err)
			switch code {
			case http.StatusUnauthorized:
				h.Metrics.IngestAuthFails.WithLabelValues(string(src.Name)).Inc()
				h.log(slog.LevelWarn, "webhook rejected: unauthorized", src.Name, reqID, slog.String("remote", r.RemoteAddr))
			case http.StatusServiceUnavailable, http.StatusInternalServerError:
				h.log(slog.LevelError, "webhook not stored", src.Name, reqID, slog.Any("err", err))
			default:
				h.log(slog.LevelInfo, "webhook rejected", src.Name, reqID, slog.Int("status", code), slog.String("err", alertgate.ErrorMessage(err)))
			}
		} else {
			h.log(slog.LevelDebug, "webhook stored", src.Name, reqID,
				slog.Int("accepted", res.Accepted), slog.Int("duplicates", res.Duplicates), slog.Duration("took", h.Now().Sub(start)))
		}
		h.Metrics.IngestRequests.WithLabelValues(string(src.Name), strconv.Itoa(code)).Inc()
		if err != nil {
			httperr.WriteStatus(w, code, err)
			return
		}
		writeResult(w, code, res)
	})
}

// log logs the outcome of one request with its source and request id,
// rather than a logger made with With on every request: most requests log
// nothing (Debug is off), and then this allocates nothing.
func (h *Handler) log(level slog.Level, msg string, src alertgate.Source, reqID string, attrs ...slog.Attr) {
	ctx := context.Background()
	if !h.Log.Enabled(ctx, level) {
		return
	}
	all := make([]slog.Attr, 0, 2+len(attrs))
	all = append(all, slog.Any("source", src), slog.String("request_id", reqID))
	h.Log.LogAttrs(ctx, level, msg, append(all, attrs...)...)
}

// bodyBufs holds request body buffers for reuse. A buffer goes back when the
// response is written; nothing keeps the body past that, as the parsers
// copy every string they take out of it.
var bodyBufs = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// maxPooledBody bounds the buffers kept for reuse, so that one large body
// does not pin its memory.
const maxPooledBody = 256 << 10

func putBodyBuf(buf *bytes.Buffer) {
	if buf.Cap() > maxPooledBody {
		return
	}
	buf.Reset()
	bodyBufs.Put(buf)
}

// readBody reads r's body into buf, growing it once to the announced length
// (plus the room ReadFrom wants to see the end) rather than step by step.
// The length is the sender's word, read before auth, so it is trusted only
// up to maxPooledBody; a larger body grows as it arrives.
func (h *Handler) readBody(r *http.Request, buf *bytes.Buffer) ([]byte, error) {
	if r.ContentLength > 0 {
		buf.Grow(int(min(r.ContentLength, maxPooledBody)) + bytes.MinRead)
	}
	_, err := buf.ReadFrom(http.MaxBytesReader(nil, r.Body, h.MaxBodyBytes))
	return buf.Bytes(), err
}

func (h *Handler) handle(r *http.Request, src Source, reqID string, now time.Time, buf *bytes.Buffer) (alertgate.PublishResult, error) {
	var res alertgate.PublishResult
	if r.ContentLength > h.MaxBodyBytes {
		return res, alertgate.Errorf(alertgate.ETOOLARGE, "body of %d bytes is over the limit of %d bytes", r.ContentLength, h.MaxBodyBytes)
	}
	body, err := h.readBody(r, buf)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return res, alertgate.Errorf(alertgate.ETOOLARGE, "body is over the limit of %d bytes", h.MaxBodyBytes)
		}
		return res, alertgate.WrapError(alertgate.EINVALID, err, "reading body failed")
	}
	if src.Auth != nil {
		if err := src.Auth.Authenticate(r, body); err != nil {
			return res, err
		}
	}
	if len(body) == 0 {
		return res, alertgate.Errorf(alertgate.EINVALID, "body: empty")
	}
	if ct := r.Header.Get("Content-Type"); ct != "" && !strings.Contains(ct, "json") {
		return res, alertgate.Errorf(alertgate.EINVALID, "Content-Type: %q is not JSON", ct)
	}
	mem, _ := h.Publisher.(BodyMemory)
	if !src.BodyOnly {
		mem = nil
	}
	if mem != nil {
		if n, ok := mem.BodySeen(src.Name, body); ok {
			h.Metrics.IngestEvents.WithLabelValues(string(src.Name), "duplicate").Add(float64(n))
			return alertgate.PublishResult{Duplicates: n}, nil
		}
	}
	events, err := src.Parser.Parse(r, body)
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
		events[i].Bound()
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
	// Every event of the body is now stored (or was already): the same
	// bytes are the same events, so a re-send is their duplicate.
	if mem != nil {
		mem.RememberBody(src.Name, body, len(events))
	}
	return res, nil
}

// writeResult writes res as writeJSON would, without reflection or an
// Encoder per request.
func writeResult(w http.ResponseWriter, code int, res alertgate.PublishResult) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_, _ = w.Write(appendResult(make([]byte, 0, 64), res))
}

// appendResult appends res as json.Encoder encodes it: one line.
func appendResult(b []byte, res alertgate.PublishResult) []byte {
	b = append(b, `{"accepted":`...)
	b = strconv.AppendInt(b, int64(res.Accepted), 10)
	b = append(b, `,"duplicates":`...)
	b = strconv.AppendInt(b, int64(res.Duplicates), 10)
	return append(b, "}\n"...)
}

// TokenAuth accepts "Authorization: Bearer <token>" or HTTP basic auth with
// the token as password (Alertmanager's http_config offers both). An empty
// token accepts every request: TokenAuth returns nil then, an open endpoint.
func TokenAuth(token string) Authenticator {
	if token == "" {
		return nil
	}
	return tokenAuth{token: token}
}

// tokenAuth is the Authenticator of TokenAuth.
type tokenAuth struct{ token string }

func (a tokenAuth) Authenticate(r *http.Request, _ []byte) error {
	got := secret.FromRequest(r)
	if got == "" {
		return alertgate.Errorf(alertgate.EUNAUTHORIZED, "missing credentials")
	}
	if !secret.Equal(got, a.token) {
		return alertgate.Errorf(alertgate.EUNAUTHORIZED, "bad credentials")
	}
	return nil
}
