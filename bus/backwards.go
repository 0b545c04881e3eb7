package bus

import (
	"context"
	"errors"

	"github.com/nats-io/nats.go/jetstream"
)

// Backwards calls visit for the messages of s from the newest to the
// oldest, skipping deleted ones, until visit has accepted limit of them
// (visit returns false for a message it does not count). The notification
// log and the dead-letter list read newest first this way.
func Backwards(ctx context.Context, s jetstream.Stream, limit int, visit func(*jetstream.RawStreamMsg) bool) error {
	info, err := s.Info(ctx)
	if err != nil {
		return err
	}
	n := 0
	for seq := info.State.LastSeq; seq >= info.State.FirstSeq && seq > 0 && n < limit; seq-- {
		m, err := s.GetMsg(ctx, seq)
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			continue
		}
		if err != nil {
			return err
		}
		if visit(m) {
			n++
		}
	}
	return nil
}
