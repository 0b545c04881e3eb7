package main

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// proc is a child process under measurement.
type proc struct {
	name    string
	cmd     *exec.Cmd
	dir     string // temp dir removed on stop
	url     string
	started time.Time
	ready   time.Duration // from exec to the first ready answer
	stderr  *ring
	exited  chan error
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// ring keeps the last bytes written (a child's stderr, for error reports).
type ring struct {
	mu  sync.Mutex
	buf []byte
}

func (r *ring) Write(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.buf = append(r.buf, p...)
	if len(r.buf) > 16<<10 {
		r.buf = append([]byte(nil), r.buf[len(r.buf)-16<<10:]...)
	}
	return len(p), nil
}

func (r *ring) String() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return string(r.buf)
}

var devNull = func() *os.File {
	f, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		panic(err)
	}
	return f
}()

// start runs bin with args; stdout goes to logFile (or nowhere), stderr is
// kept for errors. It waits until GET readyURL answers 200.
func start(name, bin string, args []string, dir, baseURL, readyPath, logFile string, timeout time.Duration) (*proc, error) {
	p := &proc{name: name, dir: dir, url: baseURL, stderr: &ring{}, exited: make(chan error, 1)}
	p.cmd = exec.Command(bin, args...)
	p.cmd.Dir = dir
	p.cmd.Stdout = devNull
	if logFile != "" {
		f, err := os.Create(logFile)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		p.cmd.Stdout = f
	}
	p.cmd.Stderr = p.stderr
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	client := &http.Client{Timeout: 500 * time.Millisecond}
	p.started = time.Now()
	if err := p.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	go func() { p.exited <- p.cmd.Wait() }()
	deadline := p.started.Add(timeout)
	for {
		resp, err := client.Get(baseURL + readyPath)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				p.ready = time.Since(p.started)
				return p, nil
			}
		}
		select {
		case err := <-p.exited:
			return nil, fmt.Errorf("%s exited before ready: %v\n%s", name, err, p.stderr.String())
		default:
		}
		if time.Now().After(deadline) {
			_ = p.cmd.Process.Kill()
			<-p.exited
			return nil, fmt.Errorf("%s not ready after %s\n%s", name, timeout, p.stderr.String())
		}
		time.Sleep(time.Millisecond)
	}
}

// stop kills the process (a measurement is over; nothing to drain) and
// removes its temp dir.
func (p *proc) stop() {
	if p == nil {
		return
	}
	if p.cmd != nil && p.cmd.Process != nil {
		_ = p.cmd.Process.Kill()
		select {
		case <-p.exited:
		case <-time.After(10 * time.Second):
		}
	}
	if p.dir != "" {
		_ = os.RemoveAll(p.dir)
	}
}

func (p *proc) pid() int { return p.cmd.Process.Pid }

// mem is a process's resident memory, from /proc/<pid>/status.
type mem struct {
	RSS, HWM int64 // bytes
}

func readMem(pid int) (mem, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return mem{}, err
	}
	defer f.Close()
	var m mem
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		field := func(prefix string) int64 {
			v := strings.TrimSpace(strings.TrimSuffix(strings.TrimPrefix(line, prefix), "kB"))
			n, _ := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			return n << 10
		}
		switch {
		case strings.HasPrefix(line, "VmRSS:"):
			m.RSS = field("VmRSS:")
		case strings.HasPrefix(line, "VmHWM:"):
			m.HWM = field("VmHWM:")
		}
	}
	return m, sc.Err()
}

func (p *proc) mem() mem {
	m, _ := readMem(p.pid())
	return m
}

// cpuTime is the process's user+system CPU so far, from /proc/<pid>/stat.
func cpuTime(pid int) time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	s := string(b)
	if i := strings.LastIndexByte(s, ')'); i >= 0 {
		s = s[i+2:]
	}
	f := strings.Fields(s)
	if len(f) < 13 {
		return 0
	}
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(ut+st) * time.Second / 100 // USER_HZ
}

// alertgateOpts configure one alertgate process.
type alertgateOpts struct {
	bin, root, configTemplate string
	pdURL                     string
	tokens                    tokens
	logFile                   string
	// debugListen, when set, serves pprof (serve --debug-listen).
	debugListen string
	// extraConfig is YAML appended to the rendered config (top-level
	// sections bench/alertgate.yaml does not have).
	extraConfig string
}

// tokens are the credentials of one bench run, generated per run.
type tokens struct {
	Alertmanager, Datadog, Events, SentrySecret string
}

// renderConfig fills bench/alertgate.yaml for one process and appends
// o.extraConfig.
func renderConfig(o alertgateOpts, listen, dataDir string) (string, error) {
	tpl, err := os.ReadFile(o.configTemplate)
	if err != nil {
		return "", err
	}
	y := strings.NewReplacer(
		"{{LISTEN}}", listen, "{{DATA}}", dataDir,
		"{{RUNBOOKS}}", filepath.Join(o.root, "examples", "runbooks"), "{{PD}}", o.pdURL,
		"{{AM_TOKEN}}", o.tokens.Alertmanager, "{{DD_TOKEN}}", o.tokens.Datadog,
		"{{EVENTS_TOKEN}}", o.tokens.Events, "{{SENTRY_SECRET}}", o.tokens.SentrySecret,
	).Replace(string(tpl))
	if o.extraConfig != "" {
		if !strings.HasSuffix(y, "\n") {
			y += "\n"
		}
		y += o.extraConfig
	}
	return y, nil
}

