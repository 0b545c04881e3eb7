package dedup

import (
	"fmt"

	"github.com/alertgate/alertgate"
	"github.com/alertgate/alertgate/internal/wire"
)

// State entries are stored in wire's binary encoding: a bug class in
// about half the bytes of its JSON document, decoded several times
// faster, which is what a walk of a million classes (the bug list, the
// status page, the digest) and the server's caches of them pay for.
// Entries written as JSON, by earlier versions, are read as they are and
// written back in binary at their next change.

// Formats of the binary state values (wire.NewEnc). Each only grows at
// its end (wire.Binary).
const (
	formatBug      = 1
	formatIncident = 2
)

// MarshalState encodes a state entry (*Bug or *Incident) as the policy
// stores it; any other value as JSON (wire.Marshal).
func MarshalState(v any) ([]byte, error) {
	switch s := v.(type) {
	case *Bug:
		return s.appendBinary(nil)
	case *Incident:
		return s.appendBinary(nil)
	}
	return wire.Marshal(v)
}

// UnmarshalState decodes a stored state entry into v (*Bug or *Incident),
// whichever encoding it was written in.
func UnmarshalState(data []byte, v any) error {
	if !wire.IsBinary(data) {
		return wire.Unmarshal(data, v)
	}
	return decodeBinary(data, v, true)
}

// unmarshalView is UnmarshalState for a walk: the outbox (the router's
// bookkeeping, which no view shows) is left out of binary entries, so a
// class whose last decision is not yet settled costs a walk no more than
// any other.
func unmarshalView(data []byte, v any) error {
	if !wire.IsBinary(data) {
		return wire.Unmarshal(data, v)
	}
	return decodeBinary(data, v, false)
}

func decodeBinary(data []byte, v any, outbox bool) error {
	switch s := v.(type) {
	case *Bug:
		return s.decodeBinary(data, outbox)
	case *Incident:
		return s.decodeBinary(data, outbox)
	}
	return fmt.Errorf("binary value for %T", v)
}

func (s *Bug) appendBinary(buf []byte) ([]byte, error) {
	e := wire.NewEnc(buf, formatBug)
	e.String(s.Key)
	e.String(string(s.Source))
	e.String(s.Title)
	e.String(s.Service)
	e.String(s.Team)
	e.String(string(s.Severity))
	e.Count(len(s.Links), s.Links == nil)
	for _, l := range s.Links {
		e.String(l.Href)
		e.String(l.Text)
	}
	e.String(s.Status)
	e.Time(s.FirstSeen)
	e.Time(s.LastSeen)
	e.Int(s.Count)
	e.Bool(s.Notified)
	e.Int(int64(s.Resolutions))
	e.Int(int64(s.Regressions))
	e.Time(s.WindowStart)
	e.Int(s.WindowCount)
	e.Bool(s.SpikeNotified)
	e.Int(int64(s.Spikes))
	e.String(s.PageDedupKey)
	e.String(s.PageTeam)
	e.Int(s.Digested)
	e.String(s.HeldBy)
	appendLast(e, &s.Last)
	if err := appendOutbox(e, s.Outbox); err != nil {
		return nil, err
	}
	return e.B, nil
}

func (s *Bug) decodeBinary(data []byte, outbox bool) error {
	d := wire.NewDec(data)
	if d.Err() == nil && d.Format != formatBug {
		return fmt.Errorf("bug state: binary format %d", d.Format)
	}
	*s = Bug{}
	s.Key = d.String()
	s.Source = alertgate.Source(d.String())
	s.Title = d.String()
	s.Service = d.String()
	s.Team = d.String()
	s.Severity = alertgate.Severity(d.String())
	if n, isNil := d.Count(); !isNil {
		s.Links = make([]alertgate.Link, n)
		for i := range s.Links {
			s.Links[i] = alertgate.Link{Href: d.String(), Text: d.String()}
		}
	}
	s.Status = d.String()
	s.FirstSeen = d.Time()
	s.LastSeen = d.Time()
	s.Count = d.Int()
	s.Notified = d.Bool()
	s.Resolutions = int(d.Int())
	s.Regressions = int(d.Int())
	s.WindowStart = d.Time()
	s.WindowCount = d.Int()
	s.SpikeNotified = d.Bool()
	s.Spikes = int(d.Int())
	s.PageDedupKey = d.String()
	s.PageTeam = d.String()
	s.Digested = d.Int()
	s.HeldBy = d.String()
	decodeLast(d, &s.Last)
	s.Outbox = decodeOutbox(d, outbox)
	if err := d.Err(); err != nil {
		return fmt.Errorf("bug state: %w", err)
	}
	return nil
}

