package main

import (
	"fmt"
	"io"
	"math"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/alertgate/alertgate"
	"github.com/alertgate/alertgate/bench/loadgen"
)

// Targets of the issue, checked against figures of the same run.
const (
	targetStormVsAM = 10.0 // batched storms; at 1/request the ceiling below
	// targetStormVsBare: the 1 alert/request storm, every alert paged,
	// against the bare net/http handler's rate on the same machine.
	targetStormVsBare = 0.25
	// targetE2EVsFloor: end-to-end p99 at 50% of alertgate's storm max
	// against the bare forwarder's p99 at the same rate.
	targetE2EVsFloor = 3.0
	targetBatchVsJS  = 0.5
	targetIdleRSS    = 50e6
	targetClassesRSS = 250e6
	// targetBugsView: GET /v1/bugs answers at the target's bug classes.
	targetBugsView    = time.Second
	targetReady       = time.Second
	targetBenchFinish = 10 * time.Minute
)

// num formats with thousands separators.
func num(v float64) string {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return "–"
	}
	neg := v < 0
	s := fmt.Sprintf("%.0f", math.Abs(v))
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

func ratio(a, b float64) string {
	if b <= 0 || a < 0 {
		return "–"
	}
	r := a / b
	switch {
	case r >= 10:
		return fmt.Sprintf("%.0f×", r)
	case r >= 1:
		return fmt.Sprintf("%.1f×", r)
	}
	return fmt.Sprintf("%.2f×", r)
}

func ms(d time.Duration) string {
	switch {
	case d <= 0:
		return "–"
	case d >= 10*time.Second:
		return fmt.Sprintf("%.1f s", d.Seconds())
	case d >= time.Second:
		return fmt.Sprintf("%.2f s", d.Seconds())
	case d >= 10*time.Millisecond:
		return fmt.Sprintf("%.0f ms", float64(d)/1e6)
	}
	return fmt.Sprintf("%.1f ms", float64(d)/1e6)
}

func mbs(b int64) string {
	if b <= 0 {
		return "–"
	}
	return fmt.Sprintf("%.0f MB", float64(b)/1e6)
}

func verdict(ok bool) string {
	if ok {
		return "met"
	}
	return "**MISSED**"
}

type table struct {
	head []string
	rows [][]string
}

func (t *table) add(cells ...string) { t.rows = append(t.rows, cells) }

func (t *table) print(w io.Writer) {
	width := make([]int, len(t.head))
	for i, h := range t.head {
		width[i] = len([]rune(h))
	}
	for _, r := range t.rows {
		for i, c := range r {
			if i < len(width) && len([]rune(c)) > width[i] {
				width[i] = len([]rune(c))
			}
		}
	}
	line := func(cells []string) {
		var b strings.Builder
		b.WriteString("|")
		for i := range width {
			c := ""
			if i < len(cells) {
				c = cells[i]
			}
			b.WriteString(" " + c + strings.Repeat(" ", width[i]-len([]rune(c))) + " |")
		}
		fmt.Fprintln(w, b.String())
	}
	line(t.head)
	sep := make([]string, len(width))
	for i := range sep {
		sep[i] = strings.Repeat("-", width[i])
	}
	line(sep)
	for _, r := range t.rows {
		line(r)
	}
	fmt.Fprintln(w)
}

// ceilingFor is the binding ceiling of an ingest run: JetStream publish in
// the mode alertgate uses for that batch size (sync for one event, async
// for several), or the bare HTTP handler, whichever is lower.
func ceilingFor(res *results, batch int) (float64, string) {
	js, jsName := res.JSSync.PerSec(), "JetStream sync"
	if batch > 1 {
		js, jsName = res.JSAsync.PerSec(), "JetStream async"
	}
	if bare, ok := res.Bare[batch]; ok && bare.AlertsPerSec() > 0 && (js <= 0 || bare.AlertsPerSec() < js) {
		return bare.AlertsPerSec(), "net/http"
	}
	return js, jsName
}

func findRun(runs []ingestRun, w loadgen.Workload, batch int) *ingestRun {
	for i := range runs {
		if runs[i].Workload == w && runs[i].Batch == batch && runs[i].Err == "" {
			return &runs[i]
		}
	}
	return nil
}

// findIngest is alertgate's run of src, w and batch, if it succeeded.
func findIngest(runs []ingestRun, src loadgen.Source, w loadgen.Workload, batch int) *ingestRun {
	for i := range runs {
		if runs[i].Source == src && runs[i].Workload == w && runs[i].Batch == batch && runs[i].Err == "" {
			return &runs[i]
		}
	}
	return nil
}

type check struct {
	what, figure string
	ok           bool
}

