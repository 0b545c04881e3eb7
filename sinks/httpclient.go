package sinks

import (
	"io"
	"net/http"
	"time"
)

// NewHTTPClient is the client the sinks share. Go's default keeps two idle
// connections per host: with a worker's partitions delivering at once,
// most requests would dial a new connection to PagerDuty (a handshake and
// a TIME_WAIT socket each). Bodies are drained on Close so a connection
// always goes back to the pool, whatever the caller read.
func NewHTTPClient() *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConns = 256
	t.MaxIdleConnsPerHost = 64
	t.IdleConnTimeout = 90 * time.Second
	return &http.Client{Transport: drainingTransport{t}}
}

// drainingTransport reads what the caller left of a response body (up to
// maxDrain) before closing it: a body closed early costs its connection.
type drainingTransport struct{ rt http.RoundTripper }

const maxDrain = 64 << 10

func (d drainingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := d.rt.RoundTrip(req)
	if err == nil && resp.Body != nil {
		resp.Body = drainOnClose{resp.Body}
	}
	return resp, err
}

type drainOnClose struct{ io.ReadCloser }

func (b drainOnClose) Close() error {
	_, _ = io.Copy(io.Discard, io.LimitReader(b.ReadCloser, maxDrain))
	return b.ReadCloser.Close()
}
