package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/alertgate/alertgate"
	"github.com/alertgate/alertgate/bench/loadgen"
	"github.com/alertgate/alertgate/bus"
	"github.com/alertgate/alertgate/config"
	"github.com/alertgate/alertgate/dedup"
	"github.com/alertgate/alertgate/ingest/events"
	"github.com/alertgate/alertgate/internal/app"
)

// kvFloor is what runKVFloor reports.
type kvFloor struct {
	Entries    int           `json:"entries"`
	ValueBytes int           `json:"value_bytes"` // of the first entry
	Took       time.Duration `json:"took"`
	RSS        int64         `json:"rss"`       // bytes, at the end of the fill
	HeapLive   uint64        `json:"heap_live"` // bytes in use after a collection
}

// runKVFloor is the floor of the memory target: the bug classes' state
// entries alone, in an embedded JetStream opened by alertgate's own
// bus.Open, with nothing else running. It renders the bench's bug events,
// decides each as a new class (dedup.DecideBug, as the router does), and
// stores the state the router would store under the key it would use.
// It prints a kvFloor as JSON.
func runKVFloor(args []string) error {
	if len(args) != 3 {
		return fmt.Errorf("usage: benchall kv-floor N DATA_DIR FIXTURES_DIR")
	}
	n, err := strconv.Atoi(args[0])
	if err != nil || n < 1 {
		return fmt.Errorf("kv-floor: bad N %q", args[0])
	}
	ctx := context.Background()
	b, err := bus.Open(ctx, bus.Options{DataDir: args[1], Name: "alertgate-kv-floor"}, nil)
	if err != nil {
		return err
	}
	defer b.Close()
	payloads, err := loadgen.NewPayloads(loadgen.Events, runID(), args[2], time.Now())
	if err != nil {
		return err
	}
	settings := app.PolicySettings(config.Default())
	match := alertgate.Match{Team: "payments", RouteWhy: "route 0 matched"}
	var res kvFloor
	start := time.Now()
	var body []byte
	var seqs []uint64
	for from := 0; from < n; from += classesPerRequest {
		body, seqs = renderClasses(payloads, body, seqs, from, min(from+classesPerRequest, n))
		evs, err := events.Parse(body)
		if err != nil {
			return err
		}
		futures := make([]jetstream.PubAckFuture, 0, len(evs))
		for _, ev := range evs {
			st, _ := dedup.DecideBug(nil, ev, match, settings)
			data, err := dedup.MarshalState(st)
			if err != nil {
				return err
			}
			if res.ValueBytes == 0 {
				res.ValueBytes = len(data)
			}
			m := nats.NewMsg("$KV." + bus.BucketBugs + "." + dedup.StateKey(ev.Key))
			m.Data = data
			f, err := b.JS.PublishMsgAsync(m, jetstream.WithStallWait(5*time.Second))
			if err != nil {
				return err
			}
			futures = append(futures, f)
		}
		for _, f := range futures {
			select {
			case <-f.Ok():
			case err := <-f.Err():
				return err
			}
		}
		res.Entries += len(evs)
	}
	res.Took = time.Since(start)
	m, err := readMem(os.Getpid())
	if err != nil {
		return err
	}
	res.RSS = m.RSS
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	res.HeapLive = ms.HeapAlloc
	return json.NewEncoder(os.Stdout).Encode(res)
}

// floorMemLimit is the Go memory limit of the floor's second run: the
// collector held near the target, to see what the entries need when the
// collector leaves next to no headroom.
const floorMemLimit = "230MiB"

// kvFloor runs runKVFloor for n classes in a child process (its RSS is
// its own) on a fresh data dir; memLimit, if set, is its GOMEMLIMIT.
func (b *bench) kvFloor(ctx context.Context, n int, memLimit string) (*kvFloor, error) {
	dir, err := os.MkdirTemp("", "alertgate-kv-floor-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	var out, errOut bytes.Buffer
	cmd := exec.CommandContext(ctx, b.self, "kv-floor", strconv.Itoa(n), filepath.Join(dir, "data"), b.fixtures())
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if memLimit != "" {
		cmd.Env = append(os.Environ(), "GOMEMLIMIT="+memLimit)
	}
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("kv-floor: %w: %s", err, lastLines(errOut.String(), 5))
	}
	var f kvFloor
	if err := json.Unmarshal(out.Bytes(), &f); err != nil {
		return nil, fmt.Errorf("kv-floor output %q: %w", out.String(), err)
	}
	return &f, nil
}