func (s *Incident) appendBinary(buf []byte) ([]byte, error) {
	e := wire.NewEnc(buf, formatIncident)
	e.String(s.Key)
	e.String(string(s.Source))
	e.String(s.Title)
	e.String(s.Service)
	e.String(s.Team)
	e.String(string(s.Severity))
	e.Count(len(s.Episodes), s.Episodes == nil)
	for i := range s.Episodes {
		ep := &s.Episodes[i]
		e.String(ep.ID)
		e.String(ep.Status)
		e.Int(int64(ep.Cycle))
		e.Time(ep.OpenedAt)
		e.Time(ep.ResolvedAt)
		e.String(ep.DedupKey)
		e.String(ep.Runbook)
		e.Bool(ep.Paged)
		e.String(ep.Team)
		appendHold(e, ep.Hold)
		// A held episode's firing event: rare, kept as JSON.
		e.Bool(ep.Event != nil)
		if ep.Event != nil {
			if err := e.JSON(ep.Event); err != nil {
				return nil, err
			}
		}
	}
	appendLast(e, &s.Last)
	e.Bool(s.Flap != nil)
	if f := s.Flap; f != nil {
		e.Time(f.Since)
		e.String(f.Episode)
		e.Int(int64(f.Cycle))
		e.String(f.DedupKey)
		e.String(f.Team)
		e.Int(int64(f.Episodes))
		e.Time(f.ResolveDue)
	}
	if err := appendOutbox(e, s.Outbox); err != nil {
		return nil, err
	}
	return e.B, nil
}

func (s *Incident) decodeBinary(data []byte, outbox bool) error {
	d := wire.NewDec(data)
	if d.Err() == nil && d.Format != formatIncident {
		return fmt.Errorf("incident state: binary format %d", d.Format)
	}
	*s = Incident{}
	s.Key = d.String()
	s.Source = alertgate.Source(d.String())
	s.Title = d.String()
	s.Service = d.String()
	s.Team = d.String()
	s.Severity = alertgate.Severity(d.String())
	if n, isNil := d.Count(); !isNil {
		s.Episodes = make([]Episode, n)
		for i := range s.Episodes {
			ep := &s.Episodes[i]
			ep.ID = d.String()
			ep.Status = d.String()
			ep.Cycle = int(d.Int())
			ep.OpenedAt = d.Time()
			ep.ResolvedAt = d.Time()
			ep.DedupKey = d.String()
			ep.Runbook = d.String()
			ep.Paged = d.Bool()
			ep.Team = d.String()
			ep.Hold = decodeHold(d)
			if d.Bool() {
				ep.Event = new(alertgate.Event)
				d.JSON(ep.Event)
			}
		}
	}
	decodeLast(d, &s.Last)
	if d.Bool() {
		s.Flap = &Flap{Since: d.Time(), Episode: d.String(), Cycle: int(d.Int()), DedupKey: d.String(), Team: d.String(), Episodes: int(d.Int()), ResolveDue: d.Time()}
	}
	s.Outbox = decodeOutbox(d, outbox)
	if err := d.Err(); err != nil {
		return fmt.Errorf("incident state: %w", err)
	}
	return nil
}

func appendLast(e *wire.Enc, l *Last) {
	e.String(l.EventID)
	e.String(l.Outcome)
	e.String(l.Reason)
	e.Int(int64(l.Route))
	e.String(l.Runbook)
	e.Time(l.At)
	e.String(l.Transition)
	e.String(l.Episode)
	appendHold(e, l.Hold)
	e.Labels(l.Labels)
}

func decodeLast(d *wire.Dec, l *Last) {
	l.EventID = d.String()
	l.Outcome = d.String()
	l.Reason = d.String()
	l.Route = int(d.Int())
	l.Runbook = d.String()
	l.At = d.Time()
	l.Transition = d.String()
	l.Episode = d.String()
	l.Hold = decodeHold(d)
	l.Labels = d.Labels()
}

func appendHold(e *wire.Enc, h *alertgate.Hold) {
	e.Bool(h != nil)
	if h != nil {
		e.String(h.Reason)
		e.String(h.By)
		e.String(h.Rule)
		e.String(h.Detail)
	}
}

func decodeHold(d *wire.Dec) *alertgate.Hold {
	if !d.Bool() {
		return nil
	}
	return &alertgate.Hold{Reason: d.String(), By: d.String(), Rule: d.String(), Detail: d.String()}
}

// The outbox is transient (its entries leave once their message is
// acknowledged, usually at the key's next write) and holds whole events
// and notifications: kept as JSON inside the binary value, empty when
// there is none.
func appendOutbox(e *wire.Enc, outbox []Pending) error {
	if len(outbox) == 0 {
		e.Bytes(nil)
		return nil
	}
	return e.JSON(outbox)
}

func decodeOutbox(d *wire.Dec, keep bool) []Pending {
	if !keep {
		d.Bytes()
		return nil
	}
	var out []Pending
	d.JSON(&out)
	if len(out) == 0 {
		return nil
	}
	return out
}
