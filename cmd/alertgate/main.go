// Command alertgate is the alert routing and dedup gateway.
//
//	alertgate serve [--config FILE] [--web.config.file web.yml]   run the gateway
//	alertgate check [--config FILE]   validate config and runbooks
//	alertgate explain --source S --payload FILE [--url URL]
//	alertgate route test --config FILE --labels 'service=checkout,severity=critical' [--at 2026-12-05T03:00:00Z]
//	alertgate deadletter list|replay [--id ID]   (token in ALERTGATE_TOKEN)
//	alertgate silence add MATCHER... [--duration 2h] | list [--state active] | expire ID...
//	alertgate replay --config candidate.yaml [--since 7d] [--json]   (token in ALERTGATE_TOKEN)
//	alertgate version
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/alertgate/alertgate/config"
	"github.com/alertgate/alertgate/internal/app"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

func main() {
	os.Exit(Run(context.Background(), os.Args[1:], os.Stdout, os.Stderr))
}

// Run runs one command and returns the exit code.
func Run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		usage(stderr)
		return 2
	}
	cmd, rest := args[0], args[1:]
	var err error
	switch cmd {
	case "serve":
		err = serve(ctx, rest, stderr)
	case "check":
		err = check(rest, stdout)
	case "explain":
		err = explain(rest, stdout)
	case "deadletter":
		err = deadletter(rest, stdout)
	case "silence":
		err = silence(rest, stdout)
	case "route":
		err = routeTest(rest, stdout)
	case "report":
		err = reportCmd(rest, stdout)
	case "replay":
		err = replayCmd(rest, stdout)
	case "version":
		fmt.Fprintln(stdout, "alertgate", version)
	case "help", "-h", "--help":
		usage(stdout)
	default:
		fmt.Fprintf(stderr, "alertgate: unknown command %q\n", cmd)
		usage(stderr)
		return 2
	}
	if err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(stderr, "alertgate:", err)
		}
		return 1
	}
	return 0
}

func usage(w io.Writer) {
	fmt.Fprint(w, `usage: alertgate <command> [flags]

commands:
  serve    run the gateway (--config FILE; default ./alertgate.yaml, else built-in defaults; --web.config.file web.yml for TLS)
  check    validate the config and its runbooks; exit 1 on any problem
  explain  --source S --payload FILE: kind, key, route, runbook of each event, and the gateway's last decision
  route    test --labels 'k=v,…' | --payload FILE --source S [--at TIME]: kind, key, route, team, runbook, would it page or be held
  deadletter list|replay [--id ID] [--url URL]: notifications that could not be delivered; re-enqueue after a fix
  silence  add MATCHER... [--duration 2h] [--start T] [--end T] [--comment C] [--author A] | list [--state S] | expire ID...
           hold the pages and bug notifications of matching events, now or in a maintenance window
  report   [--since 7d] [--until T] [--team T] [--json]: the alert-fatigue report (pages per day and off hours, noisiest keys,
           time to resolve, bug classes, held pages, noise removed)
  replay   --config FILE [--since 7d] [--until T] [--limit N] [--ignore-silences] [--json]: what the candidate config
           would have paged over the stored history, and whom, against what was sent
  version  print the version

Commands that call a running gateway (--url) send the token in ALERTGATE_TOKEN
(read: list, explain, report; admin: replay, deadletter replay, silence add and expire) when its API
has api.tokens.
`)
}

// loadConfig reads --config, else ./alertgate.yaml, else the built-in default.
func loadConfig(path string) (*config.Config, string, error) {
	if path == "" {
		if _, err := os.Stat("alertgate.yaml"); err == nil {
			path = "alertgate.yaml"
		}
	}
	if path == "" {
		return config.Default(), "built-in defaults", nil
	}
	c, err := config.LoadFile(path)
	return c, path, err
}

func serve(ctx context.Context, args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("config", "", "config file")
	level := fs.String("log-level", "info", "debug, info, warn or error")
	debugAddr := fs.String("debug-listen", "", "serve Go's /debug/pprof/ on this address (e.g. 127.0.0.1:6060); off when empty. Keep it off public interfaces")
	webConfig := fs.String("web.config.file", "", "web config (TLS, client certificates, basic auth of the listener) in the format of Prometheus and Alertmanager; empty serves plain HTTP")
	if err := fs.Parse(args); err != nil {
		return err
	}
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(*level)); err != nil {
		return fmt.Errorf("--log-level: %w", err)
	}
	logger := slog.New(slog.NewJSONHandler(os.Stdout, &slog.HandlerOptions{Level: lv}))
	slog.SetDefault(logger)

	cfg, from, err := loadConfig(*path)
	if err != nil {
		return err
	}
	logger.Info("config loaded", "from", from)
	if *debugAddr != "" {
		if err := servePprof(*debugAddr, logger); err != nil {
			return err
		}
	}
	flush, err := app.InitSentry(version)
	if err != nil {
		logger.Error("sentry init failed; continuing without it", "err", err)
	}
	defer flush()
	logger = slog.New(app.SentryLogs(logger.Handler()))
	slog.SetDefault(logger)

	ctx, stop := signal.NotifyContext(ctx, syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	g := app.New(cfg, logger)
	g.WebConfigFile = *webConfig
	if err := g.Start(ctx); err != nil {
		_ = g.Close(context.Background())
		return err
	}
	select {
	case <-ctx.Done():
		logger.Info("shutting down: draining in-flight work")
	case err := <-waitErr(g):
		logger.Error("http server stopped", "err", err)
	}
	sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return g.Close(sctx)
}

// servePprof serves net/http/pprof's handlers on their own listener, away
// from the API and ingest port.
func servePprof(addr string, logger *slog.Logger) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("--debug-listen: %w", err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	logger.Info("pprof listening", "addr", ln.Addr().String())
	return nil
}

func waitErr(g *app.Gateway) <-chan error {
	ch := make(chan error, 1)
	go func() { ch <- g.Wait() }()
	return ch
}
