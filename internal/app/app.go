// Package app assembles one alertgate process from a config: JetStream
// (embedded or external), the router, the sink workers and the HTTP server.
// cmd/alertgate runs it; end-to-end tests start it in-process on :0.
package app

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/nats-io/nuid"
	toolkitweb "github.com/prometheus/exporter-toolkit/web"
	"gopkg.in/yaml.v3"

	"github.com/alertgate/alertgate"
	"github.com/alertgate/alertgate/bus"
	"github.com/alertgate/alertgate/config"
	"github.com/alertgate/alertgate/dedup"

	"github.com/alertgate/alertgate/ingest"
	"github.com/alertgate/alertgate/inhibit"
	"github.com/alertgate/alertgate/internal/backoff"
	"github.com/alertgate/alertgate/internal/metrics"
	"github.com/alertgate/alertgate/related"
	"github.com/alertgate/alertgate/replay"
	"github.com/alertgate/alertgate/report"
	"github.com/alertgate/alertgate/routes"
	"github.com/alertgate/alertgate/runbooks"
	"github.com/alertgate/alertgate/silences"
	"github.com/alertgate/alertgate/sinks"
	"github.com/alertgate/alertgate/sinks/pagerduty"
	"github.com/alertgate/alertgate/sinks/slack"
	"github.com/alertgate/alertgate/web"
)

// Gateway is a running alertgate.
type Gateway struct {
	Config   *config.Config
	Logger   *slog.Logger
	Metrics  *metrics.Metrics
	Bus      *bus.Bus
	Runbooks *runbooks.Set
	Routes   *routes.Table
	Policy   *dedup.Policy
	// Silences are the silences of the silences bucket, shared by every
	// instance; the router asks it whether an event is silenced.
	Silences *silences.Store
	// Inhibitor holds pages while an inhibit rule's source fires.
	Inhibitor *inhibit.Inhibitor
	// Related lists on each page the bug classes and open incidents
	// sharing its correlation labels.
	Related *related.Index
	// RecheckEvery is how often held keys are re-checked (0: the router's
	// default); tests shorten it.
	RecheckEvery time.Duration
	Router       *routes.Router
	Workers      []*sinks.Worker
	Digester     *slack.Digester
	// SlackMessages are the digests the Slack app posted (app mode).
	SlackMessages *slack.Messages
	slackUpdater  *slack.Updater
	// BugIndex answers GET /v1/bugs from memory.
	BugIndex *dedup.BugIndex
	// Reporter builds the alert-fatigue report from ALERTS and NOTIFY.
	Reporter *report.Reporter
	// Replay runs the history through a candidate config (POST /v1/replay).
	Replay *replay.Runner
	// DigestTick is how often digest channels are checked (default 1s).
	DigestTick time.Duration
	// DigestMaxItems bounds the items of one digest message (default 2000).
	DigestMaxItems int
	// Now is the clock of every stage; tests may set it before Start.
	Now func() time.Time
	// HTTPClient is used by the sinks (tests point it at loopback servers).
	HTTPClient *http.Client
	// WebConfigFile is an exporter-toolkit web config (serve's
	// --web.config.file), read as Prometheus and Alertmanager read theirs:
	// TLS (certificates reloaded on each new connection), client
	// certificates, and the listener's own basic auth. Empty serves plain
	// HTTP.
	WebConfigFile string

	listener net.Listener
	tls      bool
	http     *http.Server
	served   chan error
	cancel   context.CancelFunc
	once     sync.Once
}

// PolicySettings are the policy's settings from cfg's dedup section.
func PolicySettings(cfg *config.Config) dedup.Settings { return dedup.SettingsOf(cfg.Dedup) }

// InhibitRules are the config's inhibit rules as the inhibitor takes them.
func InhibitRules(cfg *config.Config) []inhibit.Rule { return inhibit.RulesOf(cfg.InhibitRules) }

// New returns a Gateway for cfg; nothing runs until Start.
func New(cfg *config.Config, logger *slog.Logger) *Gateway {
	if logger == nil {
		logger = slog.Default()
	}
	return &Gateway{Config: cfg, Logger: logger, Metrics: metrics.New(), Now: time.Now}
}

// LoadRunbooks loads cfg.RunbookDir. A missing directory is an empty set
// (with a warning): a gateway without runbooks still pages.
func LoadRunbooks(dir string, log *slog.Logger) (*runbooks.Set, error) {
	set, err := runbooks.LoadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		log.Warn("runbooks_dir does not exist: pages carry only their source's runbook link", "runbooks_dir", dir)
		return nil, nil
	}
	return set, err
}

