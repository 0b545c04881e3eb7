package config

import (
	"bytes"
	"fmt"
	"math"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/alertmanager/pkg/labels"
	"github.com/prometheus/alertmanager/timeinterval"
	"gopkg.in/yaml.v3"
)

// decoder fills a Config from a parsed YAML tree. It replaces yaml.v3's
// strict decoding (KnownFields) because that one names Go types instead of
// keys ("field secret not found in type config.Sentry") and stops at the
// first error a custom unmarshaler returns. This one reports every problem
// as "line N: key.path: problem", and records the line of each key for
// validate's messages and for telling "attempts: 0" from no attempts at all.
type decoder struct {
	lookup func(string) (string, bool)
	refs   *refs
	lines  map[string]int
	// orig is the text of each scalar before ${ENV} expansion: messages
	// quote that, so a secret from the environment never reaches an error.
	orig map[*yaml.Node]string
	// merging holds the << values being applied, so that one containing
	// itself (&a {<<: *a}) is an error instead of endless recursion.
	merging map[*yaml.Node]bool
	errs    []error
}

var envRef = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)\}`)

// refs stands in for the ${NAME} references of a file while YAML parses it.
//
// Expanding after parsing takes a value verbatim: one holding '"', " #",
// ": " or a newline cannot change the YAML around it. But "${NAME}" itself
// is not valid YAML everywhere ("{token: ${X}}" is a syntax error), so
// hide replaces each reference by a placeholder word, valid in any context
// and on the same line, and expandTree puts the value in the parsed scalar.
type refs struct {
	re    *regexp.Regexp // a placeholder; group 1 indexes names
	names []string
}

// hide replaces ${NAME} (only that form: a bare $ is common in Datadog
// templates and regexps) by placeholders that b does not otherwise contain.
func hide(b []byte) ([]byte, *refs) {
	prefix := "alertgateenv"
	for bytes.Contains(b, []byte(prefix)) {
		prefix += "x"
	}
	r := &refs{re: regexp.MustCompile(prefix + `([0-9]+)z`)}
	b = envRef.ReplaceAllFunc(b, func(m []byte) []byte {
		r.names = append(r.names, string(m[2:len(m)-1]))
		return fmt.Appendf(nil, "%s%dz", prefix, len(r.names)-1)
	})
	return b, r
}

// replace replaces each placeholder in s by f of its variable's name, in
// one pass: a value containing "${" or a placeholder is not expanded again.
func (r *refs) replace(s string, f func(name string) string) string {
	return r.re.ReplaceAllStringFunc(s, func(m string) string {
		i, _ := strconv.Atoi(r.re.FindStringSubmatch(m)[1])
		return f(r.names[i])
	})
}

// expandTree puts the variables' values ("" when unset) in every scalar
// value, and the original "${NAME}" text back in keys, which are not
// expanded. Each node is visited once: an alias points to its anchor's node.
func (d *decoder) expandTree(n *yaml.Node) {
	literal := func(name string) string { return "${" + name + "}" }
	switch n.Kind {
	case yaml.ScalarNode:
		if !d.refs.re.MatchString(n.Value) {
			return
		}
		d.orig[n] = d.refs.replace(n.Value, literal)
		n.Value = d.refs.replace(n.Value, func(name string) string {
			v, _ := d.lookup(name)
			return v
		})
		const explicit = yaml.TaggedStyle | yaml.DoubleQuotedStyle | yaml.SingleQuotedStyle | yaml.LiteralStyle | yaml.FoldedStyle
		if n.Style&explicit == 0 {
			// Resolve the plain scalar again: the placeholder was a string,
			// "3" is a number and "" is null (the default).
			n.Tag = ""
		}
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			if k := n.Content[i]; k.Kind == yaml.ScalarNode {
				k.Value = d.refs.replace(k.Value, literal)
			} else {
				d.expandTree(k)
			}
			d.expandTree(n.Content[i+1])
		}
	default:
		for _, c := range n.Content {
			d.expandTree(c)
		}
	}
}

func (d *decoder) errorf(n *yaml.Node, path, format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	if path != "" {
		msg = path + ": " + msg
	}
	d.errs = append(d.errs, fmt.Errorf("line %d: %s", n.Line, msg))
}

// describe names what n holds for "want X, got Y" messages.
func (d *decoder) describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	}
	if s, ok := d.orig[n]; ok {
		return strconv.Quote(s) + " (after expansion, not shown)"
	}
	return strconv.Quote(n.Value)
}

var (
	durationType     = reflect.TypeFor[Duration]()
	matchersType     = reflect.TypeFor[Matchers]()
	timeIntervalType = reflect.TypeFor[timeinterval.TimeInterval]()
)

// decode fills v from n; path names v in messages ("" is the root).
func (d *decoder) decode(n *yaml.Node, v reflect.Value, path string) {
	for n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null" {
		v.SetZero()
		return
	}
	switch {
	case v.Type() == durationType:
		d.duration(n, v, path)
	case v.Type() == matchersType:
		d.matchers(n, v, path)
	case v.Type() == timeIntervalType:
		d.timeInterval(n, v, path)
	case v.Kind() == reflect.Pointer:
		p := reflect.New(v.Type().Elem())
		d.decode(n, p.Elem(), path)
		v.Set(p)
	case v.Kind() == reflect.Struct:
		d.mapping(n, v, path)
	case v.Kind() == reflect.Slice:
		d.sequence(n, v, path)
	default:
		d.scalar(n, v, path)
	}
}

func (d *decoder) mapping(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.MappingNode {
		d.errorf(n, path, "want a mapping of keys, got %s", d.describe(n))
		return
	}
	fields, names := yamlFields(v.Type())
	isMerge := func(k *yaml.Node) bool { return k.Kind == yaml.ScalarNode && k.ShortTag() == "!!merge" }
	// Merge keys (<<: *base) first, so that the mapping's own keys win.
	for i := 0; i+1 < len(n.Content); i += 2 {
		if isMerge(n.Content[i]) {
			d.merge(n.Content[i+1], v, path)
		}
	}
	seen := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		if isMerge(k) {
			continue
		}
		if k.Kind != yaml.ScalarNode {
			d.errorf(k, path, "want a key name, got %s", d.describe(k))
			continue
		}
		p := k.Value
		if path != "" {
			p = path + "." + k.Value
		}
		if first, dup := seen[k.Value]; dup {
			d.errorf(k, p, "repeated: already set on line %d", first)
			continue
		}
		seen[k.Value] = k.Line
		f, ok := fields[k.Value]
		if !ok {
			in := ""
			if path != "" {
				in = " in " + path
			}
			d.errs = append(d.errs, fmt.Errorf("line %d: unknown key %q%s (known: %s)", k.Line, k.Value, in, strings.Join(names, ", ")))
			continue
		}
		if val.Kind != yaml.ScalarNode || val.ShortTag() != "!!null" {
			d.lines[p] = k.Line // a null value counts as not given: the default applies
		}
		fv := v.Field(f)
		fv.SetZero() // replaces, not merges with, a value from <<
		d.decode(val, fv, p)
	}
}

// merge applies a << value: a mapping, or a list of them where the earlier
// ones win.
func (d *decoder) merge(n *yaml.Node, v reflect.Value, path string) {
	for n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	if d.merging[n] {
		d.errorf(n, path, "<< merges an anchor into its own value (a loop)")
		return
	}
	if d.merging == nil {
		d.merging = map[*yaml.Node]bool{}
	}
	d.merging[n] = true
	defer delete(d.merging, n)
	switch n.Kind {
	case yaml.MappingNode:
		d.mapping(n, v, path)
	case yaml.SequenceNode:
		for i := len(n.Content) - 1; i >= 0; i-- {
			d.merge(n.Content[i], v, path)
		}
	default:
		d.errorf(n, path, "<< wants a mapping or a list of mappings, got %s", d.describe(n))
	}
}

// yamlFields maps each YAML key of struct type t to its field index, and
// lists the keys in declaration order.
func yamlFields(t reflect.Type) (map[string]int, []string) {
	fields := map[string]int{}
	var names []string
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if !f.IsExported() || name == "" || name == "-" {
			continue
		}
		fields[name] = i
		names = append(names, name)
	}
	return fields, names
}

func (d *decoder) sequence(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.SequenceNode {
		d.errorf(n, path, "want a list, got %s", d.describe(n))
		return
	}
	s := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
	for i, item := range n.Content {
		p := fmt.Sprintf("%s[%d]", path, i)
		d.lines[p] = item.Line
		d.decode(item, s.Index(i), p)
	}
	v.Set(s)
}

func (d *decoder) scalar(n *yaml.Node, v reflect.Value, path string) {
	var want string
	switch v.Kind() {
	case reflect.String:
		want = "a string"
	case reflect.Int, reflect.Int64:
		want = "a whole number"
	case reflect.Bool:
		want = "true or false"
	default:
		want = v.Type().String()
	}
	if n.Kind != yaml.ScalarNode {
		d.errorf(n, path, "want %s, got %s", want, d.describe(n))
		return
	}
	if err := n.Decode(v.Addr().Interface()); err != nil {
		d.errorf(n, path, "want %s, got %s", want, d.describe(n))
	}
}

func (d *decoder) duration(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.ScalarNode {
		d.errorf(n, path, "want a duration like 90s, 15m or 2h, got %s", d.describe(n))
		return
	}
	x, err := parseDuration(n.Value)
	if err != nil {
		d.errorf(n, path, "%v", err)
		return
	}
	v.Set(reflect.ValueOf(x))
}

var days = regexp.MustCompile(`^([0-9]+)d$`)

// maxDays is the most whole days a time.Duration holds (about 292 years).
const maxDays = int64(math.MaxInt64 / int64(24*time.Hour))

// parseDuration is time.ParseDuration plus whole days ("90d"), which is
// how people write retentions and expiries.
func parseDuration(s string) (Duration, error) {
	v, err := time.ParseDuration(s)
	if err == nil {
		return Duration(v), nil
	}
	if m := days.FindStringSubmatch(s); m != nil {
		n, err := strconv.ParseInt(m[1], 10, 64)
		if err != nil || n > maxDays {
			return 0, fmt.Errorf("want at most %dd, got %q", maxDays, s)
		}
		return Duration(time.Duration(n) * 24 * time.Hour), nil
	}
	if strings.Contains(s, "d") {
		return 0, fmt.Errorf("want whole days like 14d, or a duration like 90s, 15m or 2h, got %q", s)
	}
	return 0, fmt.Errorf("want a duration like 90s, 15m or 2h, got %q", s)
}

func (d *decoder) matchers(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.SequenceNode {
		d.errorf(n, path, `want a list of matchers like ['service="checkout"'], got %s`, d.describe(n))
		return
	}
	out := make(Matchers, 0, len(n.Content))
	for i, item := range n.Content {
		for item.Kind == yaml.AliasNode {
			item = item.Alias
		}
		p := fmt.Sprintf("%s[%d]", path, i)
		if item.Kind != yaml.ScalarNode {
			d.errorf(item, p, "want a matcher string, got %s", d.describe(item))
			continue
		}
		m, err := parseMatcher(item.Value)
		if err != nil {
			d.errorf(item, p, "%v", err)
			continue
		}
		out = append(out, m)
	}
	v.Set(reflect.ValueOf(out))
}

// parseMatcher parses one matcher in Alertmanager's syntax. The message
// quotes it in single quotes, as it is usually written in YAML: %q would
// escape every double quote inside.
func parseMatcher(s string) (*labels.Matcher, error) {
	m, err := labels.ParseMatcher(s)
	if err != nil {
		return nil, fmt.Errorf("bad matcher '%s': %w", s, err)
	}
	return m, nil
}

// The keys of an Alertmanager time interval, and of one of its times, as
// its YAML unmarshalling (which ignores any other key) reads them.
var (
	timeIntervalKeys = []string{"times", "weekdays", "days_of_month", "months", "years", "location"}
	timeRangeKeys    = []string{"start_time", "end_time"}
)

// timeInterval decodes an Alertmanager time interval with the library's own
// YAML unmarshalling, so that its syntax and semantics are Alertmanager's.
// That unmarshalling is lenient about keys and shapes, so this first checks
// them: an unknown key, or a list where a string belongs, is reported as
// for any other key; what is left to the library is parsing the values.
func (d *decoder) timeInterval(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.MappingNode {
		d.errorf(n, path, "want a mapping of keys, got %s", d.describe(n))
		return
	}
	before := len(d.errs)
	for _, kv := range d.keys(n, path, timeIntervalKeys) {
		k, val := kv[0], kv[1]
		p := path + "." + k.Value
		if isNull(val) {
			continue
		}
		d.lines[p] = k.Line
		if k.Value == "location" {
			d.scalarShape(val, p, "a time zone like Europe/Berlin")
			continue
		}
		if val.Kind != yaml.SequenceNode {
			d.errorf(val, p, "want a list, got %s", d.describe(val))
			continue
		}
		for i, item := range val.Content {
			ip := fmt.Sprintf("%s[%d]", p, i)
			d.lines[ip] = item.Line
			if k.Value != "times" {
				d.scalarShape(item, ip, "a string")
				continue
			}
			item = deref(item)
			if item.Kind != yaml.MappingNode {
				d.errorf(item, ip, "want a mapping with start_time and end_time, got %s", d.describe(item))
				continue
			}
			for _, tkv := range d.keys(item, ip, timeRangeKeys) {
				d.scalarShape(tkv[1], ip+"."+tkv[0].Value, `a time like "09:00"`)
			}
		}
	}
	if len(d.errs) > before {
		return
	}
	var ti timeinterval.TimeInterval
	if err := n.Decode(&ti); err != nil {
		d.errorf(failing(n), path, "%v", err)
		return
	}
	v.Set(reflect.ValueOf(ti))
}

// keys returns the key and value nodes of mapping n, those of its merge
// keys (<<) included, and reports each key not in known, and each key
// repeated in n itself.
func (d *decoder) keys(n *yaml.Node, path string, known []string) [][2]*yaml.Node {
	var out [][2]*yaml.Node
	seen := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		if k.Kind == yaml.ScalarNode && k.ShortTag() == "!!merge" {
			val = deref(val)
			merged := []*yaml.Node{val}
			if val.Kind == yaml.SequenceNode {
				merged = val.Content
			}
			for _, m := range merged {
				if m = deref(m); m.Kind != yaml.MappingNode {
					d.errorf(m, path, "<< wants a mapping or a list of mappings, got %s", d.describe(m))
					continue
				}
				if d.merging[m] {
					d.errorf(m, path, "<< merges an anchor into its own value (a loop)")
					continue
				}
				if d.merging == nil {
					d.merging = map[*yaml.Node]bool{}
				}
				d.merging[m] = true
				out = append(out, d.keys(m, path, known)...)
				delete(d.merging, m)
			}
			continue
		}
		if k.Kind != yaml.ScalarNode {
			d.errorf(k, path, "want a key name, got %s", d.describe(k))
			continue
		}
		if first, dup := seen[k.Value]; dup {
			d.errorf(k, path+"."+k.Value, "repeated: already set on line %d", first)
			continue
		}
		seen[k.Value] = k.Line
		if !slices.Contains(known, k.Value) {
			d.errs = append(d.errs, fmt.Errorf("line %d: unknown key %q in %s (known: %s)", k.Line, k.Value, path, strings.Join(known, ", ")))
			continue
		}
		out = append(out, [2]*yaml.Node{k, val})
	}
	return out
}

// scalarShape reports n unless it is a scalar (or null).
func (d *decoder) scalarShape(n *yaml.Node, path, want string) {
	if n = deref(n); n.Kind != yaml.ScalarNode {
		d.errorf(n, path, "want %s, got %s", want, d.describe(n))
	}
}

// failing finds the value in time interval n that the library rejects, for
// the line of its error: n itself when no single value fails alone.
func failing(n *yaml.Node) *yaml.Node {
	var scratch timeinterval.TimeInterval
	targets := map[string]any{
		"times":         &scratch.Times,
		"weekdays":      &scratch.Weekdays,
		"days_of_month": &scratch.DaysOfMonth,
		"months":        &scratch.Months,
		"years":         &scratch.Years,
	}
	seen := map[*yaml.Node]bool{}
	var walk func(m *yaml.Node) *yaml.Node
	walk = func(m *yaml.Node) *yaml.Node {
		if seen[m] {
			return nil
		}
		seen[m] = true
		for i := 0; i+1 < len(m.Content); i += 2 {
			k, val := m.Content[i], deref(m.Content[i+1])
			if k.ShortTag() == "!!merge" {
				merged := []*yaml.Node{val}
				if val.Kind == yaml.SequenceNode {
					merged = val.Content
				}
				for _, mm := range merged {
					if f := walk(deref(mm)); f != nil {
						return f
					}
				}
				continue
			}
			if k.Value == "location" {
				if val.Decode(&scratch.Location) != nil {
					return val
				}
				continue
			}
			t, ok := targets[k.Value]
			if !ok || val.Kind != yaml.SequenceNode {
				continue
			}
			for _, item := range val.Content {
				one := &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq", Content: []*yaml.Node{item}}
				if one.Decode(t) != nil {
					return item
				}
			}
		}
		return nil
	}
	if f := walk(n); f != nil {
		return f
	}
	return n
}

func deref(n *yaml.Node) *yaml.Node {
	for n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	return n
}

func isNull(n *yaml.Node) bool {
	n = deref(n)
	return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null"
}

// ParseMatcher parses one matcher in Alertmanager's syntax, as the config's
// matchers are parsed (silences take the same syntax); the error quotes it.
func ParseMatcher(s string) (*labels.Matcher, error) { return parseMatcher(s) }