func printReport(w io.Writer, res *results, o options) {
	var checks []check
	fmt.Fprintf(w, "\n## alertgate benchmark — %s\n\n", res.Started.Format("2006-01-02 15:04 UTC"))
	fmt.Fprintf(w, "command: %s (make bench-full)\n", res.Command)
	fmt.Fprintf(w, "machine: %s\n", res.Machine.String())
	fmt.Fprintf(w, "load: concurrency %d, %s warm-up, %s measured per run, each run on a fresh process (temp data dir); ceilings %s\n\n",
		res.Settings.Concurrency, res.Settings.Warmup, res.Settings.Duration, res.Settings.CeilingDuration)

	// 1. Ceilings.
	fmt.Fprintln(w, "### 1. Ceilings (same machine, same run)")
	fmt.Fprintln(w)
	t := &table{head: []string{"ceiling", "rate", "note"}}
	if res.JSSync.Msgs > 0 {
		t.add("JetStream publish, sync", num(res.JSSync.PerSec())+" msg/s",
			fmt.Sprintf("%d publishers, one PublishMsg at a time; %d B message with Nats-Msg-Id; alertgate's bus.Open (embedded, file store) %s", res.Settings.Concurrency, res.JSSync.MsgSize, res.JSSync.Err))
	}
	if res.JSAsync.Msgs > 0 {
		t.add("JetStream publish, async", num(res.JSAsync.PerSec())+" msg/s",
			fmt.Sprintf("%d publishers × %d in flight, then wait for every ack %s", res.Settings.Concurrency, res.Settings.Batch, res.JSAsync.Err))
	}
	if r := res.JSSyncBatched; r.Msgs > 0 {
		t.add(fmt.Sprintf("JetStream publish, sync, %d events per message", res.Settings.Batch), num(r.PerSec())+" msg/s",
			fmt.Sprintf("= %s alerts/s; as alertgate stores a %d-alert webhook: one %d B message (a JSON array of the event above) %s", num(r.PerSec()*float64(res.Settings.Batch)), res.Settings.Batch, r.MsgSize, r.Err))
	}
	for _, batch := range sortedKeys(res.Bare) {
		r := res.Bare[batch]
		t.add(fmt.Sprintf("bare net/http handler, %d alert(s)/request", batch), num(r.RequestsPerSec())+" req/s",
			fmt.Sprintf("= %s alerts/s; p99 %s; reads the body, answers 202; separate process", num(r.AlertsPerSec()), ms(r.P99)))
	}
	t.print(w)

	// 2-3. Ingest.
	fmt.Fprintln(w, "### 2–3. Ingest: alerts/s answered 2xx (alertgate: 202 after every JetStream ack) vs a real Alertmanager fed the same alerts")
	fmt.Fprintln(w)
	t = &table{head: []string{"source", "workload", "alerts/req", "alertgate alerts/s", "new stored", "p99", "ceiling", "÷ ceiling", "Alertmanager alerts/s", "AM p99", "÷ AM", "target"}}
	for _, r := range res.Ingest {
		if r.Err != "" {
			t.add(string(r.Source), string(r.Workload), fmt.Sprint(r.Batch), "error: "+truncate(r.Err, 60))
			continue
		}
		rate := r.Result.AlertsPerSec()
		ceil, ceilName := ceilingFor(res, r.Batch)
		am := findRun(res.Alertmanager, r.Workload, r.Batch)
		amRate, amP99, vsAM := "–", "–", "–"
		target := ""
		if am != nil {
			amRate, amP99, vsAM = num(am.Result.AlertsPerSec()), ms(am.Result.P99), ratio(rate, am.Result.AlertsPerSec())
		}
		if r.Source == loadgen.Alertmanager {
			var parts []string
			if r.Workload == loadgen.Storm && r.Batch == 1 {
				bare := res.Bare[1].AlertsPerSec()
				ok := bare > 0 && rate >= targetStormVsBare*bare
				parts = append(parts, fmt.Sprintf("≥%.0f%% net/http: %s", 100*targetStormVsBare, verdict(ok)))
				checks = append(checks, check{fmt.Sprintf("storm 1/req, every alert paged, ≥ %.0f%% of the bare net/http ceiling", 100*targetStormVsBare),
					fmt.Sprintf("%s (%s of %s alerts/s)", ratio(rate, bare), num(rate), num(bare)), ok})
			}
			if am != nil {
				need := 1.0
				if r.Workload == loadgen.Storm {
					need = targetStormVsAM
					if r.Batch == 1 {
						need = 1
					}
				}
				ok := rate >= need*am.Result.AlertsPerSec()
				figure, beyond := vsAM, ""
				if ceil > 0 && ceil < need*am.Result.AlertsPerSec() {
					// Not even the machine's ceiling for this shape of
					// request reaches the target.
					beyond = fmt.Sprintf(" (the %s ceiling is %s AM)", ceilName, ratio(ceil, am.Result.AlertsPerSec()))
					figure += beyond
				}
				parts = append(parts, fmt.Sprintf("≥%g× AM: %s%s", need, verdict(ok), beyond))
				checks = append(checks, check{fmt.Sprintf("%s %d/req ≥ %g× Alertmanager", r.Workload, r.Batch, need), figure, ok})
			}
			if r.Batch > 1 && res.JSAsync.Msgs > 0 {
				ok := rate >= targetBatchVsJS*res.JSAsync.PerSec()
				parts = append(parts, fmt.Sprintf("≥50%% async: %s", verdict(ok)))
				checks = append(checks, check{fmt.Sprintf("%s %d/req ≥ 50%% of async publish", r.Workload, r.Batch), ratio(rate, res.JSAsync.PerSec()), ok})
			}
			target = strings.Join(parts, "; ")
		}
		newShare := "–"
		if r.Result.Alerts > 0 {
			newShare = fmt.Sprintf("%.0f%%", 100*float64(r.Result.Accepted)/float64(r.Result.Alerts))
		}
		t.add(string(r.Source), string(r.Workload), fmt.Sprint(r.Batch), num(rate), newShare, ms(r.Result.P99),
			num(ceil)+" ("+ceilName+")", ratio(rate, ceil), amRate, amP99, vsAM, target)
	}
	t.print(w)
	fmt.Fprintln(w, "Sentry and Datadog send one event per webhook, hence 1 alert/request; their ÷ AM compares with Alertmanager's run of the same workload.")
	if base := findRun(res.AlertmanagerBaseline, loadgen.Storm, 1); base != nil {
		line := fmt.Sprintf("Second column: Alertmanager %s, storm 1 alert/request: %s alerts/s, p99 %s", res.Machine.AlertmanagerBaseline, num(base.Result.AlertsPerSec()), ms(base.Result.P99))
		if am := findRun(res.Alertmanager, loadgen.Storm, 1); am != nil {
			line += fmt.Sprintf(" (the latest release runs at %s of it", ratio(am.Result.AlertsPerSec(), base.Result.AlertsPerSec()))
			if ag := findIngest(res.Ingest, loadgen.Alertmanager, loadgen.Storm, 1); ag != nil {
				line += fmt.Sprintf("; alertgate at %s", ratio(ag.Result.AlertsPerSec(), base.Result.AlertsPerSec()))
			}
			line += ")"
		}
		fmt.Fprintln(w, line+".")
	}
	fmt.Fprintln(w, "\"new stored\": share of alerts stored as new; the rest were re-sends, answered as duplicates from alertgate's memory: of the same bytes (no parse, no publish), of the same event IDs (no publish), or, past that memory, by JetStream's Nats-Msg-Id check (one publish round trip).")
	fmt.Fprintln(w)
	// Per-run resources.
	cpuAvail := float64(res.Machine.Cores) * (res.Settings.Warmup + res.Settings.Duration).Seconds()
	t = &table{head: []string{"run", fmt.Sprintf("alertgate CPU s (of %.0f on the machine)", cpuAvail), "alertgate RSS after", "pages/notifications out", "Alertmanager CPU s", "Alertmanager RSS after", "AM notifications out"}}
	for _, r := range res.Ingest {
		if r.Source != loadgen.Alertmanager {
			continue
		}
		am := findRun(res.Alertmanager, r.Workload, r.Batch)
		row := []string{fmt.Sprintf("%s %d/req", r.Workload, r.Batch), fmt.Sprintf("%.1f", r.CPU.Seconds()), mbs(r.Mem.RSS), num(float64(r.Notified))}
		if am != nil {
			row = append(row, fmt.Sprintf("%.1f", am.CPU.Seconds()), mbs(am.Mem.RSS), num(float64(am.Notified)))
		}
		t.add(row...)
	}
	if len(t.rows) > 0 {
		t.print(w)
	}

	// 4. End to end.
	fmt.Fprintln(w, "### 4. End to end: alert sent → notification request arrives (alertgate: loopback PagerDuty; Alertmanager: webhook receiver)")
	fmt.Fprintln(w)
	t = &table{head: []string{"system", "offered rate", "basis", "sent", "delivered", "p50", "p99", "max", "p99 ÷ AM", "p99 ÷ floor", fmt.Sprintf("target p99 ≤ %g× floor", targetE2EVsFloor)}}
	var amP99 time.Duration
	if e := res.E2EAlertmanager; e != nil {
		amP99 = e.P99
	}
	for _, x := range []struct {
		name string
		e    *e2eResult
	}{{"alertgate", res.E2EAlertgate}, {"alertgate (reference)", res.E2EAlertgateSustained}, {"floor: bare forwarder", res.E2EFloor}, {"Alertmanager", res.E2EAlertmanager}} {
		e := x.e
		if e == nil {
			continue
		}
		p99 := ms(e.P99)
		if e.P99Undelivered {
			p99 = "> " + ms(e.Waited) + " (undelivered)"
		}
		target, vs, vsFloor := "", "–", "–"
		floor := res.E2EFloor
		if floor != nil && !floor.P99Undelivered && floor.P99 > 0 && !e.P99Undelivered && x.name != "floor: bare forwarder" {
			vsFloor = ratio(float64(e.P99), float64(floor.P99))
		}
		if x.name == "alertgate" {
			ok := floor != nil && !floor.P99Undelivered && floor.P99 > 0 && !e.P99Undelivered && e.Sent > 0 &&
				float64(e.P99) <= targetE2EVsFloor*float64(floor.P99)
			target = verdict(ok)
			checks = append(checks, check{fmt.Sprintf("end-to-end p99 at 50%% load ≤ %g× the bare forwarder's p99", targetE2EVsFloor), vsFloor + " (" + p99 + ")", ok})
		}
		if x.name != "Alertmanager" && amP99 > 0 && !e.P99Undelivered {
			vs = ratio(float64(e.P99), float64(amP99))
		}
		t.add(x.name, num(e.Rate)+" alerts/s", e.Basis, num(float64(e.Sent)), num(float64(e.Delivered)), ms(e.P50), p99, ms(e.Max), vs, vsFloor, target)
	}
	t.print(w)
	if e := res.E2EAlertgate; e != nil && e.Invalid > 0 {
		fmt.Fprintf(w, "PagerDuty requests rejected by the Events API v2 schema: %d\n\n", e.Invalid)
	}

	// 5. Memory and start.
	fmt.Fprintln(w, "### 5. Memory and start")
	fmt.Fprintln(w)
	t = &table{head: []string{"measure", "alertgate", "floor", "÷ floor", "Alertmanager", "÷ AM", "target"}}
	if m := res.Memory; m != nil {
		ok := m.Idle.RSS > 0 && m.Idle.RSS <= targetIdleRSS
		checks = append(checks, check{"idle RSS ≤ 50 MB", mbs(m.Idle.RSS), ok})
		t.add("RSS idle (2 s after ready)", mbs(m.Idle.RSS), mbs(res.BareIdle.RSS), ratio(float64(m.Idle.RSS), float64(res.BareIdle.RSS)),
			mbs(res.AlertmanagerIdle.RSS), ratio(float64(m.Idle.RSS), float64(res.AlertmanagerIdle.RSS)), "≤ 50 MB: "+verdict(ok))
		amStorm := findRun(res.Alertmanager, loadgen.Storm, 1)
		amNote, amRSS := "–", int64(0)
		if amStorm != nil {
			amRSS = amStorm.Mem.RSS
			amNote = fmt.Sprintf("%s after %s new alerts", mbs(amRSS), num(float64(amStorm.Result.Alerts)))
		}
		if len(m.Samples) > 0 {
			t.add(fmt.Sprintf("RSS after %s distinct bug classes (measured, in %s)", num(float64(m.Classes)), ms(m.Elapsed)), mbs(m.Final.RSS), "–", "–", amNote, "–", "")
		}
		if m.Classes >= m.Target {
			ok := m.Final.RSS <= targetClassesRSS
			figure, floor, byFloor, why := mbs(m.Final.RSS), "–", "–", ""
			if f := m.Floor; f != nil {
				floor, byFloor = mbs(f.RSS), ratio(float64(m.Final.RSS), float64(f.RSS))
				figure += fmt.Sprintf(" (floor: %s)", mbs(f.RSS))
				if !ok && f.RSS > targetClassesRSS {
					why = " (the floor alone is over it)"
				}
			}
			checks = append(checks, check{"RSS after 1,000,000 bug classes ≤ 250 MB", figure, ok})
			t.add(fmt.Sprintf("RSS after %s bug classes", num(float64(m.Target))), mbs(m.Final.RSS), floor, byFloor, "–", "–", "≤ 250 MB: "+verdict(ok)+why)
		} else if m.Projected > 0 {
			ok := m.Projected <= targetClassesRSS
			checks = append(checks, check{"RSS after 1,000,000 bug classes ≤ 250 MB (EXTRAPOLATED)", mbs(m.Projected), ok})
			t.add(fmt.Sprintf("RSS after %s bug classes — EXTRAPOLATED, linear fit from %s classes (%.0f B/class)", num(float64(m.Target)), num(float64(m.FitFrom)), m.SlopeBytes),
				mbs(m.Projected), "–", "–", "–", "–", "≤ 250 MB: "+verdict(ok)+" (extrapolated)")
		}
		if m.DiskBytes > 0 {
			t.add("data dir on disk after the bug classes", mbs(m.DiskBytes), "–", "–", "–", "–", "")
		}
		for _, r := range m.Reads {
			what := fmt.Sprintf("GET %s at %s bug classes: HTTP %d, %s", r.Path, num(float64(m.Classes)), r.Code, mbs(r.Bytes))
			if r.Failed != "" || r.Err != "" {
				what += "; " + r.Failed + r.Err
			}
			target := ""
			if strings.HasPrefix(r.Path, "/v1/bugs") {
				ok := r.Code == 200 && r.Failed == "" && r.Err == "" && r.Took <= targetBugsView && m.Classes >= m.Target
				target = "≤ 1 s at " + num(float64(m.Target)) + ": " + verdict(ok)
				checks = append(checks, check{fmt.Sprintf("GET /v1/bugs at %s bug classes ≤ 1 s", num(float64(m.Target))),
					fmt.Sprintf("%s at %s classes", ms(r.Took), num(float64(m.Classes))), ok})
			}
			t.add(what, ms(r.Took), "–", "–", "–", "–", target)
		}
		if len(m.Reads) > 0 {
			ok := m.AfterReads.RSS > 0 && m.AfterReads.RSS <= targetClassesRSS && m.Classes >= m.Target
			checks = append(checks, check{fmt.Sprintf("RSS after a walk of /v1/bugs at %s bug classes ≤ 250 MB", num(float64(m.Target))),
				fmt.Sprintf("%s at %s classes", mbs(m.AfterReads.RSS), num(float64(m.Classes))), ok})
			t.add("RSS after those reads", mbs(m.AfterReads.RSS), "–", "–", "–", "–", "≤ 250 MB: "+verdict(ok))
		}
		ready := median(m.Ready)
		ok = ready > 0 && ready <= targetReady
		checks = append(checks, check{"process start → /readyz 200 ≤ 1 s", ms(ready), ok})
		t.add(fmt.Sprintf("start → ready (median of %d; all alertgate starts: median %s, max %s)", len(m.Ready), ms(median(res.AlertgateReady)), ms(maxDur(res.AlertgateReady))),
			ms(ready), ms(res.BareReady), ratio(float64(ready), float64(res.BareReady)),
			ms(median(res.AlertmanagerReady)), ratio(float64(ready), float64(median(res.AlertmanagerReady))), "≤ 1 s: "+verdict(ok))
	}
	t.print(w)
	fmt.Fprintln(w, "Floors: idle RSS and start, a bare net/http process; bug classes, their state entries alone in an embedded JetStream (`benchall kv-floor`: alertgate's bus.Open, each class decided as new by dedup.DecideBug and stored under the key the router uses, nothing else running).")
	if m := res.Memory; m != nil && m.Floor != nil {
		f := m.Floor
		fmt.Fprintf(w, "Floor of %s bug classes: %s entries of %d B stored in %s; RSS %s at the end, live heap %s after a collection.",
			num(float64(f.Entries)), num(float64(f.Entries)), f.ValueBytes, ms(f.Took), mbs(f.RSS), mbs(int64(f.HeapLive)))
		if c := m.FloorCapped; c != nil {
			fmt.Fprintf(w, " With the collector held to GOMEMLIMIT=%s: RSS %s, live heap %s.", floorMemLimit, mbs(c.RSS), mbs(int64(c.HeapLive)))
		}
		fmt.Fprintln(w)
	}
	if m := res.Memory; m != nil && m.FloorErr != "" {
		fmt.Fprintf(w, "Floor of the bug classes: %s\n", m.FloorErr)
	}
	if m := res.Memory; m != nil && len(m.Samples) > 0 {
		var parts []string
		for _, s := range m.Samples {
			parts = append(parts, fmt.Sprintf("%s→%s", num(float64(s.Classes)), mbs(s.RSS)))
		}
		fmt.Fprintf(w, "RSS samples (classes→RSS): %s\n", strings.Join(parts, ", "))
		if len(m.HeapTop) > 0 {
			total := ""
			for _, h := range m.HeapHeader {
				if strings.Contains(h, "total") {
					total = " (" + h + ")"
				}
			}
			fmt.Fprintf(w, "Go heap in use at the end%s, largest flat entries: %s\n", total, flatList(m.HeapTop, len(m.HeapTop)))
		}
		if m.Classes < m.Target {
			fmt.Fprintf(w, "The router decided %s bug classes in the %s budget (%.0f/s): 1,000,000 would take ~%s, beyond the 10-minute run; the 1,000,000 figure above is a linear EXTRAPOLATION, not a measurement.\n",
				num(float64(m.Classes)), ms(o.memBudget), float64(m.Classes)/m.Elapsed.Seconds(), ms(time.Duration(float64(m.Target)/(float64(m.Classes)/m.Elapsed.Seconds())*float64(time.Second))))
		}
		if m.Err != "" {
			fmt.Fprintf(w, "memory phase error: %s\n", m.Err)
		}
		fmt.Fprintln(w)
	}

	// 6. Holds.
	if h := res.Holds; h != nil {
		checks = append(checks, printHolds(w, h)...)
	}

	// 7. Related signals.
	if r := res.Related; r != nil {
		checks = append(checks, printRelated(w, r)...)
	}

	// Micro-benchmarks.
	if len(res.Micro) > 0 {
		fmt.Fprintf(w, "### Go micro-benchmarks (go test -bench, -benchtime %s)\n\n", o.benchtime)
		t = &table{head: []string{"package", "benchmark", "time/op", "B/op", "allocs/op", "other"}}
		for _, m := range res.Micro {
			var extra []string
			for _, k := range m.ExtraOrder {
				extra = append(extra, fmt.Sprintf("%s %s", num(m.Extra[k]), k))
			}
			t.add(m.Pkg, strings.TrimPrefix(m.Name, "Benchmark"), fmtNs(m.NsOp), num(m.BytesOp), num(m.AllocsOp), strings.Join(extra, ", "))
		}
		t.print(w)
	}

	// Profiles.
	if len(res.Profiles) > 0 {
		fmt.Fprintln(w, "### Where the CPU goes (pprof of alertgate's app.Gateway in a child process, same config)")
		fmt.Fprintln(w)
		for _, p := range res.Profiles {
			if p.Err != "" {
				fmt.Fprintf(w, "%s: error %s\n\n", p.Name, p.Err)
				continue
			}
			fmt.Fprintf(w, "**%s** — %s: %s alerts/s; profile %s\n\n", p.Name, p.Load, num(p.Result.AlertsPerSec()), p.CPUFile)
			for _, h := range p.Header {
				if strings.HasPrefix(h, "Duration:") || strings.HasPrefix(h, "Showing") && strings.Contains(h, "total") {
					fmt.Fprintf(w, "    %s\n", h)
				}
			}
			t = &table{head: []string{"stage (cumulative share of CPU samples)", "%"}}
			for _, s := range p.Stages {
				if s.Share >= 0.5 {
					t.add(s.Name, fmt.Sprintf("%.1f", s.Share))
				}
			}
			for _, s := range p.Flat {
				t.add("flat: "+s.Name, fmt.Sprintf("%.1f", s.Share))
			}
			t.print(w)
			fmt.Fprintf(w, "top flat: %s\n\n", flatList(p.Top, 8))
			if p.Name == "bugs" && len(p.HeapTop) > 0 {
				fmt.Fprintf(w, "heap in use at the end (inuse_space, flat): %s\n\n", flatList(p.HeapTop, 6))
			}
		}
	}

	checks = append(checks, printReplay(w, res.Replay)...)

	// Targets.
	fmt.Fprintln(w, "### Targets (ratios from this run)")
	fmt.Fprintln(w)
	t = &table{head: []string{"target", "figure", "verdict"}}
	for _, c := range checks {
		t.add(c.what, c.figure, verdict(c.ok))
	}
	t.add("whole benchmark under 10 minutes on this machine", ms(res.Total)+" (benchall; plus the build)", verdict(res.Total < targetBenchFinish))
	t.print(w)
	var phases []string
	for _, p := range res.PhaseTimes {
		phases = append(phases, fmt.Sprintf("%s %s", p.Name, ms(p.Took)))
	}
	fmt.Fprintf(w, "phases: %s; profiles and results.json in %s\n", strings.Join(phases, ", "), o.out)
	for _, e := range res.Errors {
		fmt.Fprintf(w, "ERROR %s\n", e)
	}
}

