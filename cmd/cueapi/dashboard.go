package main

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"strings"

	"github.com/cueapi/cueapi/adapters/postgres"
	"github.com/cueapi/cueapi/api/dashboard"
	"github.com/cueapi/cueapi/core"
)

// openChangeFeed returns the change-notification feed: PostgreSQL
// LISTEN/NOTIFY across replicas with DATABASE_URL, in-process otherwise.
func openChangeFeed(ctx context.Context, cfg *config, log core.Logger) (core.ChangeFeed, func(), error) {
	if cfg.DatabaseURL == "" {
		return core.NewLocalFeed(), func() {}, nil
	}
	f, err := postgres.NewChangeFeed(ctx, postgres.ChangeFeedConfig{URL: cfg.DatabaseURL, Log: log})
	if err != nil {
		return nil, nil, err
	}
	return f, f.Close, nil
}

// withDashboard mounts the dashboard under /dashboard in front of the API
// when DASHBOARD is on.
func (a *app) withDashboard(apiHandler http.Handler, dl *core.DeviceLogin) (http.Handler, error) {
	if !a.cfg.Dashboard {
		return apiHandler, nil
	}
	secret := a.cfg.SessionSecret
	if secret == "" {
		// Development without SESSION_SECRET: dashboard sign-ins last until
		// the process restarts and are not shared between replicas.
		b := make([]byte, 32)
		if _, err := rand.Read(b); err != nil {
			return nil, err
		}
		secret = hex.EncodeToString(b)
		a.log.Warn("SESSION_SECRET is empty: dashboard sessions end when this process restarts")
	}
	key := sha256.Sum256([]byte("cueapi dashboard csrf\x00" + secret))
	d, err := dashboard.New(dashboard.Deps{
		Log: a.log, Clock: a.clock, Accounts: a.Accounts, Cues: a.Cues, Executions: a.Executions,
		Outcomes: a.Outcomes, Workers: a.Workers, Alerts: a.Alerts, Usage: a.Usage, Feed: a.feed,
		Sessions: core.NewSessions(secret), CSRFKey: key[:], WorkerHeartbeatTimeout: a.cfg.WorkerHeartbeatTimeout,
		SecureCookie: strings.HasPrefix(a.cfg.BaseURL, "https://"), DeviceLogin: dl,
	})
	if err != nil {
		return nil, err
	}
	a.stopStreams = d.StopStreams
	a.log.Info("dashboard enabled", "path", dashboard.Prefix+"/")
	// A plain prefix switch (not a ServeMux): API paths reach the API's
	// pipeline exactly as sent.
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if p := r.URL.Path; p == dashboard.Prefix || strings.HasPrefix(p, dashboard.Prefix+"/") {
			d.ServeHTTP(w, r)
			return
		}
		apiHandler.ServeHTTP(w, r)
	}), nil
}
