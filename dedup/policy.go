package dedup

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/alertgate/alertgate"
	"github.com/alertgate/alertgate/routes"
)

// Emit durably stores notifications; it must be idempotent per
// notification ID (JetStream's Nats-Msg-Id makes it so).
type Emit func(ctx context.Context, ns []alertgate.Notification) error

// Policy applies decisions against state in KV.
type Policy struct {
	Incidents jetstream.KeyValue
	Bugs      jetstream.KeyValue
	Settings  Settings
	// OnConflict is called when a compare-and-set lost a race (for metrics).
	OnConflict func(bucket string)
}

// maxAttempts bounds retries after CAS conflicts; with a handful of routers
// a key rarely sees more than one or two.
const maxAttempts = 20

// StateKey encodes an event key as a KV key (KV keys allow only
// [-/_=.A-Za-z0-9]; base64url without '.' keeps it one token).
func StateKey(key string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(key))
}

// KeyOf decodes a StateKey.
func KeyOf(stateKey string) (string, error) {
	b, err := base64.RawURLEncoding.DecodeString(stateKey)
	return string(b), err
}

// Apply decides ev against the stored state of its key, emits the
// decision's notifications, then writes the new state by revision. On a
// lost race it re-reads and decides again.
func (p *Policy) Apply(ctx context.Context, ev alertgate.Event, m routes.Match, emit Emit) (Decision, error) {
	kv := p.Bugs
	if ev.Kind == alertgate.KindIncident {
		kv = p.Incidents
	}
	k := StateKey(ev.Key)
	for attempt := 0; attempt < maxAttempts; attempt++ {
		raw, rev, err := get(ctx, kv, k)
		if err != nil {
			return Decision{}, err
		}
		var next any
		var d Decision
		if ev.Kind == alertgate.KindIncident {
			var st *Incident
			if raw != nil {
				st = new(Incident)
				if err := json.Unmarshal(raw, st); err != nil {
					return Decision{}, fmt.Errorf("incident state %q: %w", ev.Key, err)
				}
			}
			next, d = DecideIncident(st, ev, m, p.Settings)
		} else {
			var st *Bug
			if raw != nil {
				st = new(Bug)
				if err := json.Unmarshal(raw, st); err != nil {
					return Decision{}, fmt.Errorf("bug state %q: %w", ev.Key, err)
				}
			}
			next, d = DecideBug(st, ev, m, p.Settings)
		}
		if len(d.Notifications) > 0 {
			if err := emit(ctx, d.Notifications); err != nil {
				return Decision{}, fmt.Errorf("emit: %w", err)
			}
		}
		b, err := json.Marshal(next)
		if err != nil {
			return Decision{}, err
		}
		if rev == 0 {
			_, err = kv.Create(ctx, k, b)
		} else {
			_, err = kv.Update(ctx, k, b, rev)
		}
		if errors.Is(err, jetstream.ErrKeyExists) {
			if p.OnConflict != nil {
				p.OnConflict(kv.Bucket())
			}
			continue
		}
		if err != nil {
			return Decision{}, fmt.Errorf("write state %q: %w", ev.Key, err)
		}
		return d, nil
	}
	return Decision{}, fmt.Errorf("state %q: still conflicting after %d attempts", ev.Key, maxAttempts)
}

func get(ctx context.Context, kv jetstream.KeyValue, k string) ([]byte, uint64, error) {
	e, err := kv.Get(ctx, k)
	switch {
	case errors.Is(err, jetstream.ErrKeyNotFound):
		return nil, 0, nil
	case err != nil:
		return nil, 0, fmt.Errorf("read state: %w", err)
	}
	return e.Value(), e.Revision(), nil
}

// Incident returns the state of an incident key (nil, nil if none).
func (p *Policy) Incident(ctx context.Context, key string) (*Incident, error) {
	raw, _, err := get(ctx, p.Incidents, StateKey(key))
	if err != nil || raw == nil {
		return nil, err
	}
	st := new(Incident)
	return st, json.Unmarshal(raw, st)
}

// Bug returns the state of a bug class (nil, nil if none).
func (p *Policy) Bug(ctx context.Context, key string) (*Bug, error) {
	raw, _, err := get(ctx, p.Bugs, StateKey(key))
	if err != nil || raw == nil {
		return nil, err
	}
	st := new(Bug)
	return st, json.Unmarshal(raw, st)
}

// ListIncidents returns every incident state.
func (p *Policy) ListIncidents(ctx context.Context) ([]*Incident, error) {
	return list[Incident](ctx, p.Incidents)
}

// ListBugs returns every bug class state.
func (p *Policy) ListBugs(ctx context.Context) ([]*Bug, error) {
	return list[Bug](ctx, p.Bugs)
}

func list[T any](ctx context.Context, kv jetstream.KeyValue) ([]*T, error) {
	w, err := kv.WatchAll(ctx, jetstream.IgnoreDeletes())
	if err != nil {
		return nil, err
	}
	defer w.Stop()
	var out []*T
	for e := range w.Updates() {
		if e == nil { // initial values delivered
			break
		}
		v := new(T)
		if err := json.Unmarshal(e.Value(), v); err != nil {
			return nil, fmt.Errorf("%s %s: %w", kv.Bucket(), strings.TrimSpace(e.Key()), err)
		}
		out = append(out, v)
	}
	return out, nil
}