// printHolds is the holds section: the median of each variant's rounds,
// the ratio with ÷ without and the verdict, then every round.
func printHolds(w io.Writer, h *holdsResult) []check {
	fmt.Fprintf(w, "### 6. Holds: %s active silences and %d inhibit rules (storm 1/req and end to end, with ÷ without)\n\n", num(float64(h.Indexed+h.Scanned)), h.Rules)
	without, with, stormRatio, p99Ratio, ok := printABTable(w, h.Runs, "without holds",
		fmt.Sprintf("with %s silences, %d inhibit rules", num(float64(h.Indexed+h.Scanned)), h.Rules), "with ÷ without")
	figure := fmt.Sprintf("storm %s, e2e p99 %s", ratio2(stormRatio), ratio2(p99Ratio))
	printABRounds(w, h.Runs, "without", "with")
	var held float64
	for _, r := range h.Runs {
		if r.Err == "" {
			held += r.held()
		}
	}
	fmt.Fprintf(w, "With: %d inhibit_rules appended to bench/alertgate.yaml, each rule's target matchers matching every storm alert (service=\"checkout\", severity=~\"critical|error\"; equal: [instance]) "+
		"and one firing source on another instance (incidents via /v1/ingest/events, paged before the load), so every storm event computes every rule's lookup; "+
		"%s active silences via POST /v1/silences, %s with equality matchers (alertname=\"Maintenance\", service=\"svc-N\": indexed) and %d with only a regex on instance (checked for every event), none matching the storm; "+
		"set up in %s (median) after start, before the load. End-to-end rate: %s.\n",
		h.Rules, num(float64(h.Indexed+h.Scanned)), num(float64(h.Indexed)), h.Scanned, ms(medianD(abSetups(h.Runs))), h.RateBasis)
	printABProfiles(w, h.Profiles)
	switch {
	case without.Runs == 0 || with.Runs == 0:
		fmt.Fprintln(w, "Not every variant completed a round: no verdict.")
	case without.Undelivered || with.Undelivered || held > 0:
		fmt.Fprintf(w, "ERROR: pages were held or lost (decisions held by a silence or an inhibit rule: %.0f; delivered without %d of %d, with %d of %d).\n",
			held, without.Delivered, without.Sent, with.Delivered, with.Sent)
	default:
		fmt.Fprintln(w, "Every page arrived in both variants (delivered = sent), and no decision was held: the holds match none of the alerts.")
	}
	fmt.Fprintln(w)
	return []check{{fmt.Sprintf("storm 1/req and end-to-end p99 with %s silences and %d inhibit rules within 10%% of without", num(float64(h.Indexed+h.Scanned)), h.Rules), figure, ok}}
}

