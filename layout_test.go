package alertgate_test

// The layout rules. alertgate's folders are its concepts: the domain types
// at the root, the sources under ingest/, the policy in dedup/, delivery in
// sinks/, the read API in web/. That layout only helps a reader while the
// dependencies between those folders point one way: the policy knows no
// adapter, a source knows nothing of delivery, delivery nothing of the
// sources, the read API nothing of the pipeline's plumbing, and the domain
// nothing but the standard library. Nothing in the compiler keeps that true,
// so this test does: it reads the real dependency graph with `go list -deps`
// (build dependencies only; what a _test.go file imports does not count) and
// fails naming the package, the dependency it must not have, and the import
// chain that brings it in. TestLayoutRulesCatchViolations shows the checker
// failing on a graph built to break every rule.

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

const modulePath = "github.com/alertgate/alertgate"

// layoutRule forbids every package matched by from to depend, directly or
// through others, on a package matched by forbid; with stdlibOnly, on
// anything outside the standard library. Patterns are relative to the
// module: "" is the root package, "sinks" that package alone, "sinks/..."
// sinks and every package below it.
type layoutRule struct {
	name       string
	from       []string
	forbid     []string
	stdlibOnly bool
}

var layoutRules = []layoutRule{
	{
		name:   "the policy (dedup) imports no adapter",
		from:   []string{"dedup"},
		forbid: []string{"sinks/...", "routes", "bus", "ingest/...", "web", "silences", "inhibit", "related"},
	},
	{
		name:   "the shared indexes (silences, inhibit, related) know nothing of routing, policy, delivery, the sources or the read API",
		from:   []string{"silences", "inhibit", "related"},
		forbid: []string{"routes", "dedup", "sinks/...", "ingest/...", "web"},
	},
	{
		name:   "a source (ingest) knows nothing of routing, policy, delivery, the bus or the read API",
		from:   []string{"ingest/..."},
		forbid: []string{"sinks/...", "routes", "dedup", "web", "bus"},
	},
	{
		name:   "delivery (sinks) knows nothing of the sources, routing or the read API",
		from:   []string{"sinks/..."},
		forbid: []string{"ingest/...", "routes", "web"},
	},
	{
		name:   "the read API (web) reads state, not the pipeline",
		from:   []string{"web"},
		forbid: []string{"bus", "sinks/...", "routes", "ingest/..."},
	},
	{
		name:   "the report reads the history; it knows nothing of delivery, the sources or the read API",
		from:   []string{"report"},
		forbid: []string{"sinks/...", "ingest/...", "web"},
	},
	{
		name:   "a replay (replay) reads the streams and decides in memory: no delivery, no source, no HTTP",
		from:   []string{"replay"},
		forbid: []string{"sinks/...", "ingest/...", "web"},
	},
	{
		name:       "the domain (root package) imports only the standard library",
		from:       []string{""},
		stdlibOnly: true,
	},
}

// pkgInfo is what the rules need of one package from `go list -deps -json`.
type pkgInfo struct {
	ImportPath string
	Standard   bool
	Imports    []string // direct imports
	Deps       []string // every dependency, transitively
}

// matchPattern reports whether the import path matches a module-relative
// pattern.
func matchPattern(pattern, importPath string) bool {
	full := modulePath
	if pattern != "" {
		full += "/" + pattern
	}
	if base, ok := strings.CutSuffix(full, "/..."); ok {
		return importPath == base || strings.HasPrefix(importPath, base+"/")
	}
	return importPath == full
}

func matchAny(patterns []string, importPath string) bool {
	return slices.ContainsFunc(patterns, func(p string) bool { return matchPattern(p, importPath) })
}

// checkLayout returns one line per broken rule and package, and one per
// pattern that matches no package (a rule left behind by a rename would
// otherwise pass by checking nothing).
func checkLayout(graph map[string]pkgInfo, rules []layoutRule) []string {
	paths := slices.Sorted(maps.Keys(graph))
	var problems []string
	for _, r := range rules {
		for _, pat := range append(slices.Clone(r.from), r.forbid...) {
			if !slices.ContainsFunc(paths, func(p string) bool { return matchPattern(pat, p) }) {
				problems = append(problems, fmt.Sprintf("%s: pattern %q matches no package", r.name, pat))
			}
		}
		for _, p := range paths {
			if !matchAny(r.from, p) {
				continue
			}
			for _, d := range graph[p].Deps {
				bad := matchAny(r.forbid, d)
				if r.stdlibOnly {
					bad = !graph[d].Standard
				}
				if bad {
					problems = append(problems, fmt.Sprintf("%s: %s depends on %s (%s)",
						r.name, p, d, strings.Join(importChain(graph, p, d), " → ")))
				}
			}
		}
	}
	return problems
}

