package main

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
)

// microPackages hold the *_bench_test.go micro-benchmarks.
var microPackages = []string{"./ingest/alertmanager", "./ingest/sentry", "./ingest/datadog", "./routes", "./dedup", "./related"}

// micro is one `go test -bench` result line.
type micro struct {
	Pkg, Name   string
	N           int64
	NsOp        float64
	BytesOp     float64
	AllocsOp    float64
	Extra       map[string]float64 // custom metrics (b.ReportMetric)
	ExtraOrder  []string
	HasMem      bool
	FailureText string
}

// runMicro runs the micro-benchmarks (no tests) and parses their output.
func runMicro(root, benchtime string) ([]micro, string, error) {
	// -p 1: one package at a time, or two benchmarks share the cores.
	args := append([]string{"test", "-p", "1", "-run", "^$", "-bench", ".", "-benchmem", "-benchtime", benchtime, "-count", "1"}, microPackages...)
	cmd := exec.Command("go", args...)
	cmd.Dir = root
	cmd.Env = os.Environ()
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return parseBench(out.String()), out.String(), err
}

func parseBench(out string) []micro {
	var res []micro
	pkg := ""
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "pkg: ") {
			pkg = strings.TrimPrefix(strings.TrimPrefix(line, "pkg: "), "github.com/alertgate/alertgate/")
			continue
		}
		if !strings.HasPrefix(line, "Benchmark") {
			continue
		}
		f := strings.Fields(line)
		if len(f) < 4 {
			continue
		}
		n, err := strconv.ParseInt(f[1], 10, 64)
		if err != nil {
			continue
		}
		m := micro{Pkg: pkg, Name: trimProcs(f[0]), N: n, Extra: map[string]float64{}}
		for i := 2; i+1 < len(f); i += 2 {
			v, err := strconv.ParseFloat(f[i], 64)
			if err != nil {
				continue
			}
			switch unit := f[i+1]; unit {
			case "ns/op":
				m.NsOp = v
			case "B/op":
				m.BytesOp, m.HasMem = v, true
			case "allocs/op":
				m.AllocsOp = v
			default:
				m.Extra[unit] = v
				m.ExtraOrder = append(m.ExtraOrder, unit)
			}
		}
		res = append(res, m)
	}
	return res
}

// trimProcs drops the -GOMAXPROCS suffix of a benchmark name.
func trimProcs(name string) string {
	if i := strings.LastIndexByte(name, '-'); i > 0 {
		if _, err := strconv.Atoi(name[i+1:]); err == nil {
			return name[:i]
		}
	}
	return name
}

func fmtNs(ns float64) string {
	switch {
	case ns >= 1e6:
		return fmt.Sprintf("%.2f ms", ns/1e6)
	case ns >= 1e3:
		return fmt.Sprintf("%.1f µs", ns/1e3)
	}
	return fmt.Sprintf("%.0f ns", ns)
}
