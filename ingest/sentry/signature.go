package sentry

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"time"

	"github.com/alertgate/alertgate"
)

// VerifySignature reports whether signature, the Sentry-Hook-Signature
// header, is the hex HMAC-SHA256 of the raw body keyed by secret, the
// integration's client secret. The comparison is constant-time on the
// decoded bytes; bad hex, a wrong length and an empty secret never verify.
func VerifySignature(secret string, body []byte, signature string) bool {
	if secret == "" {
		return false
	}
	got, err := hex.DecodeString(strings.TrimSpace(signature))
	if err != nil || len(got) != sha256.Size {
		return false
	}
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write(body)
	return hmac.Equal(got, mac.Sum(nil))
}

// CheckSignature is VerifySignature as an error for the HTTP edge: nil when
// the signature verifies, else an EUNAUTHORIZED error whose message says
// only that the header is missing or does not match (never the secret nor
// the expected value).
func CheckSignature(secret string, body []byte, signature string) error {
	if strings.TrimSpace(signature) == "" {
		return alertgate.Errorf(alertgate.EUNAUTHORIZED, "%s: missing", HeaderSignature)
	}
	if !VerifySignature(secret, body, signature) {
		return alertgate.Errorf(alertgate.EUNAUTHORIZED, "%s: does not match the body", HeaderSignature)
	}
	return nil
}

// CheckTimestamp rejects a stale or future delivery: header is the
// Sentry-Hook-Timestamp value, unix seconds with an optional decimal
// fraction. It returns an EUNAUTHORIZED error when the header is missing or
// unparseable or when it is more than maxAge away from now in either
// direction. maxAge <= 0 disables the check entirely (the header is then not
// looked at). Sentry does not sign the timestamp (the signature covers the
// body only), so this bounds only naive replays of a captured delivery.
func CheckTimestamp(header string, now time.Time, maxAge time.Duration) error {
	if maxAge <= 0 {
		return nil
	}
	h := strings.TrimSpace(header)
	if h == "" {
		return alertgate.Errorf(alertgate.EUNAUTHORIZED, "%s: missing", HeaderTimestamp)
	}
	ts, ok := parseUnix(h)
	if !ok {
		return alertgate.Errorf(alertgate.EUNAUTHORIZED, "%s: not unix seconds", HeaderTimestamp)
	}
	if d := now.Sub(ts); d > maxAge || d < -maxAge {
		return alertgate.Errorf(alertgate.EUNAUTHORIZED, "%s: more than %s from now", HeaderTimestamp, maxAge)
	}
	return nil
}