// importChain is a shortest chain of direct imports from one package to
// another, for the failure message.
func importChain(graph map[string]pkgInfo, from, to string) []string {
	prev := map[string]string{from: ""}
	queue := []string{from}
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		if p == to {
			chain := []string{}
			for ; p != ""; p = prev[p] {
				chain = append(chain, strings.TrimPrefix(p, modulePath+"/"))
			}
			slices.Reverse(chain)
			return chain
		}
		for _, imp := range graph[p].Imports {
			if _, seen := prev[imp]; !seen {
				prev[imp] = p
				queue = append(queue, imp)
			}
		}
	}
	return []string{from, "…", to}
}

// moduleGraph runs `go list -deps -json` on every package of the module.
func moduleGraph(t *testing.T) map[string]pkgInfo {
	t.Helper()
	cmd := exec.Command("go", "list", "-deps", "-json=ImportPath,Standard,Imports,Deps", modulePath+"/...")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, stderr.String())
	}
	graph := map[string]pkgInfo{}
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var p pkgInfo
		if err := dec.Decode(&p); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatalf("go list output: %v", err)
		}
		graph[p.ImportPath] = p
	}
	return graph
}

func TestLayoutRules(t *testing.T) {
	graph := moduleGraph(t)
	if _, ok := graph[modulePath]; !ok {
		t.Fatalf("go list did not list %s", modulePath)
	}
	for _, p := range checkLayout(graph, layoutRules) {
		t.Error(p)
	}
}

// syntheticGraph builds a graph from direct imports, "~" standing for the
// module path, and fills in each package's transitive Deps as go list does.
func syntheticGraph(imports map[string][]string) map[string]pkgInfo {
	expand := func(p string) string { return strings.Replace(p, "~", modulePath, 1) }
	graph := map[string]pkgInfo{}
	for p, imps := range imports {
		info := pkgInfo{ImportPath: expand(p), Standard: !strings.Contains(strings.SplitN(p, "/", 2)[0], ".") && !strings.HasPrefix(p, "~")}
		for _, i := range imps {
			info.Imports = append(info.Imports, expand(i))
		}
		graph[info.ImportPath] = info
	}
	for p, info := range graph {
		seen := map[string]bool{}
		var walk func(string)
		walk = func(q string) {
			for _, i := range graph[q].Imports {
				if !seen[i] {
					seen[i] = true
					walk(i)
				}
			}
		}
		walk(p)
		for d := range seen {
			info.Deps = append(info.Deps, d)
		}
		slices.Sort(info.Deps)
		graph[p] = info
	}
	return graph
}

