package main

import (
	"bufio"
	"context"
	"fmt"
	"log/slog"
	"math"
	"os"
	"os/exec"
	"os/signal"
	"regexp"
	"runtime"
	"runtime/pprof"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/alertgate/alertgate/config"
	"github.com/alertgate/alertgate/internal/app"
)

// serveProfiled is the child process of the profile phase: alertgate's own
// app.Gateway, as cmd/alertgate serve assembles it (same config, same JSON
// log to stdout), with a CPU profile from start to SIGTERM and a heap
// profile at SIGTERM. The production binary exposes no pprof endpoint.
func serveProfiled(args []string) error {
	if len(args) != 3 {
		return fmt.Errorf("usage: benchall gateway CONFIG CPU_PROFILE HEAP_PROFILE")
	}
	cfg, err := config.LoadFile(args[0])
	if err != nil {
		return err
	}
	logger := slog.New(slog.NewJSONHandler(os.Stdout, nil))
	slog.SetDefault(logger)
	cpu, err := os.Create(args[1])
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	g := app.New(cfg, logger)
	if err := g.Start(ctx); err != nil {
		return err
	}
	if err := pprof.StartCPUProfile(cpu); err != nil {
		return err
	}
	<-ctx.Done()
	pprof.StopCPUProfile()
	if err := cpu.Close(); err != nil {
		return err
	}
	runtime.GC()
	heap, err := os.Create(args[2])
	if err != nil {
		return err
	}
	if err := pprof.Lookup("heap").WriteTo(heap, 0); err != nil {
		return err
	}
	return heap.Close()
}

// stopProfiled asks the child to write its profiles and waits for it.
func stopProfiled(p *proc) {
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
	case <-time.After(30 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.exited
	}
	_ = os.RemoveAll(p.dir)
}

// pprofEntry is one line of `go tool pprof -top`.
type pprofEntry struct {
	Flat, Cum float64 // percent of the total
	Name      string
}

// Values are negative in a -diff_base profile.
var pprofLine = regexp.MustCompile(`^\s*(-?[\d.]+)(\w*)\s+(-?[\d.]+)%\s+(-?[\d.]+)%\s+(-?[\d.]+)(\w*)\s+(-?[\d.]+)%\s+(.+)$`)

// pprofTop runs go tool pprof -top (sorted by flat, or by cum) and
// returns the entries and the header lines.
func pprofTop(profile string, cum bool, extra ...string) ([]pprofEntry, []string, error) {
	args := []string{"tool", "pprof", "-top", "-nodecount=400"}
	if cum {
		args = append(args, "-cum")
	}
	args = append(args, extra...)
	args = append(args, profile)
	out, err := exec.Command("go", args...).Output()
	if err != nil {
		return nil, nil, fmt.Errorf("go tool pprof: %w", err)
	}
	entries, header := parsePprofTop(string(out))
	return entries, header, nil
}

// parsePprofTop reads the output of go tool pprof -top.
func parsePprofTop(out string) (entries []pprofEntry, header []string) {
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		line := sc.Text()
		m := pprofLine.FindStringSubmatch(line)
		if m == nil {
			if len(entries) == 0 && strings.TrimSpace(line) != "" {
				header = append(header, strings.TrimSpace(line))
			}
			continue
		}
		flat, _ := strconv.ParseFloat(m[3], 64)
		c, _ := strconv.ParseFloat(m[7], 64)
		// A -diff_base profile signs the values, not the percentages.
		if strings.HasPrefix(m[1], "-") {
			flat = -math.Abs(flat)
		}
		if strings.HasPrefix(m[5], "-") {
			c = -math.Abs(c)
		}
		entries = append(entries, pprofEntry{Flat: flat, Cum: c, Name: strings.TrimSpace(m[8])})
	}
	return entries, header
}

// stage is a group of functions the CPU time is attributed to: the
// largest cumulative share of any function matching one of the prefixes.
type stage struct {
	name     string
	prefixes []string
}

