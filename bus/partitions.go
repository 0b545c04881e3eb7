package bus

import (
	"context"
	"errors"
	"hash/fnv"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Partitions handles work on several goroutines while keeping the order
// that matters: items with the same key (one incident's firing and
// resolve, one bug class's occurrences) go to the same goroutine, in
// arrival order. A stage's throughput is then bounded by its round trips
// to JetStream and the sinks divided by n, not summed.
type Partitions[T any] struct {
	queues []chan T
	key    func(T) string
	wg     sync.WaitGroup
}

// NewPartitions starts n goroutines running handle; each queues up to depth
// items (a full queue blocks Dispatch: back-pressure on the consumer). key
// names an item's ordering key.
func NewPartitions[T any](n, depth int, key func(T) string, handle func(T)) *Partitions[T] {
	if n < 1 {
		n = 1
	}
	p := &Partitions[T]{queues: make([]chan T, n), key: key}
	for i := range p.queues {
		q := make(chan T, depth)
		p.queues[i] = q
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			for it := range q {
				handle(it)
			}
		}()
	}
	return p
}

// Dispatch queues it on its key's goroutine.
func (p *Partitions[T]) Dispatch(it T) {
	f := fnv.New32a()
	_, _ = f.Write([]byte(p.key(it)))
	p.queues[f.Sum32()%uint32(len(p.queues))] <- it
}

// Close handles what is queued, then stops. Dispatch must not be called
// after Close.
func (p *Partitions[T]) Close() {
	for _, q := range p.queues {
		close(q)
	}
	p.wg.Wait()
}

// MsgKey is a message's Alertgate-Key header, the ordering key of
// Partitions over messages.
func MsgKey(m jetstream.Msg) string {
	if h := m.Headers(); h != nil {
		return h.Get(HeaderKey)
	}
	return ""
}

// Ack acknowledges m and waits for the server to confirm, retrying a few
// times: an acknowledgement lost while a cluster node fails over would
// otherwise leave m to be redelivered after its ack wait (minutes for a
// sink). Redelivery stays harmless; this only saves the wait.
func Ack(ctx context.Context, m jetstream.Msg) error {
	var err error
	for attempt, wait := 0, 50*time.Millisecond; attempt < 4; attempt, wait = attempt+1, wait*4 {
		actx, cancel := context.WithTimeout(ctx, 2*time.Second)
		err = m.DoubleAck(actx)
		cancel()
		if err == nil || ctx.Err() != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(wait):
		}
	}
	return err
}

// Consuming reports whether a stage's consumer consumes: started and not
// stopped. Readiness asks it of every stage.
func Consuming(cc jetstream.ConsumeContext) error {
	if cc == nil {
		return errors.New("not started")
	}
	select {
	case <-cc.Closed():
		return errors.New("stopped consuming")
	default:
		return nil
	}
}