// printRelated is the related section: the median of each variant's
// rounds, the ratio on ÷ off and the verdict, every round, and how many
// pages carried the related lists.
func printRelated(w io.Writer, r *relatedResult) []check {
	fmt.Fprintln(w, "### 7. Related signals on every page (storm 1/req and end to end, correlation on ÷ off)")
	fmt.Fprintln(w)
	without, with, stormRatio, p99Ratio, ok := printABTable(w, r.Runs, "correlation off",
		fmt.Sprintf("correlation on, %s bug classes and %d incidents related", num(float64(r.BugClasses)), r.Incidents), "on ÷ off")
	figure := fmt.Sprintf("storm %s, e2e p99 %s", ratio2(stormRatio), ratio2(p99Ratio))
	printABRounds(w, r.Runs, "off", "on")
	var stormPages, stormListed, e2ePages, e2eListed, offCarried float64
	var unlisted int
	for _, run := range r.Runs {
		switch {
		case run.Err != "":
		case run.With:
			if run.StormProbe < 1 {
				unlisted++
			}
			stormPages += float64(run.StormPages)
			stormListed += run.StormProbe
			e2ePages += float64(run.E2EPages)
			e2eListed += run.E2EProbe
		default:
			offCarried += run.StormProbe + run.E2EProbe
		}
	}
	fmt.Fprintf(w, "On: correlation as by default (labels [%s], window %s); before the load, %d bug classes of service %q (%d occurrences each) and %d open incidents of it via /v1/ingest/events, "+
		"decided and paged, and one incident's GET /v1/incidents/{key} listing them all, in %s (median) after start; the storm's alerts are service %q too, so each page lists %d bug classes and %d incidents, counting the rest. "+
		"Off: correlation: {labels: []} appended to bench/alertgate.yaml. End-to-end rate: %s.\n",
		strings.Join(r.Labels, ", "), r.Window, r.BugClasses, relatedService, r.Occurrences, r.Incidents, ms(medianD(abSetups(r.Runs))),
		relatedService, alertgate.MaxRelated, alertgate.MaxRelated, r.RateBasis)
	if stormPages > 0 && e2ePages > 0 {
		fmt.Fprintf(w, "Pages listing related bug classes, on: storm %s of %s (%.0f%%), end to end %s of %s (%.0f%%, warm-ups included); pages carrying related signals, off: %s.\n",
			num(stormListed), num(stormPages), 100*stormListed/stormPages, num(e2eListed), num(e2ePages), 100*e2eListed/e2ePages, num(offCarried))
	}
	printABProfiles(w, r.Profiles)
	switch {
	case without.Runs == 0 || with.Runs == 0:
		fmt.Fprintln(w, "Not every variant completed a round: no verdict.")
	case without.Undelivered || with.Undelivered || offCarried > 0 || unlisted > 0:
		fmt.Fprintf(w, "ERROR: pages were lost or wrong (delivered off %d of %d, on %d of %d; storm runs on whose pages list no bug class: %d; pages carrying related, off: %s).\n",
			without.Delivered, without.Sent, with.Delivered, with.Sent, unlisted, num(offCarried))
	default:
		fmt.Fprintln(w, "Every page arrived in both variants (delivered = sent); with correlation on the storm's pages list related bug classes, with it off no page carries related signals.")
	}
	fmt.Fprintln(w)
	return []check{{fmt.Sprintf("storm 1/req and end-to-end p99 with related signals on every page (%s bug classes, %d incidents) within 10%% of correlation off", num(float64(r.BugClasses)), r.Incidents), figure, ok}}
}

