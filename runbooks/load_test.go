package runbooks

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/alertgate/alertgate"
)

// writeDir writes files (name → content) into a fresh directory and returns it.
func writeDir(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// load loads files as a runbooks directory and fails the test on any error.
func load(t *testing.T, files map[string]string) *Set {
	t.Helper()
	s, err := LoadDir(writeDir(t, files))
	if err != nil {
		t.Fatalf("LoadDir: %v", err)
	}
	return s
}

// joined returns the errors errors.Join combined, or err alone.
func joined(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}

func TestLoadDir_Examples(t *testing.T) {
	const dir = "../examples/runbooks"
	s, err := LoadDir(dir)
	if err != nil {
		t.Fatalf("LoadDir(%s): %v", dir, err)
	}
	if got, ok := s.Steps("no-such-runbook"); ok || got != "" {
		t.Fatalf("Steps of an unknown id=%q, %v; want nothing", got, ok)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*.md"))
	if got, want := s.Len(), len(files); got != want || got < 5 {
		t.Fatalf("Len()=%v, want %v (and at least 5)", got, want)
	}
	seen := map[string]bool{}
	for i, r := range s.All() {
		if seen[r.ID] {
			t.Fatalf("id %q loaded twice", r.ID)
		}
		seen[r.ID] = true
		if i > 0 && s.All()[i-1].ID >= r.ID {
			t.Fatalf("All() not sorted by ID at %q", r.ID)
		}
		// Operators find a runbook by its file name: keep them equal in the examples.
		if got, want := r.ID, strings.TrimSuffix(filepath.Base(r.Path), ".md"); got != want {
			t.Fatalf("ID=%v, want the file name %v", got, want)
		}
		if r.Title == "" || r.Owner == "" || len(r.Match) == 0 || r.Steps() == "" {
			t.Fatalf("%s: title, owner, match and steps must all be set: %+v", r.Path, r)
		}
		if got, ok := s.Get(r.ID); !ok || got != r {
			t.Fatalf("Get(%q)=%v, %v; want the runbook", r.ID, got, ok)
		}
		if got, ok := s.Steps(r.ID); !ok || got != r.Steps() {
			t.Fatalf("Steps(%q)=%q, %v; want the runbook's steps", r.ID, got, ok)
		}
		// A <placeholder> outside a code span is raw HTML and would silently vanish.
		if page, _ := r.HTML(); strings.Contains(string(page), "raw HTML omitted") {
			t.Fatalf("%s: raw HTML dropped from the page; put <placeholders> in `code`", r.Path)
		}
		// Long enough to be concrete, short enough to read on a phone mid-incident.
		if lines := strings.Count(mustRead(t, r.Path), "\n"); lines < 25 || lines > 60 {
			t.Fatalf("%s: %d lines, want 25 to 60", r.Path, lines)
		}
	}

	// The labels of ../shared/fixtures/*: each example must be what they page with.
	for _, tt := range []struct {
		name   string
		labels map[string]string
		want   string
	}{
		// alertmanager_v4.json, first alert, after Event.Finish.
		{"alertmanager HighErrorRate", map[string]string{"alertname": "HighErrorRate", "instance": "10.0.3.17:8080", "job": "checkout-api", "namespace": "shop", "service": "checkout", "severity": "critical", "source": "alertmanager", "kind": "incident"}, "checkout-high-error-rate"},
		// datadog_triggered.json: its tags, host, priority and event_type.
		{"datadog checkout latency", map[string]string{"env": "prod", "service": "checkout", "team": "payments", "priority": "normal", "event_type": "query_alert_monitor", "source": "datadog", "kind": "incident", "severity": "error"}, "checkout-latency-high"},
		// A critical InstanceDown ties host-down with service-degraded: host-down sorts first.
		{"instance down", map[string]string{"alertname": "InstanceDown", "instance": "10.0.1.5:9100", "severity": "critical", "source": "alertmanager", "kind": "incident"}, "host-down"},
		// A fatal Sentry error is critical too, but the Sentry runbook has more matchers.
		{"sentry bug", map[string]string{"service": "checkout-web", "level": "fatal", "severity": "critical", "source": "sentry", "kind": "bug"}, "sentry-new-bug-class"},
		// Anything else critical gets the generic runbook.
		{"other critical", map[string]string{"alertname": "DiskFull", "severity": "critical", "source": "alertmanager", "kind": "incident"}, "service-degraded"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := s.Match(tt.labels)
			if r == nil {
				t.Fatalf("Match()=nil, want %v", tt.want)
			}
			if got, want := r.ID, tt.want; got != want {
				t.Fatalf("Match().ID=%v, want %v", got, want)
			}
		})
	}
}

func mustRead(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestLoadDir_Invalid(t *testing.T) {
	for _, tt := range []struct {
		dir  string
		want []string // every error, in order, with testdata/<dir>/ stripped
	}{
		// Plain Markdown is not a runbook: a file in the directory without
		// front matter is a mistake, not something to skip.
		{"no-front-matter", []string{
			`plain.md: front matter: missing: the file must start with a --- line`,
		}},
		// The body would otherwise be swallowed into the YAML.
		{"unclosed-front-matter", []string{
			`unclosed.md: front matter: missing closing ---`,
		}},
		// A misspelt key must not leave a runbook that never matches; the
		// line number is the file's.
		{"unknown-key", []string{
			`unknown.md: front matter: line 4: unknown key "matches" (known: id, title, owner, match)`,
		}},
		{"missing-id", []string{
			`noid.md: id: missing`,
		}},
		{"missing-title", []string{
			`notitle.md: title: missing`,
		}},
		// Ids go into URLs as they are.
		{"bad-id", []string{
			`badid.md: id: "Checkout High" must be lower-case letters, digits, '.', '_' or '-', starting with a letter or digit`,
		}},
		// Files load in name order: the later one is reported.
		{"duplicate-id", []string{
			`b.md: id "same" already used by testdata/duplicate-id/a.md`,
		}},
		// The index names which entry of match is wrong.
		{"bad-matcher", []string{
			"badmatcher.md: match[1]: bad matcher 'service=~\"(checkout\"': error parsing regexp: missing closing ): `^(?:(checkout)$`",
		}},
		// The usual slip: one matcher written without the list.
		{"match-not-list", []string{
			"notlist.md: front matter: line 4: cannot unmarshal !!str `service...` into a list of strings",
		}},
		{"yaml-syntax", []string{
			`syntax.md: front matter: yaml: line 2: did not find expected ',' or ']'`,
		}},
		// A runbook without steps pages with nothing to do.
		{"empty-body", []string{
			`empty.md: body: empty: a runbook needs steps below the front matter`,
		}},
		// Every problem of every file, not only the first; .txt and hidden files are not loaded.
		{"many", []string{
			`b-broken.md: front matter: line 3: unknown key "owners" (known: id, title, owner, match)`,
			`b-broken.md: id: "Broken!" must be lower-case letters, digits, '.', '_' or '-', starting with a letter or digit`,
			`b-broken.md: title: missing`,
			"b-broken.md: match[0]: bad matcher 'x=~\"[\"': error parsing regexp: missing closing ]: `[)$`",
			`b-broken.md: match[1]: bad matcher 'not a matcher': bad matcher format: not a matcher`,
			`c-dup.md: id "ok" already used by testdata/many/a-ok.md`,
			`d-nofm.md: front matter: missing: the file must start with a --- line`,
		}},
	} {
		t.Run(tt.dir, func(t *testing.T) {
			dir := filepath.Join("testdata", tt.dir)
			s, err := LoadDir(dir)
			if err == nil {
				t.Fatalf("LoadDir(%s) succeeded with %d runbooks, want errors", dir, s.Len())
			}
			if s != nil {
				t.Fatalf("LoadDir returned a set with its error")
			}
			errs := joined(err)
			if got, want := len(errs), len(tt.want); got != want {
				t.Fatalf("len(errors)=%v, want %v:\n%v", got, want, err)
			}
			for i, e := range errs {
				if got, want := e.Error(), filepath.Join(dir, tt.want[i]); got != want {
					t.Fatalf("error %d=%v\nwant     %v", i, got, want)
				}
				// `check` and the HTTP edge classify it as bad input.
				if got, want := alertgate.ErrorCode(e), alertgate.EINVALID; got != want {
					t.Fatalf("ErrorCode(%v)=%v, want %v", e, got, want)
				}
			}
		})
	}
}

func TestLoadDir_Dir(t *testing.T) {
	// A missing directory is reported as such; whether it matters is the caller's call.
	t.Run("Missing", func(t *testing.T) {
		_, err := LoadDir(filepath.Join(t.TempDir(), "nope"))
		if got, want := errors.Is(err, fs.ErrNotExist), true; got != want {
			t.Fatalf("errors.Is(%v, fs.ErrNotExist)=%v, want %v", err, got, want)
		}
	})
	// An empty directory is a valid, empty set.
	t.Run("Empty", func(t *testing.T) {
		s := load(t, nil)
		if got, want := s.Len(), 0; got != want {
			t.Fatalf("Len()=%v, want %v", got, want)
		}
		if got := s.Match(map[string]string{"severity": "critical"}); got != nil {
			t.Fatalf("Match()=%v, want nil", got)
		}
	})
	// A nil set (no runbooks_dir) answers like an empty one.
	t.Run("NilSet", func(t *testing.T) {
		var s *Set
		if _, ok := s.Get("x"); ok || s.Len() != 0 || s.All() != nil || s.Match(nil) != nil {
			t.Fatalf("nil set is not empty")
		}
	})
}

func TestLoadDir_Fields(t *testing.T) {
	// Windows line endings and a byte order mark, as editors on Windows save.
	src := "\ufeff---\r\nid: db-failover\r\ntitle: '  Database failover  '\r\nowner: storage\r\nmatch:\r\n  - alertname=\"PostgresDown\"\r\n  - env!=\"dev\"\r\n---\r\n\r\n\r\n# Fail over\r\n\r\n1. Promote the replica.\r\n\r\n"
	s := load(t, map[string]string{"failover.md": src})
	r, ok := s.Get("db-failover")
	if !ok {
		t.Fatalf("Get(db-failover) not found")
	}
	for _, tt := range []struct{ name, got, want string }{
		{"Title", r.Title, "Database failover"},
		{"Owner", r.Owner, "storage"},
		{"Match", r.Match.String(), `{alertname="PostgresDown",env!="dev"}`},
		{"Body", r.Body, "# Fail over\n\n1. Promote the replica.\n\n"},
		{"Steps", r.Steps(), "# Fail over\n\n1. Promote the replica."},
		{"Path", filepath.Base(r.Path), "failover.md"},
	} {
		if tt.got != tt.want {
			t.Fatalf("%s=%q, want %q", tt.name, tt.got, tt.want)
		}
	}
}
