package runbooks

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/alertgate/alertgate"
)

// FuzzParse loads one runbook file's bytes as a runbooks directory. No file
// panics LoadDir; every error is EINVALID and starts with the file's path;
// a file that loads is one runbook with a URL-safe id, a title, its path,
// steps capped at 8 KiB of valid UTF-8, and a page without raw HTML scripts
// or javascript: links from the body.
func FuzzParse(f *testing.F) {
	var files []string
	for _, glob := range []string{"testdata/*/*.md", "../examples/runbooks/*.md"} {
		m, err := filepath.Glob(glob)
		if err != nil {
			f.Fatal(err)
		}
		files = append(files, m...)
	}
	for _, path := range files {
		b, err := os.ReadFile(path)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	for _, s := range []string{
		"---\r\nid: crlf\r\ntitle: t\r\n---\r\nstep\r\n",
		"\ufeff---\nid: bom\ntitle: t\n---\n<script>alert(1)</script> [x](javascript:alert(1)) <a href=\"javascript:x\">y</a>\n",
		"---\nid: x\ntitle: t\nmatch: ['a=\"b\"', 'c!~\"d|e\"']\n---\n# Heading\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\n- [ ] task\n",
		"---\n---\n",
		"---\n[\n---\nbody\n",
	} {
		f.Add([]byte(s))
	}
	dir := f.TempDir()
	path := filepath.Join(dir, "runbook.md")
	f.Fuzz(func(t *testing.T, data []byte) {
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		s, err := LoadDir(dir)
		if err != nil {
			if s != nil {
				t.Fatalf("a set returned with error %v", err)
			}
			for _, e := range joined(err) {
				if got, want := alertgate.ErrorCode(e), alertgate.EINVALID; got != want {
					t.Fatalf("code=%q, want %q (err=%v)", got, want, e)
				}
				if !strings.HasPrefix(e.Error(), path+": ") {
					t.Fatalf("error %q does not start with the file %s", e, path)
				}
			}
			return
		}
		if got := s.Len(); got != 1 {
			t.Fatalf("Len()=%d, want 1", got)
		}
		r := s.All()[0]
		if !validID.MatchString(r.ID) || r.Title == "" || r.Path != path {
			t.Fatalf("runbook id=%q title=%q path=%q", r.ID, r.Title, r.Path)
		}
		steps, ok := s.Steps(r.ID)
		if !ok || steps == "" || len(steps) > maxSteps || !utf8.ValidString(steps) {
			t.Fatalf("steps: %d bytes, found %v, valid UTF-8 %v", len(steps), ok, utf8.ValidString(steps))
		}
		page, err := r.HTML()
		if err != nil || len(page) == 0 {
			t.Fatalf("HTML: %d bytes, %v", len(page), err)
		}
		lower := bytes.ToLower(page)
		for _, bad := range []string{"<script", `href="javascript:`, `src="javascript:`} {
			if bytes.Contains(lower, []byte(bad)) {
				t.Fatalf("page contains %s:\n%s", bad, page)
			}
		}
	})
}