// printABProfiles is the note of --ab-profile: the profiles, and where
// "with" spent more CPU than "without" at the same rate.
func printABProfiles(w io.Writer, p *abProfiles) {
	if p == nil {
		return
	}
	if p.Err != "" {
		fmt.Fprintf(w, "CPU profiles (--ab-profile): error %s.\n", truncate(p.Err, 120))
		return
	}
	var stages []string
	for _, s := range p.Stages {
		if math.Abs(s.Share) >= 0.5 {
			stages = append(stages, fmt.Sprintf("%s %+.1f", strings.TrimSpace(s.Name), s.Share))
		}
	}
	var flat []string
	for _, e := range p.DiffFlat[:min(len(p.DiffFlat), 8)] {
		flat = append(flat, fmt.Sprintf("%s %+.1f", shortFunc(e.Name), e.Flat))
	}
	fmt.Fprintf(w, "CPU profiles (--ab-profile: one more end-to-end run of each variant at the same rate on a CPU-profiled alertgate, `benchall gateway`, from start to stop, setup included): %s %s (%s, %s sent), %s %s (%s, %s sent). "+
		"Where %s spends more than %s, in %% of %s's total (go tool pprof -diff_base): by stage (cumulative) %s; by function (flat) %s.\n",
		p.Without, filepath.Base(p.Files[0]), p.Totals[0], num(float64(p.Sent[0])), p.With, filepath.Base(p.Files[1]), p.Totals[1], num(float64(p.Sent[1])),
		p.With, p.Without, p.Without, strings.Join(stages, ", "), strings.Join(flat, ", "))
}