// Start opens JetStream, starts the router, the sinks and the HTTP server.
// It returns once the gateway accepts requests.
func (g *Gateway) Start(ctx context.Context) error {
	cfg := g.Config
	rb, err := LoadRunbooks(cfg.RunbookDir, g.Logger)
	if err != nil {
		return err
	}
	g.Runbooks = rb
	g.Routes = routes.New(cfg, rb)
	teamNames := make([]string, 0, len(cfg.Teams))
	for _, t := range cfg.Teams {
		teamNames = append(teamNames, t.Name)
	}
	g.Metrics.Init(teamNames)
	if err := g.checkWebConfig(); err != nil {
		return err
	}
	g.warnUnauthenticated()
	g.warnOpenAPI()

	g.Bus, err = bus.Open(ctx, bus.Options{
		URL: cfg.NATS.URL, DataDir: cfg.DataDir, Listen: cfg.NATS.Listen, SyncInterval: cfg.NATS.SyncInterval,
		Replicas: cfg.NATS.Replicas, Retention: cfg.Retention.D(), DuplicateWindow: cfg.Dedup.DuplicateWindow.D(),
		Name: "alertgate",
	}, g.Logger)
	if err != nil {
		return err
	}
	runCtx, cancel := context.WithCancel(context.Background())
	g.cancel = cancel

	// The silences are loaded before the router decides its first event.
	// Through dedup's Bucket, expiring a silence sets its entry's TTL.
	g.Silences = silences.New(dedup.NewBucket(g.Bus.JS, g.Bus.Silences), g.Logger)
	if err := g.Silences.Start(ctx); err != nil {
		return err
	}
	g.Metrics.CountSilences(func() (int, int) { return g.Silences.Counts(g.Now()) })

	nlog := &sinks.Log{KV: g.Bus.Notifications, JS: g.Bus.JS, Logger: g.Logger}
	g.Policy = &dedup.Policy{
		Incidents: dedup.NewBucket(g.Bus.JS, g.Bus.Incidents), Bugs: dedup.NewBucket(g.Bus.JS, g.Bus.Bugs),
		Settings:  PolicySettings(cfg),
		Conflicts: g.Metrics,
	}
	g.Inhibitor = inhibit.New(g.Bus.Inhibitors, InhibitRules(cfg), g.Logger)
	if err := g.Inhibitor.Start(ctx); err != nil {
		return err
	}
	host, _ := os.Hostname()
	g.Related = related.New(g.Bus.JS, g.Bus.Related, related.Options{Labels: cfg.Correlation.Labels, Window: cfg.Correlation.Window.D(),
		Instance: fmt.Sprintf("%s/%d/%s", host, os.Getpid(), nuid.Next()), PublicURL: cfg.PublicURL, Logger: g.Logger})
	if err := g.Related.Start(ctx); err != nil {
		return err
	}
	g.Router = &routes.Router{Bus: g.Bus, Routes: g.Routes, Policy: g.Policy, Logger: g.Logger, Metrics: g.Metrics,
		Silences: g.Silences, Inhibitor: g.Inhibitor, Related: g.Related, RecheckEvery: g.RecheckEvery, Now: g.Now}
	// The router's acknowledgements settle the policy's outbox entries.
	g.Policy.Acks = g.Router
	if err := g.Router.Start(runCtx); err != nil {
		return err
	}

	keys := map[string]string{}
	for _, t := range cfg.Teams {
		keys[t.Name] = t.PagerDutyRoutingKey.Value()
	}
	if g.HTTPClient == nil {
		g.HTTPClient = sinks.NewHTTPClient()
	}
	pd := pagerduty.New(cfg.PagerDuty.EventsURL, keys, cfg.PagerDuty.RateLimit, cfg.PublicURL, g.HTTPClient)
	pd.Related = g.Related
	if rb != nil { // a nil *Set would make a non-nil Runbooks
		pd.Runbooks = rb
	}
	if teams := pd.Teams(); len(teams) < len(cfg.Teams) {
		g.Logger.Warn("some teams have no pagerduty_routing_key: their pages are dry-run (logged and listed at /v1/notifications)", "paging_teams", teams)
	}
	hooks := map[string]string{}
	teams := make([]string, 0, len(cfg.Teams))
	for _, t := range cfg.Teams {
		hooks[t.Name] = t.SlackWebhookURL.Value()
		teams = append(teams, t.Name)
	}
	sl := slack.New(hooks, g.HTTPClient)
	var slackSink sinks.Notifier = sl
	var app *slack.App
	if cfg.Slack.AppMode() {
		g.SlackMessages, err = slack.OpenMessages(ctx, g.Bus.JS, cfg.NATS.Replicas)
		if err != nil {
			return err
		}
		channels := map[string]string{}
		for _, t := range cfg.Teams {
			channels[t.Name] = t.SlackChannel
		}
		app = slack.NewApp(slack.AppOptions{
			Token: cfg.Slack.BotToken.Value(), APIURL: cfg.Slack.APIURL, Channels: channels, Webhooks: sl,
			Messages: g.SlackMessages, HTTPClient: g.HTTPClient, Metrics: g.Metrics, Logger: g.Logger,
		})
		slackSink = app
		g.slackUpdater = &slack.Updater{Bus: g.Bus, Messages: g.SlackMessages, Logger: g.Logger, Metrics: g.Metrics, Now: g.Now}
		if err := g.slackUpdater.Start(runCtx); err != nil {
			return err
		}
	}
	slackTeams := 0
	for _, t := range cfg.Teams {
		if slackSink.Enabled(t.Name) {
			slackTeams++
		}
	}
	if slackTeams < len(cfg.Teams) {
		g.Logger.Warn("some teams have no slack_webhook_url or slack_channel: their digests are dry-run (logged and listed at /v1/notifications)", "slack_teams", slackTeams)
	}
	// Every sink delivers through the same worker: attempts, backoff,
	// Retry-After, dead letters, dry-run, the log and the metrics.
	worker := func(sink alertgate.Sink, n sinks.Notifier) *sinks.Worker {
		return &sinks.Worker{
			Sink: sink, Notifier: n, Bus: g.Bus, Log: nlog, Logger: g.Logger, Metrics: g.Metrics,
			Attempts: cfg.Delivery.Attempts, Timeout: cfg.Delivery.Timeout.D(), MaxAge: cfg.Delivery.MaxAge.D(), Now: g.Now,
			Backoff: backoff.Backoff{Min: cfg.Delivery.MinBackoff.D(), Max: cfg.Delivery.MaxBackoff.D()},
		}
	}
	g.Workers = []*sinks.Worker{worker(alertgate.SinkPagerDuty, pd), worker(alertgate.SinkSlack, slackSink)}
	for _, w := range g.Workers {
		if err := w.Start(runCtx); err != nil {
			return err
		}
	}

	g.Digester = &slack.Digester{
		Bus: g.Bus, Policy: g.Policy, Log: nlog, Logger: g.Logger,
		Teams: teams, Interval: cfg.Slack.DigestInterval.D(), Tick: g.DigestTick, MaxItems: g.DigestMaxItems,
		PublicURL: cfg.PublicURL, Instance: fmt.Sprintf("%s/%d/%s", host, os.Getpid(), nuid.Next()), Now: g.Now,
		Related: g.Related,
	}
	if app != nil {
		g.Digester.Messages, g.Digester.AppTeam = g.SlackMessages, func(team string) bool { return app.Channel(team) != "" }
	}
	if err := g.Digester.Start(runCtx, cfg.NATS.Replicas); err != nil {
		return err
	}
	// /v1/notifications lists the bug items waiting for their digest.
	nlog.Pending = g.Digester

	// GET /v1/bugs reads the bug classes from an index the gateway keeps
	// in memory, loaded in the background.
	g.BugIndex = dedup.NewBugIndex(g.Bus.JS, g.Bus.Bugs, g.Logger)
	if err := g.BugIndex.Start(runCtx); err != nil {
		return err
	}
	g.Metrics.CountBugIndex(g.BugIndex.Classes)

	g.Reporter = report.New(cfg, g.Bus, g.Routes, g.Metrics, g.Logger)
	g.Reporter.Now = g.Now
	g.Replay = &replay.Runner{Bus: g.Bus, Live: cfg, Routes: g.Routes, Silences: g.Silences, Logger: g.Logger, Metrics: g.Metrics, Now: g.Now}

	ih := &ingest.Handler{Publisher: g.Bus, MaxBodyBytes: cfg.Ingest.MaxBodyBytes, Log: g.Logger, Metrics: g.Metrics, Now: g.Now}
	srv := &web.Server{
		Ingest: ih.Endpoints(ingest.Sources(cfg.Ingest, g.Now)), States: g.Policy, BugIndex: g.BugIndex, Matcher: g.Routes,
		Runbooks: rb, Notifications: nlog, DeadLetters: &sinks.DeadLetters{Bus: g.Bus, Log: nlog},
		Readiness: g, Silences: g.Silences, Related: g.Related, Reporter: g.Reporter, Replayer: g.Replay, Audit: bus.AuditTrail{Bus: g.Bus}, Access: APIAccess(cfg.API), Logger: g.Logger, Metrics: g.Metrics, Now: g.Now,
	}
	if app != nil {
		srv.SlackActions = &slack.Actions{Bus: g.Bus, Messages: g.SlackMessages, Policy: g.Policy, Silences: g.Silences, Logger: g.Logger, Now: g.Now}
		srv.SlackSigningSecret = cfg.Slack.SigningSecret.Value()
	}
	// alertgate's own error reporting sits inside the recoverer: it must
	// see a panic before it is recovered.
	handler := web.Recoverer(g.Logger, g.Metrics, sentryMiddleware(srv.Routes()))
	g.listener, err = net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	g.http = &http.Server{
		Handler: handler, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second, WriteTimeout: 30 * time.Second, IdleTimeout: 2 * time.Minute,
		// The server's own complaints (a failed TLS handshake) go to the
		// gateway's log, not to stderr in another format.
		ErrorLog: slog.NewLogLogger(g.Logger.Handler(), slog.LevelWarn),
	}
	g.served = make(chan error, 1)
	webConfig := g.WebConfigFile
	go func() {
		g.served <- toolkitweb.Serve(g.listener, g.http, &toolkitweb.FlagConfig{WebConfigFile: &webConfig}, g.Logger)
	}()
	go g.watchLag(runCtx)
	g.Logger.Info("alertgate started", "listen", g.listener.Addr().String(), "tls", g.tls, "nats", natsMode(cfg), "data_dir", cfg.DataDir, "teams", len(cfg.Teams), "routes", len(cfg.Routes), "runbooks", rb.Len())
	return nil
}