// writeConfig makes a temp dir with a config in it and picks a port.
func writeConfig(o alertgateOpts) (dir, cfg, listen string, err error) {
	dir, err = os.MkdirTemp("", "alertgate-bench-")
	if err != nil {
		return "", "", "", err
	}
	port, err := freePort()
	if err != nil {
		return "", "", "", err
	}
	listen = fmt.Sprintf("127.0.0.1:%d", port)
	y, err := renderConfig(o, listen, filepath.Join(dir, "data"))
	if err != nil {
		return "", "", "", err
	}
	cfg = filepath.Join(dir, "alertgate.yaml")
	return dir, cfg, listen, os.WriteFile(cfg, []byte(y), 0o600)
}

func startAlertgate(o alertgateOpts) (*proc, error) {
	dir, cfg, listen, err := writeConfig(o)
	if err != nil {
		return nil, err
	}
	args := []string{"serve", "--config", cfg}
	if o.debugListen != "" {
		args = append(args, "--debug-listen", o.debugListen)
	}
	p, err := start("alertgate", o.bin, args, dir, "http://"+listen, "/readyz", o.logFile, 30*time.Second)
	if err != nil {
		_ = os.RemoveAll(dir)
	}
	return p, err
}

// startAlertmanager runs a real Alertmanager whose only receiver is a
// webhook to webhookURL, every alert its own group (as alertgate pages each
// incident), group_wait 0s, group_interval 1s.
func startAlertmanager(bin, configTemplate, webhookURL string) (*proc, error) {
	dir, err := os.MkdirTemp("", "alertmanager-bench-")
	if err != nil {
		return nil, err
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	tpl, err := os.ReadFile(configTemplate)
	if err != nil {
		return nil, err
	}
	cfg := filepath.Join(dir, "alertmanager.yml")
	if err := os.WriteFile(cfg, []byte(strings.ReplaceAll(string(tpl), "{{WEBHOOK}}", webhookURL)), 0o600); err != nil {
		return nil, err
	}
	listen := fmt.Sprintf("127.0.0.1:%d", port)
	p, err := start("alertmanager", bin, []string{
		"--config.file=" + cfg, "--storage.path=" + filepath.Join(dir, "data"),
		"--web.listen-address=" + listen, "--cluster.listen-address=",
	}, dir, "http://"+listen, "/-/ready", "", 30*time.Second)
	if err != nil {
		_ = os.RemoveAll(dir)
	}
	return p, err
}

// moduleVersion names the Alertmanager a binary is: its module and
// version from the build information (go version -m), e.g.
// "github.com/prometheus/alertmanager@v0.28.1" for a go install; a build
// from the module source (bench/build-alertmanager.sh) records no module
// version, so its own --version answers, with how it was built.
func moduleVersion(bin string) string {
	out, err := exec.Command("go", "version", "-m", bin).Output()
	if err != nil {
		return "unknown"
	}
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line)
		if len(f) >= 3 && f[0] == "mod" {
			if f[2] != "(devel)" {
				return f[1] + "@" + f[2]
			}
			return f[1] + "@" + selfVersion(bin) + " (built from the module source, no web UI)"
		}
	}
	return "unknown"
}

// selfVersion is the version a Prometheus binary prints with --version
// ("alertmanager, version 0.35.0 (branch: …)" → "v0.35.0").
func selfVersion(bin string) string {
	out, err := exec.Command(bin, "--version").CombinedOutput()
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(out))
	for i := 0; i+1 < len(f); i++ {
		if f[i] == "version" && f[i+1] != "" {
			return "v" + strings.TrimPrefix(f[i+1], "v")
		}
	}
	return "unknown"
}

// metricSum sums the samples of a Prometheus metric family at url/metrics.
func metricSum(ctx context.Context, baseURL, name string) (float64, error) {
	return metricSumWhere(ctx, baseURL, name, nil)
}

// metricSumWhere sums the samples of a metric family whose line keep
// accepts (nil: every sample), e.g. those of one label value.
func metricSumWhere(ctx context.Context, baseURL, name string, keep func(line string) bool) (float64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, baseURL+"/metrics", nil)
	if err != nil {
		return 0, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	var sum float64
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, name) {
			continue
		}
		rest := line[len(name):]
		if rest == "" || (rest[0] != '{' && rest[0] != ' ') || (keep != nil && !keep(line)) {
			continue
		}
		f := strings.Fields(line)
		v, err := strconv.ParseFloat(f[len(f)-1], 64)
		if err == nil {
			sum += v
		}
	}
	return sum, sc.Err()
}