// printABTable prints an A/B phase's table: the median of each variant's
// rounds in a row named withoutRow and withRow, then their ratio, named
// ratioRow, with the verdict (abVerdict).
func printABTable(w io.Writer, runs []abRun, withoutRow, withRow, ratioRow string) (without, with abSummary, stormRatio, p99Ratio float64, ok bool) {
	without, with = summarize(runs, false), summarize(runs, true)
	stormRatio, p99Ratio, ok = abVerdict(without, with)
	t := &table{head: []string{"alertgate", "storm alerts/s", "storm p99", "e2e offered rate", "e2e delivered/sent (all rounds)", "e2e p50", "e2e p99", "verdict"}}
	row := func(name string, s abSummary) {
		if s.Runs == 0 {
			t.add(name, "no run completed")
			return
		}
		p99 := ms(s.P99)
		if s.Undelivered {
			p99 += " (pages undelivered)"
		}
		t.add(fmt.Sprintf("%s (median of %d)", name, s.Runs), num(s.StormRate), ms(s.StormP99), num(s.E2ERate)+" alerts/s",
			fmt.Sprintf("%s/%s", num(float64(s.Delivered)), num(float64(s.Sent))), ms(s.P50), p99, "")
	}
	row(withoutRow, without)
	row(withRow, with)
	t.add(ratioRow, ratio2(stormRatio), ratio2(float64(with.StormP99)/float64(without.StormP99)), "same rate", "",
		ratio2(float64(with.P50)/float64(without.P50)), ratio2(p99Ratio), fmt.Sprintf("within %.0f%%: %s", 100*abTolerance, verdict(ok)))
	t.print(w)
	return without, with, stormRatio, p99Ratio, ok
}

