// Package inhibit holds a page while a related, more important incident
// fires: Alertmanager's inhibit rules, across every alertgate instance.
//
// A rule has source matchers, target matchers and equal labels. An
// incident whose labels match a rule's source matchers is a source while
// it has an open episode; an incident matching the target matchers, whose
// equal labels have the same values as a firing source's (a label absent
// on both counts as equal), is held as inhibited. An incident never
// inhibits itself.
//
// The firing sources are shared through the KV bucket "inhibitors": the
// router writes an entry per (rule, equal label values, source key) when a
// source fires and deletes it when the source has no open episode left.
// Every instance watches the bucket into memory, so Inhibited, called for
// every incident event, is a map lookup.
package inhibit

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/alertgate/alertgate"
	"github.com/alertgate/alertgate/config"
	"github.com/alertgate/alertgate/internal/kvwatch"
)

// Rule is one inhibit rule (config inhibit_rules[i]).
type Rule struct {
	Source config.Matchers
	Target config.Matchers
	Equal  []string
}

// RulesOf are the config's inhibit_rules as an Inhibitor takes them.
func RulesOf(rules []config.InhibitRule) []Rule {
	out := make([]Rule, len(rules))
	for i, r := range rules {
		out[i] = Rule{Source: r.SourceMatchers, Target: r.TargetMatchers, Equal: r.Equal}
	}
	return out
}

// Source is a firing incident that matches a rule's source matchers.
type Source struct {
	Rule  int    `json:"rule"`
	Equal string `json:"equal"` // hash of the equal labels' values
	Key   string `json:"key"`
	Title string `json:"title,omitempty"`
}

// Inhibitor evaluates the rules against the firing sources of every
// instance.
type Inhibitor struct {
	kv     jetstream.KeyValue
	rules  []Rule
	logger *slog.Logger

	// target[r] and equal[r] number rule r's target matchers and equal
	// labels among the distinct ones: rules sharing them (most configs
	// have a handful of distinct ones among many rules) are evaluated
	// once per event.
	target, equal []int
	targets       []config.Matchers
	equals        [][]string

	mu sync.RWMutex
	// firing[rule][equal hash][source key]
	firing []map[string]map[string]Source
	// byEntry maps a KV key to its source, to apply deletes.
	byEntry map[string]Source

	watch *kvwatch.Watch
}

// New returns an Inhibitor over the rules and the bucket kv (nil kv: no
// rules are shared; Observe and Inhibited work in this process only).
func New(kv jetstream.KeyValue, rules []Rule, logger *slog.Logger) *Inhibitor {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	i := &Inhibitor{kv: kv, rules: rules, logger: logger, firing: make([]map[string]map[string]Source, len(rules)), byEntry: map[string]Source{}}
	for r := range i.firing {
		i.firing[r] = map[string]map[string]Source{}
	}
	targetIdx, equalIdx := map[string]int{}, map[string]int{}
	for _, rule := range rules {
		tk := strings.Join(rule.Target.Strings(), "\x00")
		t, ok := targetIdx[tk]
		if !ok {
			t = len(i.targets)
			targetIdx[tk] = t
			i.targets = append(i.targets, rule.Target)
		}
		ek := strings.Join(rule.Equal, "\x00")
		e, ok := equalIdx[ek]
		if !ok {
			e = len(i.equals)
			equalIdx[ek] = e
			i.equals = append(i.equals, rule.Equal)
		}
		i.target, i.equal = append(i.target, t), append(i.equal, e)
	}
	return i
}

// Start loads the firing sources and keeps them current from the bucket.
// It returns once the current entries are loaded.
func (i *Inhibitor) Start(ctx context.Context) error {
	if i.kv == nil || len(i.rules) == 0 {
		return nil
	}
	w, err := kvwatch.Start(ctx, i.kv, i, kvwatch.Options{Logger: i.logger})
	if err != nil {
		return err
	}
	i.watch = w
	return nil
}

// Stop ends the watch.
func (i *Inhibitor) Stop() { i.watch.Stop() }

// Apply applies one change of the bucket (kvwatch.View).
func (i *Inhibitor) Apply(e jetstream.KeyValueEntry) { i.apply(e) }

// Replayed drops the sources a replay of the bucket did not list
// (kvwatch.View).
func (i *Inhibitor) Replayed(seen map[string]bool) {
	i.mu.Lock()
	defer i.mu.Unlock()
	for entry, s := range i.byEntry {
		if !seen[entry] {
			i.remove(entry, s)
		}
	}
}

var _ kvwatch.View = (*Inhibitor)(nil)

func (i *Inhibitor) apply(e jetstream.KeyValueEntry) {
	if e.Operation() != jetstream.KeyValuePut {
		i.mu.Lock()
		if s, ok := i.byEntry[e.Key()]; ok {
			i.remove(e.Key(), s)
		}
		i.mu.Unlock()
		return
	}
	var s Source
	if err := json.Unmarshal(e.Value(), &s); err != nil || s.Rule < 0 || s.Rule >= len(i.rules) {
		// A rule of another config (instances mid-rollout): not ours.
		return
	}
	i.mu.Lock()
	i.add(e.Key(), s)
	i.mu.Unlock()
}

func (i *Inhibitor) add(entry string, s Source) {
	m := i.firing[s.Rule][s.Equal]
	if m == nil {
		m = map[string]Source{}
		i.firing[s.Rule][s.Equal] = m
	}
	m[s.Key] = s
	i.byEntry[entry] = s
}

