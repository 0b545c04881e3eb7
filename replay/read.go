package replay

import (
	"context"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"
)

// readBatch is how many messages the ordered consumer asks for at once:
// enough to keep the server ahead of the decisions.
const readBatch = 4096

// readStream calls fn with every message of stream on subjects, from the
// first, in sequence order, up to the last one stored when it started.
// It reads through an ordered consumer: an ephemeral, unacknowledged
// consumer the server drops when it ends, which writes nothing to the
// stream (a durable consumer would be state of its own, and acknowledging
// would move nothing anyone else reads).
func readStream(ctx context.Context, js jetstream.JetStream, stream string, subjects []string, fn func(data []byte) error) error {
	s, err := js.Stream(ctx, stream)
	if err != nil {
		return fmt.Errorf("read %s: %w", stream, err)
	}
	last := s.CachedInfo().State.LastSeq
	cons, err := js.OrderedConsumer(ctx, stream, jetstream.OrderedConsumerConfig{
		FilterSubjects: subjects,
		DeliverPolicy:  jetstream.DeliverAllPolicy,
	})
	if err != nil {
		return fmt.Errorf("read %s: %w", stream, err)
	}
	info := cons.CachedInfo()
	if info == nil || info.NumPending == 0 {
		return nil
	}
	it, err := cons.Messages(jetstream.PullMaxMessages(readBatch))
	if err != nil {
		return fmt.Errorf("read %s: %w", stream, err)
	}
	defer it.Stop()
	for {
		m, err := it.Next(jetstream.NextContext(ctx))
		if err != nil {
			return fmt.Errorf("read %s: %w", stream, err)
		}
		md, err := m.Metadata()
		if err != nil {
			return fmt.Errorf("read %s: %w", stream, err)
		}
		if err := fn(m.Data()); err != nil {
			return err
		}
		// The history as it stood when the replay started: what arrives
		// meanwhile is the live router's business.
		if md.NumPending == 0 || md.Sequence.Stream >= last {
			return nil
		}
	}
}