// printABRounds prints every round of an A/B phase in the order run (each
// variant called by its short name), then alertgate's CPU per storm alert
// of each variant.
func printABRounds(w io.Writer, runs []abRun, withoutShort, withShort string) {
	var rounds []string
	for _, r := range runs {
		s := fmt.Sprintf("%s %d: ", map[bool]string{false: withoutShort, true: withShort}[r.With], r.Round)
		if r.Err != "" {
			rounds = append(rounds, s+"error "+truncate(r.Err, 80))
			continue
		}
		s += fmt.Sprintf("storm %s/s p99 %s CPU %s/alert", num(r.Storm.AlertsPerSec()), ms(r.Storm.P99), us(r.StormCPUPerAlert))
		if e := r.E2E; e != nil {
			s += fmt.Sprintf(", e2e p50 %s p99 %s %s/%s", ms(e.P50), ms(e.P99), num(float64(e.Delivered)), num(float64(e.Sent)))
			if e.CutOff > 0 {
				s += fmt.Sprintf(" (+%d cut off unanswered at the end of the load, not counted)", e.CutOff)
			}
		}
		rounds = append(rounds, s)
	}
	fmt.Fprintf(w, "Rounds in the order run, each on fresh processes: %s.\n", strings.Join(rounds, "; "))
	without, with := summarize(runs, false), summarize(runs, true)
	if without.CPUPerAlert > 0 && with.CPUPerAlert > 0 {
		fmt.Fprintf(w, "alertgate CPU per storm alert (its CPU over the warm-up and window ÷ the alerts at the window's rate, median): %s %s, %s %s (%s).\n",
			withoutShort, us(without.CPUPerAlert), withShort, us(with.CPUPerAlert), ratio2(float64(with.CPUPerAlert)/float64(without.CPUPerAlert)))
	}
}