// TestLayoutRulesCatchViolations runs the checker on a made-up graph that
// breaks every rule, so a checker that can no longer fail is noticed; the
// same graph without the offending imports passes.
func TestLayoutRulesCatchViolations(t *testing.T) {
	clean := map[string][]string{
		"fmt":               nil,
		"example.com/yaml":  nil,
		"~":                 {"fmt"},
		"~/internal/wire":   {"~"},
		"~/bus":             {"~/internal/wire"},
		"~/sinks":           {"~", "~/bus"},
		"~/sinks/slack":     {"~/sinks"},
		"~/dedup":           {"~/internal/wire"},
		"~/routes":          {"~", "~/dedup"},
		"~/ingest/datadog":  {"~"},
		"~/ingest":          {"~/ingest/datadog"},
		"~/sinks/pagerduty": {"~/sinks"},
		"~/web":             {"~", "~/dedup"},
		"~/silences":        {"~"},
		"~/inhibit":         {"~"},
		"~/related":         {"~"},
		"~/report":          {"~", "~/bus", "~/routes"},
		"~/replay":          {"~", "~/routes", "~/bus"},
	}
	if got := checkLayout(syntheticGraph(clean), layoutRules); len(got) > 0 {
		t.Errorf("a graph that keeps every rule: got\n%s", strings.Join(got, "\n"))
	}

	broken := maps.Clone(clean)
	broken["~"] = []string{"fmt", "example.com/yaml"}                     // the domain takes a third-party import
	broken["~/dedup"] = []string{"~/internal/wire", "~/sinks/slack"}      // the policy imports a sink
	broken["~/ingest/datadog"] = []string{"~", "~/routes"}                // a source imports routing (and so the policy)
	broken["~/sinks/pagerduty"] = []string{"~/sinks", "~/ingest/datadog"} // a sink imports a source
	broken["~/web"] = []string{"~", "~/sinks"}                            // the read API imports delivery
	broken["~/inhibit"] = []string{"~", "~/dedup"}                        // a hold imports the policy
	broken["~/replay"] = []string{"~", "~/bus", "~/web"}                  // a replay imports the HTTP API
	got := checkLayout(syntheticGraph(broken), layoutRules)
	m := modulePath + "/"
	want := []string{
		"the policy (dedup) imports no adapter: " + m + "dedup depends on " + m + "bus (dedup → sinks/slack → sinks → bus)",
		"the policy (dedup) imports no adapter: " + m + "dedup depends on " + m + "sinks (dedup → sinks/slack → sinks)",
		"the policy (dedup) imports no adapter: " + m + "dedup depends on " + m + "sinks/slack (dedup → sinks/slack)",
		"the shared indexes (silences, inhibit, related) know nothing of routing, policy, delivery, the sources or the read API: " + m + "inhibit depends on " + m + "dedup (inhibit → dedup)",
		"the shared indexes (silences, inhibit, related) know nothing of routing, policy, delivery, the sources or the read API: " + m + "inhibit depends on " + m + "sinks (inhibit → dedup → sinks/slack → sinks)",
		"the shared indexes (silences, inhibit, related) know nothing of routing, policy, delivery, the sources or the read API: " + m + "inhibit depends on " + m + "sinks/slack (inhibit → dedup → sinks/slack)",
		"a source (ingest) knows nothing of routing, policy, delivery, the bus or the read API: " + m + "ingest depends on " + m + "bus (ingest → ingest/datadog → routes → dedup → sinks/slack → sinks → bus)",
		"a source (ingest) knows nothing of routing, policy, delivery, the bus or the read API: " + m + "ingest depends on " + m + "dedup (ingest → ingest/datadog → routes → dedup)",
		"a source (ingest) knows nothing of routing, policy, delivery, the bus or the read API: " + m + "ingest depends on " + m + "routes (ingest → ingest/datadog → routes)",
		"a source (ingest) knows nothing of routing, policy, delivery, the bus or the read API: " + m + "ingest depends on " + m + "sinks (ingest → ingest/datadog → routes → dedup → sinks/slack → sinks)",
		"a source (ingest) knows nothing of routing, policy, delivery, the bus or the read API: " + m + "ingest depends on " + m + "sinks/slack (ingest → ingest/datadog → routes → dedup → sinks/slack)",
		"a source (ingest) knows nothing of routing, policy, delivery, the bus or the read API: " + m + "ingest/datadog depends on " + m + "bus (ingest/datadog → routes → dedup → sinks/slack → sinks → bus)",
		"a source (ingest) knows nothing of routing, policy, delivery, the bus or the read API: " + m + "ingest/datadog depends on " + m + "dedup (ingest/datadog → routes → dedup)",
		"a source (ingest) knows nothing of routing, policy, delivery, the bus or the read API: " + m + "ingest/datadog depends on " + m + "routes (ingest/datadog → routes)",
		"a source (ingest) knows nothing of routing, policy, delivery, the bus or the read API: " + m + "ingest/datadog depends on " + m + "sinks (ingest/datadog → routes → dedup → sinks/slack → sinks)",
		"a source (ingest) knows nothing of routing, policy, delivery, the bus or the read API: " + m + "ingest/datadog depends on " + m + "sinks/slack (ingest/datadog → routes → dedup → sinks/slack)",
		"delivery (sinks) knows nothing of the sources, routing or the read API: " + m + "sinks/pagerduty depends on " + m + "ingest/datadog (sinks/pagerduty → ingest/datadog)",
		"delivery (sinks) knows nothing of the sources, routing or the read API: " + m + "sinks/pagerduty depends on " + m + "routes (sinks/pagerduty → ingest/datadog → routes)",
		"the read API (web) reads state, not the pipeline: " + m + "web depends on " + m + "bus (web → sinks → bus)",
		"the read API (web) reads state, not the pipeline: " + m + "web depends on " + m + "sinks (web → sinks)",
		"the report reads the history; it knows nothing of delivery, the sources or the read API: " + m + "report depends on " + m + "sinks (report → routes → dedup → sinks/slack → sinks)",
		"the report reads the history; it knows nothing of delivery, the sources or the read API: " + m + "report depends on " + m + "sinks/slack (report → routes → dedup → sinks/slack)",
		"a replay (replay) reads the streams and decides in memory: no delivery, no source, no HTTP: " + m + "replay depends on " + m + "sinks (replay → web → sinks)",
		"a replay (replay) reads the streams and decides in memory: no delivery, no source, no HTTP: " + m + "replay depends on " + m + "web (replay → web)",
		"the domain (root package) imports only the standard library: " + modulePath + " depends on example.com/yaml (" + modulePath + " → example.com/yaml)",
	}
	if !slices.Equal(got, want) {
		t.Errorf("violations:\ngot\n\t%s\nwant\n\t%s", strings.Join(got, "\n\t"), strings.Join(want, "\n\t"))
	}

	// A rule whose folder was renamed away reports itself instead of passing.
	stale := []layoutRule{{name: "old router", from: []string{"router"}, forbid: []string{"web"}}}
	got = checkLayout(syntheticGraph(clean), stale)
	if want := []string{`old router: pattern "router" matches no package`}; !slices.Equal(got, want) {
		t.Errorf("stale rule: got %q, want %q", got, want)
	}
}
