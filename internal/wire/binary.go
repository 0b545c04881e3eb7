package wire

import (
	"encoding/binary"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"
)

// Binary is the compact encoding of the policy's state entries, where a
// million bug classes make every byte count: no names, varints, times as
// seconds and nanoseconds. A value starts with Magic and a format byte;
// JSON documents start with '{' or white space, never with Magic, so one
// reader takes both (entries written before the binary format stay
// readable, and a rolling upgrade reads what either version wrote).
//
// A format only ever grows at its end: a reader decodes the fields it
// knows and ignores the rest, so a newer writer's entries stay readable,
// as JSON's unknown names are ignored.

// Magic starts every binary value: not a byte JSON text may start with
// (nor valid UTF-8 at all).
const Magic = 0xA7

// IsBinary reports whether data is a binary value (else JSON).
func IsBinary(data []byte) bool { return len(data) > 0 && data[0] == Magic }

// Enc appends a binary value to B.
type Enc struct{ B []byte }

// NewEnc starts a value of the given format in buf (reused from its start).
func NewEnc(buf []byte, format byte) *Enc { return &Enc{B: append(buf[:0], Magic, format)} }

// Uint appends u as a varint.
func (e *Enc) Uint(u uint64) { e.B = binary.AppendUvarint(e.B, u) }

// Int appends i as a zigzag varint.
func (e *Enc) Int(i int64) { e.B = binary.AppendVarint(e.B, i) }

// Bool appends b as one byte.
func (e *Enc) Bool(b bool) {
	if b {
		e.B = append(e.B, 1)
	} else {
		e.B = append(e.B, 0)
	}
}

// String appends s, length first; its bytes are kept as they are.
func (e *Enc) String(s string) {
	e.Uint(uint64(len(s)))
	e.B = append(e.B, s...)
}

// Bytes appends b, length first.
func (e *Enc) Bytes(b []byte) {
	e.Uint(uint64(len(b)))
	e.B = append(e.B, b...)
}

// Time kinds: the zero time, a UTC time, a time with a fixed offset.
const (
	timeZero = iota
	timeUTC
	timeOffset
)

// Time appends t as its instant and its zone offset, which is what a
// JSON round trip (RFC 3339) keeps of it: the zone's name and the
// monotonic reading are not kept.
func (e *Enc) Time(t time.Time) {
	if t.IsZero() {
		e.Uint(timeZero)
		return
	}
	_, off := t.Zone()
	if off == 0 {
		e.Uint(timeUTC)
	} else {
		e.Uint(timeOffset)
		e.Int(int64(off))
	}
	e.Int(t.Unix())
	e.Uint(uint64(t.Nanosecond()))
}

// Count appends the length of a slice or map that may be nil: 0 for
// nil, n+1 for n elements, so that nil and empty decode as they were.
func (e *Enc) Count(n int, isNil bool) {
	if isNil {
		e.Uint(0)
		return
	}
	e.Uint(uint64(n) + 1)
}

// Labels appends m (nil kept apart from empty), keys sorted so the bytes
// do not depend on map order.
func (e *Enc) Labels(m map[string]string) {
	e.Count(len(m), m == nil)
	for _, k := range slices.Sorted(maps.Keys(m)) {
		e.String(k)
		e.String(m[k])
	}
}

// JSON appends v as a length-prefixed JSON document: for the parts of a
// state that are rare or transient (an outbox), not worth a format of
// their own.
func (e *Enc) JSON(v any) error {
	b, err := Marshal(v)
	if err != nil {
		return err
	}
	e.Bytes(b)
	return nil
}

// ErrShort says a binary value ended inside a field.
var ErrShort = errors.New("binary value ends inside a field")

// Dec reads a binary value. The first error sticks: later reads return
// zero values, and Err reports it.
type Dec struct {
	b      []byte
	err    error
	Format byte
}