// abSetups are the setup times of the "with" runs that completed.
func abSetups(runs []abRun) []time.Duration {
	var setups []time.Duration
	for _, r := range runs {
		if r.With && r.Err == "" {
			setups = append(setups, r.Setup)
		}
	}
	return setups
}

// us formats a short duration in µs.
func us(d time.Duration) string {
	if d <= 0 {
		return "–"
	}
	return fmt.Sprintf("%.0f µs", float64(d)/1e3)
}

// ratio2 is a ratio with two decimals, for comparisons near 1.
func ratio2(r float64) string {
	if r <= 0 || math.IsNaN(r) || math.IsInf(r, 0) {
		return "–"
	}
	return fmt.Sprintf("%.2f×", r)
}

// shortFunc drops the module prefixes of a function name and the type
// arguments of a generic one (stree.newLeaf[…]).
func shortFunc(name string) string {
	name = strings.TrimPrefix(name, "github.com/")
	name = strings.TrimPrefix(name, "alertgate/alertgate/")
	name = strings.TrimPrefix(name, "nats-io/nats-server/v2/")
	if short, _, generic := strings.Cut(name, "["); generic {
		name = short + "[…]"
	}
	return name
}

// flatList is the first n entries as "function share%", comma-separated.
func flatList(es []pprofEntry, n int) string {
	parts := make([]string, 0, min(n, len(es)))
	for _, e := range es[:min(n, len(es))] {
		parts = append(parts, fmt.Sprintf("%s %.1f%%", shortFunc(e.Name), e.Flat))
	}
	return strings.Join(parts, ", ")
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

func maxDur(ds []time.Duration) time.Duration {
	var m time.Duration
	for _, d := range ds {
		m = max(m, d)
	}
	return m
}

func sortedKeys[V any](m map[int]V) []int {
	ks := make([]int, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Ints(ks)
	return ks
}
