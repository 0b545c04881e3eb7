package runbooks

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/prometheus/alertmanager/pkg/labels"
	"gopkg.in/yaml.v3"

	"github.com/alertgate/alertgate"
)

// validID keeps ids safe to put in a URL path and a PagerDuty link as is.
var validID = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]*$`)

// frontMatter is the YAML between the --- lines. Decoding is strict so a
// misspelt key ("matches:") fails loudly instead of leaving a runbook that
// silently never matches.
type frontMatter struct {
	ID    string   `yaml:"id"`
	Title string   `yaml:"title"`
	Owner string   `yaml:"owner"`
	Match []string `yaml:"match"`
}

// LoadDir loads every *.md file directly in dir, in file name order. Files
// whose name starts with "." are skipped: they are editor leftovers, and
// Kubernetes mounts a ConfigMap's real files under hidden ..data directories
// next to the symlinks it shows.
//
// Every problem in every file is reported, each as an alertgate.EINVALID
// error naming the file and the key, joined with errors.Join, so one run of
// `alertgate check` shows everything to fix. A directory that cannot be read
// is returned as the os error: errors.Is(err, fs.ErrNotExist) tells a missing
// directory apart, and the caller decides whether that is fatal.
func LoadDir(dir string) (*Set, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("runbooks: %w", err)
	}
	var names []string
	for _, e := range entries {
		if name := e.Name(); !e.IsDir() && strings.HasSuffix(name, ".md") && !strings.HasPrefix(name, ".") {
			names = append(names, name)
		}
	}
	sort.Strings(names)

	s := &Set{byID: make(map[string]*Runbook, len(names))}
	var errs []error
	for _, name := range names {
		path := filepath.Join(dir, name)
		fail := func(format string, args ...any) {
			errs = append(errs, alertgate.Errorf(alertgate.EINVALID, "%s: %s", path, fmt.Sprintf(format, args...)))
		}
		data, err := os.ReadFile(path)
		if err != nil {
			errs = append(errs, alertgate.WrapError(alertgate.EINVALID, err, "%s: cannot read", path))
			continue
		}
		r, problems := parse(path, data)
		for _, p := range problems {
			fail("%s", p)
		}
		if r == nil || r.ID == "" {
			continue
		}
		if prev, ok := s.byID[r.ID]; ok {
			fail("id %q already used by %s", r.ID, prev.Path)
			continue
		}
		if len(problems) > 0 {
			// Reserve the id so a duplicate of a broken file is still
			// reported, but keep the broken runbook out of the set.
			s.byID[r.ID] = r
			continue
		}
		r.steps = capSteps(strings.TrimSpace(r.Body), maxSteps)
		var buf bytes.Buffer
		if err := RenderHTML(&buf, r); err != nil {
			fail("render: %v", err)
			s.byID[r.ID] = r
			continue
		}
		r.html = buf.Bytes()
		s.byID[r.ID] = r
		s.all = append(s.all, r)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	sort.Slice(s.all, func(i, j int) bool { return s.all[i].ID < s.all[j].ID })
	return s, nil
}

// parse reads one runbook file. It returns the runbook as far as it could be
// read (nil when the front matter is unreadable) and every problem found, each
// starting with the key it is about.
func parse(path string, data []byte) (*Runbook, []string) {
	if !utf8.Valid(data) {
		return nil, []string{"not valid UTF-8 text"}
	}
	text := strings.ReplaceAll(string(data), "\r\n", "\n")
	text = strings.TrimPrefix(text, "\ufeff")

	head, body, problem := split(text)
	if problem != "" {
		return nil, []string{problem}
	}

	var (
		fm       frontMatter
		problems []string
	)
	dec := yaml.NewDecoder(strings.NewReader(head))
	dec.KnownFields(true)
	if err := dec.Decode(&fm); err != nil && err != io.EOF {
		var te *yaml.TypeError
		if !errors.As(err, &te) {
			// A syntax error: nothing below would be meaningful.
			return nil, []string{"front matter: " + err.Error()}
		}
		// Type errors leave the other keys decoded, so keep validating,
		// unless the front matter was not a mapping at all.
		for _, msg := range te.Errors {
			if m := notMapping.FindStringSubmatch(msg); m != nil {
				return nil, []string{"front matter: line " + m[1] + ": must be a mapping of keys (id, title, owner, match)"}
			}
			problems = append(problems, "front matter: "+friendlyTypeError(msg))
		}
	}

	r := &Runbook{
		ID:    fm.ID,
		Title: strings.TrimSpace(fm.Title),
		Owner: strings.TrimSpace(fm.Owner),
		Body:  strings.TrimLeft(body, "\n"),
		Path:  path,
	}
	switch {
	case r.ID == "":
		problems = append(problems, "id: missing")
	case !validID.MatchString(r.ID):
		problems = append(problems, fmt.Sprintf("id: %q must be lower-case letters, digits, '.', '_' or '-', starting with a letter or digit", r.ID))
		r.ID = "" // not worth a duplicate report on top
	}
	if r.Title == "" {
		problems = append(problems, "title: missing")
	}
	for i, s := range fm.Match {
		m, err := labels.ParseMatcher(s)
		if err != nil {
			// Single quotes, as the matcher is usually written in YAML: %q
			// would escape every double quote inside it.
			problems = append(problems, fmt.Sprintf("match[%d]: bad matcher '%s': %v", i, s, err))
			continue
		}
		r.Match = append(r.Match, m)
	}
	if strings.TrimSpace(r.Body) == "" {
		problems = append(problems, "body: empty: a runbook needs steps below the front matter")
	}
	return r, problems
}

// split separates the front matter from the body. The head it returns keeps
// the opening --- line: YAML reads it as a document start, and the line
// numbers in YAML's errors then match the file's.
func split(text string) (head, body, problem string) {
	first, rest, _ := strings.Cut(text, "\n")
	if strings.TrimRight(first, " \t") != "---" {
		return "", "", "front matter: missing: the file must start with a --- line"
	}
	off := len(first) + 1
	for rest != "" {
		line, next, _ := strings.Cut(rest, "\n")
		if strings.TrimRight(line, " \t") == "---" {
			return text[:off], next, ""
		}
		off += len(line) + 1
		rest = next
	}
	return "", "", "front matter: missing closing ---"
}

// yaml.v3's type errors name Go types the runbook's author has never heard
// of; these rewrite the ones a front matter can produce.
var (
	unknownKey = regexp.MustCompile(`^line (\d+): field (.+) not found in type \S+$`)
	notMapping = regexp.MustCompile(`^line (\d+): cannot unmarshal \S+ .*into runbooks\.frontMatter$`)
	goTypes    = strings.NewReplacer(" into []string", " into a list of strings", " into string", " into a string")
)

func friendlyTypeError(msg string) string {
	if m := unknownKey.FindStringSubmatch(msg); m != nil {
		return fmt.Sprintf("line %s: unknown key %s (known: id, title, owner, match)", m[1], strconv.Quote(m[2]))
	}
	return goTypes.Replace(msg)
}