func (i *Inhibitor) remove(entry string, s Source) {
	delete(i.byEntry, entry)
	if m := i.firing[s.Rule][s.Equal]; m != nil {
		delete(m, s.Key)
		if len(m) == 0 {
			delete(i.firing[s.Rule], s.Equal)
		}
	}
}

// IsSource reports whether labels match any rule's source matchers.
func (i *Inhibitor) IsSource(labels map[string]string) bool {
	for _, r := range i.rules {
		if r.Source.Matches(labels) {
			return true
		}
	}
	return false
}

// Observe records whether an incident that matches a rule's source
// matchers fires. It is idempotent: the router calls it after each
// decision on such a key (a redelivery repeats it). Keys that match no
// source matchers cost nothing.
func (i *Inhibitor) Observe(ctx context.Context, key, title string, labels map[string]string, firing bool) error {
	var errs []error
	for r, rule := range i.rules {
		if !rule.Source.Matches(labels) {
			continue
		}
		s := Source{Rule: r, Equal: equalHash(rule.Equal, labels), Key: key, Title: title}
		entry := entryKey(s)
		i.mu.RLock()
		_, known := i.firing[r][s.Equal][key]
		i.mu.RUnlock()
		if firing {
			if known {
				continue
			}
			b, _ := json.Marshal(s)
			if i.kv != nil {
				if _, err := i.kv.Put(ctx, entry, b); err != nil {
					errs = append(errs, fmt.Errorf("inhibit source %q: %w", key, err))
					continue
				}
			}
			i.mu.Lock()
			i.add(entry, s)
			i.mu.Unlock()
			continue
		}
		if i.kv != nil {
			// Delete even when not known here: another instance's write may
			// not have reached this one yet.
			if err := i.kv.Delete(ctx, entry); err != nil && !errors.Is(err, jetstream.ErrKeyNotFound) {
				errs = append(errs, fmt.Errorf("inhibit source %q: %w", key, err))
				continue
			}
		}
		if known {
			i.mu.Lock()
			i.remove(entry, s)
			i.mu.Unlock()
		}
	}
	return errors.Join(errs...)
}

// Inhibited returns the hold on an incident key with these labels: a rule
// whose target matchers match them has a firing source, other than the
// key itself, with the same values of the rule's equal labels. Nil if none.
func (i *Inhibitor) Inhibited(key string, labels map[string]string) *alertgate.Hold {
	if len(i.rules) == 0 {
		return nil
	}
	i.mu.RLock()
	defer i.mu.RUnlock()
	if len(i.byEntry) == 0 {
		return nil // no source fires
	}
	// Per distinct target matchers: 0 not evaluated, 1 match, 2 no match;
	// per distinct equal labels: their hash, once computed.
	var tbuf [16]uint8
	var ebuf [4]string
	matched, hashes := tbuf[:0], ebuf[:0]
	if len(i.targets) <= len(tbuf) {
		matched = tbuf[:len(i.targets)]
	} else {
		matched = make([]uint8, len(i.targets))
	}
	if len(i.equals) <= len(ebuf) {
		hashes = ebuf[:len(i.equals)]
	} else {
		hashes = make([]string, len(i.equals))
	}
	for r, rule := range i.rules {
		if len(i.firing[r]) == 0 {
			continue
		}
		t := i.target[r]
		if matched[t] == 0 {
			matched[t] = 2
			if rule.Target.Matches(labels) {
				matched[t] = 1
			}
		}
		if matched[t] != 1 {
			continue
		}
		e := i.equal[r]
		if hashes[e] == "" {
			hashes[e] = equalHash(rule.Equal, labels)
		}
		for k, s := range i.firing[r][hashes[e]] {
			if k == key {
				continue
			}
			what := s.Key
			if s.Title != "" {
				what = strconv.Quote(s.Title) + " (" + s.Key + ")"
			}
			return &alertgate.Hold{Reason: alertgate.HoldInhibited, By: s.Key, Rule: "inhibit_rules[" + strconv.Itoa(r) + "]",
				Detail: fmt.Sprintf("inhibited by firing incident %s (inhibit_rules[%d], equal %s)", what, r, equalString(rule.Equal, labels))}
		}
	}
	return nil
}

// Firing returns the firing sources known here.
func (i *Inhibitor) Firing() []Source {
	i.mu.RLock()
	defer i.mu.RUnlock()
	out := make([]Source, 0, len(i.byEntry))
	for _, s := range i.byEntry {
		out = append(out, s)
	}
	return out
}

// equalHash identifies the values of the equal labels (absent is "").
func equalHash(names []string, labels map[string]string) string {
	if len(names) == 0 {
		return "-"
	}
	h := sha256.New()
	for _, n := range names {
		v := labels[n]
		h.Write([]byte(strconv.Itoa(len(v))))
		h.Write([]byte{':'})
		h.Write([]byte(v))
	}
	return hex.EncodeToString(h.Sum(nil)[:12])
}

func equalString(names []string, labels map[string]string) string {
	if len(names) == 0 {
		return "{}"
	}
	parts := make([]string, len(names))
	for j, n := range names {
		parts[j] = n + "=" + strconv.Quote(labels[n])
	}
	return "{" + strings.Join(parts, ", ") + "}"
}

// entryKey is the KV key of a source: rule, equal labels, key (hashed:
// KV keys take few characters).
func entryKey(s Source) string {
	sum := sha256.Sum256([]byte(s.Key))
	return "r" + strconv.Itoa(s.Rule) + "." + s.Equal + "." + hex.EncodeToString(sum[:16])
}
