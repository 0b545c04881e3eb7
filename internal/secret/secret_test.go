package secret

import (
	"net/http/httptest"
	"testing"
)

func TestEqual(t *testing.T) {
	for _, tc := range []struct {
		name      string
		got, want string
		equal     bool
	}{
		// The same token.
		{"same", "s3cret-token", "s3cret-token", true},
		// A prefix is not the token (lengths differ, hashes too).
		{"prefix", "s3cret", "s3cret-token", false},
		// Case matters.
		{"case", "S3CRET-TOKEN", "s3cret-token", false},
		// Nothing presented never matches a configured token.
		{"empty", "", "s3cret-token", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got, want := Equal(tc.got, tc.want), tc.equal; got != want {
				t.Fatalf("Equal(%q, %q)=%v, want %v", tc.got, tc.want, got, want)
			}
		})
	}
}

func TestFromRequest(t *testing.T) {
	for _, tc := range []struct {
		name   string
		header string
		want   string
	}{
		// A bearer token, whatever the scheme's case.
		{"bearer", "Bearer tok", "tok"},
		{"bearer lower case", "bearer tok", "tok"},
		// Basic auth: the password is the token, the user name is ignored.
		{"basic", "Basic dXNlcjp0b2s=", "tok"},              // user:tok
		{"basic without user", "Basic OnRvaw==", "tok"},     // :tok
		{"basic colon in token", "Basic dTp0OmsK", "t:k\n"}, // u:t:k\n
		// Anything else presents no token.
		{"none", "", ""},
		{"other scheme", "Token tok", ""},
		{"bearer without token", "Bearer ", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/", nil)
			if tc.header != "" {
				r.Header.Set("Authorization", tc.header)
			}
			if got := FromRequest(r); got != tc.want {
				t.Fatalf("FromRequest(%q)=%q, want %q", tc.header, got, tc.want)
			}
		})
	}
}
