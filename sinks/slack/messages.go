package slack

// A digest posted by the Slack app is remembered in the KV bucket
// "slack_messages": the digest as it was rendered (its model, so that it
// can be rendered again with what became of its items), the channel and
// ts Slack gave it, and a version that counts the changes to show. Each
// listed key has an index entry naming the posted digests that list it, so
// a resolve or a button press finds the messages to edit. The Digester
// writes a record before it stores the digest; the App fills in channel
// and ts once Slack took it; the Updater and the Actions bump the version
// with each change; an edit (chat.update) renders the version it read and
// records it, so several changes coalesce into one edit and an edit
// redelivered after a restart finds it already shown.

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// BucketMessages holds the posted digests and the index of their keys.
const BucketMessages = "slack_messages"

// messagesTTL is how long a posted digest can be edited: past a week, a
// change is news for the next digest, not an edit of an old one.
const messagesTTL = 7 * 24 * time.Hour

// maxIndexed bounds the digests one key's index entry lists (the newest).
const maxIndexed = 20

// Message is a digest as the Slack app posted it.
type Message struct {
	ID      string `json:"id"`
	Team    string `json:"team"`
	Channel string `json:"channel,omitempty"`
	TS      string `json:"ts,omitempty"`
	Digest  Digest `json:"digest"`
	// Version counts the changes of Digest.States; Rendered is the
	// version Slack shows.
	Version  int `json:"version"`
	Rendered int `json:"rendered"`
}

// Posted reports whether Slack took the message.
func (m *Message) Posted() bool { return m.TS != "" }

// Keys are the keys the message lists: the incidents paged and the bug
// classes, those the buttons act on.
func (m *Message) Keys() []string {
	var keys []string
	for _, in := range m.Digest.Opened {
		keys = append(keys, in.Key)
	}
	for _, l := range [][]Bug{m.Digest.New, m.Digest.Regressions, m.Digest.Spikes, m.Digest.Recurring} {
		for _, b := range l {
			keys = append(keys, b.Key)
		}
	}
	slices.Sort(keys)
	return slices.Compact(keys)
}

// Messages is the store of posted digests.
type Messages struct {
	kv jetstream.KeyValue
}

// OpenMessages creates (or binds to) the bucket.
func OpenMessages(ctx context.Context, js jetstream.JetStream, replicas int) (*Messages, error) {
	kv, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket: BucketMessages, Description: "digests posted by the Slack app, and which list a key",
		History: 1, TTL: messagesTTL, Storage: jetstream.FileStorage, Replicas: max(replicas, 1),
	})
	if err != nil {
		return nil, fmt.Errorf("kv %s: %w", BucketMessages, err)
	}
	return &Messages{kv: kv}, nil
}

// hashed makes a KV key of any string (digest IDs and alert keys hold
// characters KV keys may not).
func hashed(prefix, s string) string {
	sum := sha256.Sum256([]byte(s))
	return prefix + hex.EncodeToString(sum[:16])
}

func messageKey(id string) string { return hashed("m.", id) }
func indexKey(key string) string  { return hashed("k.", key) }

// Create stores a digest's record before it is posted; a record already
// there (a flush repeated after a crash) is kept.
func (s *Messages) Create(ctx context.Context, m Message) error {
	b, err := json.Marshal(m)
	if err != nil {
		return err
	}
	if _, err := s.kv.Create(ctx, messageKey(m.ID), b); err != nil && !errors.Is(err, jetstream.ErrKeyExists) {
		return fmt.Errorf("store digest record %s: %w", m.ID, err)
	}
	return nil
}

// Get returns the record of digest id (nil if none) and its revision.
func (s *Messages) Get(ctx context.Context, id string) (*Message, uint64, error) {
	e, err := s.kv.Get(ctx, messageKey(id))
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil, 0, nil
	}
	if err != nil {
		return nil, 0, err
	}
	m := new(Message)
	if err := json.Unmarshal(e.Value(), m); err != nil {
		return nil, 0, fmt.Errorf("digest record %s: %w", id, err)
	}
	return m, e.Revision(), nil
}

// Change applies change to the record of digest id by compare-and-set,
// again on a conflict; change returns false to write nothing. It returns
// the record as written (or found, when change wrote nothing; nil if there
// is none).
func (s *Messages) Change(ctx context.Context, id string, change func(*Message) bool) (*Message, bool, error) {
	for range 10 {
		m, rev, err := s.Get(ctx, id)
		if err != nil || m == nil {
			return nil, false, err
		}
		if !change(m) {
			return m, false, nil
		}
		b, err := json.Marshal(m)
		if err != nil {
			return nil, false, err
		}
		_, err = s.kv.Update(ctx, messageKey(id), b, rev)
		if err == nil {
			return m, true, nil
		}
		if !errors.Is(err, jetstream.ErrKeyExists) {
			return nil, false, fmt.Errorf("digest record %s: %w", id, err)
		}
	}
	return nil, false, fmt.Errorf("digest record %s: too many concurrent changes", id)
}

// Index adds digest id to the index entries of keys.
func (s *Messages) Index(ctx context.Context, id string, keys []string) error {
	var errs []error
	for _, key := range keys {
		if err := s.index(ctx, key, id); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func (s *Messages) index(ctx context.Context, key, id string) error {
	k := indexKey(key)
	for range 10 {
		var ids []string
		e, err := s.kv.Get(ctx, k)
		switch {
		case errors.Is(err, jetstream.ErrKeyNotFound):
		case err != nil:
			return err
		default:
			if err := json.Unmarshal(e.Value(), &ids); err != nil {
				return fmt.Errorf("index of %s: %w", key, err)
			}
		}
		if slices.Contains(ids, id) {
			return nil
		}
		ids = append(ids, id)
		ids = ids[max(0, len(ids)-maxIndexed):]
		b, _ := json.Marshal(ids)
		if e == nil {
			_, err = s.kv.Create(ctx, k, b)
		} else {
			_, err = s.kv.Update(ctx, k, b, e.Revision())
		}
		if err == nil {
			return nil
		}
		if !errors.Is(err, jetstream.ErrKeyExists) && !errors.Is(err, jetstream.ErrKeyNotFound) {
			return fmt.Errorf("index of %s: %w", key, err)
		}
	}
	return fmt.Errorf("index of %s: too many concurrent changes", key)
}

// Listing returns the posted digests that list key, oldest first.
func (s *Messages) Listing(ctx context.Context, key string) ([]string, error) {
	e, err := s.kv.Get(ctx, indexKey(key))
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var ids []string
	return ids, json.Unmarshal(e.Value(), &ids)
}