// NewDec starts reading data, a binary value (IsBinary).
func NewDec(data []byte) *Dec {
	if len(data) < 2 || data[0] != Magic {
		return &Dec{err: errors.New("not a binary value")}
	}
	return &Dec{b: data[2:], Format: data[1]}
}

// Err is the first error met.
func (d *Dec) Err() error { return d.err }

// More reports whether fields are left: a value written by a newer format
// may have more than this reader knows, a value of an older one fewer.
func (d *Dec) More() bool { return d.err == nil && len(d.b) > 0 }

func (d *Dec) fail(err error) {
	if d.err == nil {
		d.err = err
	}
	d.b = nil
}

// Uint reads a varint.
func (d *Dec) Uint() uint64 {
	if d.err != nil {
		return 0
	}
	u, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.fail(ErrShort)
		return 0
	}
	d.b = d.b[n:]
	return u
}

// Int reads a zigzag varint.
func (d *Dec) Int() int64 {
	if d.err != nil {
		return 0
	}
	i, n := binary.Varint(d.b)
	if n <= 0 {
		d.fail(ErrShort)
		return 0
	}
	d.b = d.b[n:]
	return i
}

// Bool reads one byte.
func (d *Dec) Bool() bool {
	if d.err != nil {
		return false
	}
	if len(d.b) == 0 {
		d.fail(ErrShort)
		return false
	}
	v := d.b[0]
	d.b = d.b[1:]
	if v > 1 {
		d.fail(fmt.Errorf("bool byte %d", v))
	}
	return v == 1
}

// take returns the next n bytes.
func (d *Dec) take(n uint64) []byte {
	if d.err != nil {
		return nil
	}
	if n > uint64(len(d.b)) {
		d.fail(ErrShort)
		return nil
	}
	b := d.b[:n:n]
	d.b = d.b[n:]
	return b
}

// String reads a string.
func (d *Dec) String() string { return string(d.take(d.Uint())) }

// Bytes reads a length-prefixed byte string, sharing the value's memory.
func (d *Dec) Bytes() []byte { return d.take(d.Uint()) }

// Time reads a time.
func (d *Dec) Time() time.Time {
	var loc *time.Location
	switch k := d.Uint(); k {
	case timeZero:
		return time.Time{}
	case timeUTC:
		loc = time.UTC
	case timeOffset:
		off := d.Int()
		if off <= -1<<31 || off >= 1<<31 {
			d.fail(fmt.Errorf("zone offset %d", off))
			return time.Time{}
		}
		loc = time.FixedZone("", int(off))
	default:
		d.fail(fmt.Errorf("time kind %d", k))
		return time.Time{}
	}
	sec, nsec := d.Int(), d.Uint()
	if nsec >= 1e9 {
		d.fail(fmt.Errorf("nanoseconds %d", nsec))
	}
	if d.err != nil {
		return time.Time{}
	}
	return time.Unix(sec, int64(nsec)).In(loc)
}

// Count reads what Enc.Count wrote: the length, and whether it was nil.
// A length that the rest of the value cannot hold (each element takes a
// byte at least) is an error, so a corrupt value allocates nothing big.
func (d *Dec) Count() (n int, isNil bool) {
	c := d.Uint()
	if c == 0 {
		return 0, true
	}
	if c-1 > uint64(len(d.b)) {
		d.fail(ErrShort)
		return 0, true
	}
	return int(c - 1), false
}

// Labels reads what Enc.Labels wrote.
func (d *Dec) Labels() map[string]string {
	n, isNil := d.Count()
	if isNil {
		return nil
	}
	m := make(map[string]string, n)
	for range n {
		k := d.String()
		m[k] = d.String()
	}
	if d.err != nil {
		return nil
	}
	return m
}

// JSON reads what Enc.JSON wrote into v; an empty document leaves v as
// it is.
func (d *Dec) JSON(v any) {
	b := d.Bytes()
	if d.err != nil || len(b) == 0 {
		return
	}
	if err := Unmarshal(b, v); err != nil {
		d.fail(err)
	}
}
