package bus

import (
	"context"
	"hash/fnv"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Partitions handles messages on several goroutines while keeping the
// order that matters: messages with the same Alertgate-Key header (one
// incident's firing and resolve, one bug class's occurrences) go to the
// same goroutine, in arrival order. A stage's throughput is then bounded by
// its round trips to JetStream and the sinks divided by n, not summed.
type Partitions struct {
	queues []chan jetstream.Msg
	wg     sync.WaitGroup
}

// NewPartitions starts n goroutines running handle; each queues up to depth
// messages (a full queue blocks Dispatch: back-pressure on the consumer).
func NewPartitions(n, depth int, handle func(jetstream.Msg)) *Partitions {
	if n < 1 {
		n = 1
	}
	p := &Partitions{queues: make([]chan jetstream.Msg, n)}
	for i := range p.queues {
		q := make(chan jetstream.Msg, depth)
		p.queues[i] = q
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			for m := range q {
				handle(m)
			}
		}()
	}
	return p
}

// Dispatch queues m on its key's goroutine.
func (p *Partitions) Dispatch(m jetstream.Msg) {
	key := ""
	if h := m.Headers(); h != nil {
		key = h.Get(HeaderKey)
	}
	f := fnv.New32a()
	_, _ = f.Write([]byte(key))
	p.queues[f.Sum32()%uint32(len(p.queues))] <- m
}

// Close handles what is queued, then stops. Dispatch must not be called
// after Close.
func (p *Partitions) Close() {
	for _, q := range p.queues {
		close(q)
	}
	p.wg.Wait()
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
