package sentry

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/alertgate/alertgate"
)

// SOURCES.md: HMAC-SHA256("test-client-secret", bytes of sentry_issue_created.json).
const (
	testSecret    = "test-client-secret"
	testSignature = "92459983d56544cf0f163f5c0cfd99e17b0167eaca8dd50c029c0ff6b6787a0c"
)

func TestVerifySignature(t *testing.T) {
	body, err := os.ReadFile("testdata/issue_created.json")
	if err != nil {
		t.Fatal(err)
	}
	tampered := []byte(strings.Replace(string(body), `"level": "error"`, `"level": "info"`, 1))
	for _, tc := range []struct {
		name      string
		secret    string
		body      []byte
		signature string
		want      bool
	}{
		// The documented sample.
		{"valid", testSecret, body, testSignature, true},
		// Hex is case-insensitive.
		{"upper hex", testSecret, body, strings.ToUpper(testSignature), true},
		// Another secret.
		{"wrong secret", "other-secret", body, testSignature, false},
		// One field changed after signing.
		{"tampered body", testSecret, tampered, testSignature, false},
		// Not hex.
		{"bad hex", testSecret, body, "zz" + testSignature[2:], false},
		// Odd length.
		{"odd hex", testSecret, body, testSignature[1:], false},
		// A prefix of the right MAC.
		{"truncated", testSecret, body, testSignature[:32], false},
		// No header.
		{"empty signature", testSecret, body, "", false},
		// No secret configured never verifies.
		{"empty secret", "", body, testSignature, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got, want := VerifySignature(tc.secret, tc.body, tc.signature), tc.want; got != want {
				t.Fatalf("VerifySignature=%v, want %v", got, want)
			}
		})
	}
}

// TestCheckSignatureHidesSecret checks that a bad signature's error never
// carries the secret nor the MAC it expected.
func TestCheckSignatureHidesSecret(t *testing.T) {
	body, err := os.ReadFile("testdata/issue_created.json")
	if err != nil {
		t.Fatal(err)
	}
	if err := CheckSignature(testSecret, body, testSignature); err != nil {
		t.Fatalf("CheckSignature(valid)=%v, want nil", err)
	}
	for _, sig := range []string{"", "00", strings.Repeat("ab", 32), "not hex"} {
		err := CheckSignature(testSecret, body, sig)
		if got, want := alertgate.ErrorCode(err), alertgate.EUNAUTHORIZED; got != want {
			t.Fatalf("code=%q, want %q", got, want)
		}
		for _, msg := range []string{err.Error(), alertgate.ErrorMessage(err)} {
			if strings.Contains(msg, testSecret) || strings.Contains(strings.ToLower(msg), testSignature) {
				t.Fatalf("error %q leaks the secret or the expected signature", msg)
			}
		}
	}
}

func TestCheckTimestamp(t *testing.T) {
	now := time.Unix(1566248777, 0)
	const maxAge = 5 * time.Minute
	for _, tc := range []struct {
		name   string
		header string
		maxAge time.Duration
		want   string // error message, "" for nil
	}{
		// Sent now.
		{"fresh", "1566248777", maxAge, ""},
		// A decimal fraction is accepted.
		{"fraction", "1566248777.677", maxAge, ""},
		// Exactly at the edge.
		{"edge", "1566248477", maxAge, ""},
		// Older than the window.
		{"stale", "1566248476", maxAge, "Sentry-Hook-Timestamp: more than 5m0s from now"},
		// From the future, beyond the window.
		{"future", "1566249078", maxAge, "Sentry-Hook-Timestamp: more than 5m0s from now"},
		// No header.
		{"missing", "", maxAge, "Sentry-Hook-Timestamp: missing"},
		// Not a number.
		{"garbage", "yesterday", maxAge, "Sentry-Hook-Timestamp: not unix seconds"},
		// Forms ParseFloat would take but Sentry never sends.
		{"exponent", "1.566248777e9", maxAge, "Sentry-Hook-Timestamp: not unix seconds"},
		{"negative", "-1", maxAge, "Sentry-Hook-Timestamp: not unix seconds"},
		{"trailing dot", "1566248777.", maxAge, "Sentry-Hook-Timestamp: not unix seconds"},
		// Milliseconds are far in the future.
		{"milliseconds", "1566248777000", maxAge, "Sentry-Hook-Timestamp: not unix seconds"},
		// maxAge 0 disables the check, even without a header.
		{"disabled", "", 0, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := CheckTimestamp(tc.header, now, tc.maxAge)
			if got, want := alertgate.ErrorMessage(err), tc.want; got != want {
				t.Fatalf("error=%q, want %q", got, want)
			}
			if err != nil {
				if got, want := alertgate.ErrorCode(err), alertgate.EUNAUTHORIZED; got != want {
					t.Fatalf("code=%q, want %q", got, want)
				}
			}
		})
	}
}