// stages of alertgate's pipeline, as they appear in a CPU profile.
var stages = []stage{
	{"HTTP ingest handler (auth, read, parse, publish, answer)", []string{"github.com/alertgate/alertgate/web.Recoverer", "github.com/alertgate/alertgate/ingest.(*Handler).handle"}},
	{"  parse (source payload -> events)", []string{"github.com/alertgate/alertgate/ingest.alertmanagerParser.Parse", "github.com/alertgate/alertgate/ingest.datadogParser.Parse", "github.com/alertgate/alertgate/ingest.eventsParser.Parse", "github.com/alertgate/alertgate/ingest.sentryParser.Parse"}},
	{"  publish to ALERTS and wait for acks (client side)", []string{"github.com/alertgate/alertgate/bus.(*Bus).PublishEvents"}},
	{"router: decode, classify, route, policy", []string{"github.com/alertgate/alertgate/routes.(*Router).handle"}},
	{"  policy (KV get, decide, KV create/update)", []string{"github.com/alertgate/alertgate/dedup.(*Policy).Apply"}},
	{"  related signals: the page's lists", []string{"github.com/alertgate/alertgate/routes.(*Router).related"}},
	{"  related signals: record the incident", []string{"github.com/alertgate/alertgate/related.(*Index).ObserveIncident"}},
	{"  emit notifications (NOTIFY + log KV)", []string{"github.com/alertgate/alertgate/routes.(*Router).Emit"}},
	{"  decision log line (slog)", []string{"log/slog.(*Logger).Info"}},
	{"sink workers (PagerDuty pages, Slack digests)", []string{"github.com/alertgate/alertgate/sinks.(*Worker).handle"}},
	{"related index: watch the bucket into memory", []string{"github.com/alertgate/alertgate/related.(*Index).Start.func1"}},
	{"digest loop (read items, render, store)", []string{"github.com/alertgate/alertgate/sinks/slack.(*Digester).loop"}},
	{"embedded NATS server: client connections (parse, route, ack)", []string{"github.com/nats-io/nats-server/v2/server.(*client).readLoop"}},
	{"embedded NATS server: stream store (JetStream)", []string{"github.com/nats-io/nats-server/v2/server.(*stream).processInboundJetStreamMsg", "github.com/nats-io/nats-server/v2/server.(*stream).internalLoop"}},
	{"embedded NATS server: file store writes", []string{"github.com/nats-io/nats-server/v2/server.(*fileStore).StoreMsg", "github.com/nats-io/nats-server/v2/server.(*fileStore).storeRawMsg"}},
	{"embedded NATS server: consumers deliver", []string{"github.com/nats-io/nats-server/v2/server.(*consumer).loopAndGatherMsgs"}},
	{"nats.go client: read loop (acks, deliveries)", []string{"github.com/nats-io/nats%2ego.(*Conn).readLoop", "github.com/nats-io/nats.go.(*Conn).readLoop"}},
	{"net/http server: connection handling", []string{"net/http.(*conn).serve"}},
	{"garbage collection (background mark)", []string{"runtime.gcBgMarkWorker"}},
	{"scheduler (findRunnable, idle)", []string{"runtime.schedule", "runtime.findRunnable"}},
}

// flatGroups add up flat time by function prefix.
var flatGroups = []stage{
	{"syscalls (write/read/fsync…)", []string{"internal/runtime/syscall/", "syscall.", "runtime/internal/syscall."}},
	{"encoding/json", []string{"encoding/json."}},
	{"memory allocation", []string{"runtime.mallocgc", "runtime.memclrNoHeapPointers", "runtime.(*mheap)", "runtime.(*mcache)", "runtime.nextFreeFast"}},
	{"GC scanning", []string{"runtime.scanobject", "runtime.findObject", "runtime.greyobject", "runtime.(*gcBits)", "runtime.markBits", "runtime.scanblock", "runtime.(*mspan)"}},
	{"futex/scheduling", []string{"runtime.futex", "runtime.usleep", "runtime.procyield", "runtime.osyield", "runtime.(*lfstack)", "runtime.tgkill"}},
}

type stageShare struct {
	Name  string
	Share float64
}

// stageShares is each stage's share: the largest cumulative share of a
// function it names (entries of pprofTop, by cum); of a -diff_base
// profile, the largest in magnitude, with its sign.
func stageShares(entries []pprofEntry) []stageShare {
	var cum []stageShare
	for _, s := range stages {
		best := 0.0
		for _, e := range entries {
			for _, p := range s.prefixes {
				if strings.HasPrefix(e.Name, p) && math.Abs(e.Cum) > math.Abs(best) {
					best = e.Cum
				}
			}
		}
		cum = append(cum, stageShare{s.name, best})
	}
	return cum
}

// cpuBreakdown summarizes a CPU profile by stage (cumulative) and by
// function group (flat).
func cpuBreakdown(profile string) (cum, flat []stageShare, top []pprofEntry, header []string, err error) {
	entries, header, err := pprofTop(profile, true)
	if err != nil {
		return nil, nil, nil, nil, err
	}
	cum = stageShares(entries)
	flatEntries, _, err := pprofTop(profile, false)
	if err != nil {
		return nil, nil, nil, nil, err
	}
	for _, g := range flatGroups {
		sum := 0.0
		for _, e := range flatEntries {
			for _, p := range g.prefixes {
				if strings.HasPrefix(e.Name, p) {
					sum += e.Flat
					break
				}
			}
		}
		flat = append(flat, stageShare{g.name, sum})
	}
	sort.SliceStable(flatEntries, func(i, j int) bool { return flatEntries[i].Flat > flatEntries[j].Flat })
	if len(flatEntries) > 12 {
		flatEntries = flatEntries[:12]
	}
	return cum, flat, flatEntries, header, nil
}