func natsMode(cfg *config.Config) string {
	if cfg.NATS.URL == "" {
		return "embedded"
	}
	return "external"
}

func (g *Gateway) warnUnauthenticated() {
	in := g.Config.Ingest
	for src, set := range map[string]bool{
		"alertmanager": in.Alertmanager.Token != "",
		"datadog":      in.Datadog.Token != "",
		"events":       in.Events.Token != "",
		"sentry":       in.Sentry.ClientSecret != "" || in.Sentry.LegacyToken != "",
	} {
		if !set {
			g.Logger.Warn("ingest endpoint accepts unauthenticated requests: set its token in ingest."+src, "source", src)
		}
	}
}

// checkWebConfig reads the web config file, if any, before anything starts:
// a wrong path, a certificate that does not load or a bad password hash
// fails the start instead of the first request.
func (g *Gateway) checkWebConfig() error {
	if g.WebConfigFile == "" {
		return nil
	}
	if err := toolkitweb.Validate(g.WebConfigFile); err != nil {
		return fmt.Errorf("--web.config.file %s: %w", g.WebConfigFile, err)
	}
	b, err := os.ReadFile(g.WebConfigFile)
	if err != nil {
		return fmt.Errorf("--web.config.file: %w", err)
	}
	var c toolkitweb.Config
	if err := yaml.Unmarshal(b, &c); err != nil {
		return fmt.Errorf("--web.config.file %s: %w", g.WebConfigFile, err)
	}
	g.tls = c.TLSConfig.IsEnabled()
	if len(c.Users) > 0 {
		g.Logger.Warn("the web config's basic_auth_users guard every request, the ingest endpoints and /healthz, /readyz included: sources and probes must send one of those users; for the API, api.tokens is enough", "web_config", g.WebConfigFile)
	}
	return nil
}

