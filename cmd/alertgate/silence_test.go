package main

import (
	"context"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/alertgate/alertgate/bus"
	"github.com/alertgate/alertgate/dedup"
	"github.com/alertgate/alertgate/internal/metrics"
	"github.com/alertgate/alertgate/internal/natstest"
	"github.com/alertgate/alertgate/silences"
	"github.com/alertgate/alertgate/web"
)

// silenceGateway serves the silence API from a real store on an embedded
// JetStream, with a read and an admin token.
func silenceGateway(t *testing.T) (*httptest.Server, *silences.Store) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	b := natstest.OpenBus(t, t.TempDir())
	store := silences.New(dedup.NewBucket(b.JS, b.Silences), slog.New(slog.DiscardHandler))
	if err := store.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(store.Stop)
	srv := &web.Server{
		Silences: store, Audit: bus.AuditTrail{Bus: b}, Logger: slog.New(slog.DiscardHandler), Metrics: metrics.New(),
		Access: web.Access{Tokens: []web.Token{web.NewToken("grafana", cliReadToken, web.RoleRead), web.NewToken("oncall", cliAdminToken, web.RoleAdmin)}},
	}
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(hs.Close)
	return hs, store
}

// silence add, list and expire as amtool's users type them.
func TestSilenceCommands(t *testing.T) {
	hs, store := silenceGateway(t)
	t.Setenv("USER", "alice")
	cmd := func(token string, args ...string) (int, string, string) {
		t.Helper()
		t.Setenv(tokenEnv, token)
		return run(t, append(args, "--url", hs.URL)...)
	}

	// Flags before, between and after the matchers.
	code, out, errs := cmd(cliAdminToken, "silence", "add", `service="checkout"`, "--duration", "2h", "env=~prod|staging", "--comment", "deploy 42")
	if code != 0 {
		t.Fatalf("add: exit %d: %s%s", code, out, errs)
	}
	id := strings.TrimSpace(out)
	sil, ok := store.Get(id, time.Now())
	if !ok || sil.CreatedBy != "alice" || sil.Comment != "deploy 42" || strings.Join(sil.Matchers, " ") != `service="checkout" env=~"prod|staging"` {
		t.Fatalf("stored %+v (found %v), want the silence as given", sil, ok)
	}
	if d := sil.EndsAt.Sub(sil.StartsAt); d != 2*time.Hour {
		t.Fatalf("lasts %v, want 2h", d)
	}
	// A maintenance window tonight, an hour by default.
	start := time.Now().Add(6 * time.Hour).UTC().Format(time.RFC3339)
	code, out, errs = cmd(cliAdminToken, "silence", "add", "--start", start, "--author", "bob", "alertname=DiskFull")
	if code != 0 {
		t.Fatalf("add window: exit %d: %s%s", code, out, errs)
	}
	window := strings.TrimSpace(out)
	if w, _ := store.Get(window, time.Now()); w.State != silences.StatePending || w.EndsAt.Sub(w.StartsAt) != time.Hour || w.CreatedBy != "bob" {
		t.Fatalf("window %+v", w)
	}

	code, out, errs = cmd(cliReadToken, "silence", "list", "--state", "active")
	if code != 0 || !strings.Contains(out, id) || strings.Contains(out, window) || !strings.Contains(out, `service="checkout" env=~"prod|staging"`) || !strings.HasPrefix(out, "ID") {
		t.Fatalf("list active: exit %d:\n%s%s", code, out, errs)
	}
	code, out, _ = cmd(cliReadToken, "silence", "list")
	if code != 0 || strings.Index(out, window) > strings.Index(out, id) {
		t.Fatalf("list: want both, newest first:\n%s", out)
	}

	for _, tc := range []struct {
		name, token string
		args        []string
		want        string
	}{
		{"bad matcher", cliAdminToken, []string{"silence", "add", `service=~"("`}, `matchers[0]: bad matcher 'service=~"("'`},
		{"no matcher", cliAdminToken, []string{"silence", "add", "--duration", "1h"}, "no matcher"},
		{"both ends", cliAdminToken, []string{"silence", "add", "a=b", "--duration", "1h", "--end", start}, "not both"},
		{"read token adds", cliReadToken, []string{"silence", "add", "a=b"}, "may not add silences: set ALERTGATE_TOKEN to a token with role admin"},
		{"no token lists", "", []string{"silence", "list"}, "set ALERTGATE_TOKEN to one of its api.tokens with role read"},
		{"bad state", cliReadToken, []string{"silence", "list", "--state", "gone"}, "state: want active, pending or expired"},
		{"unknown verb", cliAdminToken, []string{"silence", "mute"}, `unknown silence command "mute"`},
		{"unknown id", cliAdminToken, []string{"silence", "expire", "NOPE"}, `no silence "NOPE"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errs := cmd(tc.token, tc.args...)
			if code != 1 || !strings.Contains(out+errs, tc.want) {
				t.Fatalf("exit %d, want 1 and %q:\n%s%s", code, tc.want, out, errs)
			}
		})
	}

	// Expire both; an unknown id among them fails the command, not the others.
	code, out, errs = cmd(cliAdminToken, "silence", "expire", id, "NOPE", window)
	if code != 1 || !strings.Contains(out, "expired "+id) || !strings.Contains(out, "expired "+window) || !strings.Contains(errs, "1 of 3 silences not expired: NOPE") {
		t.Fatalf("expire: exit %d:\n%s%s", code, out, errs)
	}
	if got := store.List(silences.StateExpired, time.Now()); len(got) != 2 {
		t.Fatalf("expired: %+v", got)
	}
	if code, out, _ := cmd(cliReadToken, "silence", "list", "--state", "active"); code != 0 || strings.Count(out, "\n") != 1 {
		t.Fatalf("active after expiry:\n%s", out)
	}
}