// APIAccess is who may use the API, from the config's api section.
func APIAccess(c config.API) web.Access {
	acc := web.Access{ProtectMetrics: c.ProtectMetrics}
	for _, t := range c.Tokens {
		acc.Tokens = append(acc.Tokens, web.NewToken(t.Name, t.Token.Value(), web.Role(t.Role)))
	}
	return acc
}

// warnOpenAPI says at start that anyone who reaches the port may read the
// alerts and replay dead letters, and who holds a token otherwise.
func (g *Gateway) warnOpenAPI() {
	api := g.Config.API
	if len(api.Tokens) == 0 {
		g.Logger.Warn("the API is open: anyone who reaches the port reads incidents and bugs, replays dead letters and silences pages; set api.tokens")
		return
	}
	names := map[string][]string{}
	for _, t := range api.Tokens {
		names[t.Role] = append(names[t.Role], t.Name)
	}
	g.Logger.Info("the API takes tokens", "read", names[config.RoleRead], "admin", names[config.RoleAdmin], "protect_metrics", api.ProtectMetrics)
}

// Ready reports whether JetStream answers and every stage consumes
// (/readyz).
func (g *Gateway) Ready(ctx context.Context) error {
	if err := g.Bus.Ready(ctx); err != nil {
		return err
	}
	return g.running()
}

// running reports whether every stage consumes.
func (g *Gateway) running() error {
	if err := g.Router.Running(); err != nil {
		return fmt.Errorf("router: %w", err)
	}
	for _, w := range g.Workers {
		if err := w.Running(); err != nil {
			return fmt.Errorf("sink %s: %w", w.Sink, err)
		}
	}
	if g.slackUpdater != nil {
		if err := g.slackUpdater.Running(); err != nil {
			return fmt.Errorf("slack digest updates: %w", err)
		}
	}
	return g.Digester.Running()
}

// watchLag exports each durable consumer's backlog and readiness every few
// seconds (not only when /readyz is probed).
func (g *Gateway) watchLag(ctx context.Context) {
	t := time.NewTicker(5 * time.Second)
	defer t.Stop()
	for {
		g.updateLag(ctx)
		rctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		if g.Ready(rctx) == nil {
			g.Metrics.Ready.Set(1)
		} else {
			g.Metrics.Ready.Set(0)
		}
		cancel()
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (g *Gateway) updateLag(ctx context.Context) {
	type c struct{ stream, consumer string }
	list := []c{{bus.StreamAlerts, routes.ConsumerName}}
	for _, w := range g.Workers {
		list = append(list, c{bus.StreamNotify, sinks.ConsumerName(w.Sink)})
	}
	for _, x := range list {
		cons, err := g.Bus.JS.Consumer(ctx, x.stream, x.consumer)
		if err != nil {
			continue
		}
		info, err := cons.Info(ctx)
		if err != nil {
			continue
		}
		g.Metrics.ConsumerPending.WithLabelValues(x.stream, x.consumer).Set(float64(info.NumPending + uint64(info.NumAckPending)))
	}
}

// Addr is the address the HTTP server listens on (useful with :0).
func (g *Gateway) Addr() string { return g.listener.Addr().String() }

// URL is the base URL of the HTTP server: https when the web config
// turns TLS on.
func (g *Gateway) URL() string {
	if g.tls {
		return "https://" + g.Addr()
	}
	return "http://" + g.Addr()
}

// Wait blocks until the HTTP server stops.
func (g *Gateway) Wait() error { return <-g.served }

// Close shuts down gracefully: stop accepting requests, let in-flight
// webhooks finish, drain the consumers, close JetStream.
func (g *Gateway) Close(ctx context.Context) error {
	var err error
	g.once.Do(func() {
		if g.http != nil {
			err = g.http.Shutdown(ctx)
		}
		if g.Router != nil {
			g.Router.Stop()
		}
		for _, w := range g.Workers {
			w.Stop()
		}
		if g.slackUpdater != nil {
			g.slackUpdater.Stop()
		}
		if g.Digester != nil {
			g.Digester.Stop()
		}
		if g.BugIndex != nil {
			g.BugIndex.Stop()
		}
		if g.Inhibitor != nil {
			g.Inhibitor.Stop()
		}
		if g.Related != nil {
			g.Related.Stop()
		}
		if g.Silences != nil {
			g.Silences.Stop()
		}
		if g.cancel != nil {
			g.cancel()
		}
		if g.Bus != nil {
			g.Bus.Close()
		}
		g.Logger.Info("alertgate stopped")
	})
	return err
}

// The bus answers byte-identical re-sends for the ingest edge.
var _ ingest.BodyMemory = (*bus.Bus)(nil)

// What the HTTP surface reads, and what provides it.
var (
	_ web.States        = (*dedup.Policy)(nil)
	_ web.Matcher       = (*routes.Table)(nil)
	_ web.Runbooks      = (*runbooks.Set)(nil)
	_ web.Notifications = (*sinks.Log)(nil)
	_ web.DeadLetters   = (*sinks.DeadLetters)(nil)
	_ web.Readiness     = (*Gateway)(nil)
	_ web.Audit         = bus.AuditTrail{}
	_ web.Silences      = (*silences.Store)(nil)
	_ web.Correlator    = (*related.Index)(nil)
	_ web.SlackActions  = (*slack.Actions)(nil)
	_ web.Reporter      = (*report.Reporter)(nil)
	_ web.Replayer      = (*replay.Runner)(nil)
)
