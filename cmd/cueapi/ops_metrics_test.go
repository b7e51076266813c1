package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/stretchr/testify/require"
)

// metricsSnapshot is every sample of a registry by "name{k=v,...}".
type metricsSnapshot map[string]float64

func snapshot(t *testing.T, reg prometheus.Gatherer) (metricsSnapshot, []*dto.MetricFamily) {
	t.Helper()
	fams, err := reg.Gather()
	require.NoError(t, err)
	out := metricsSnapshot{}
	for _, f := range fams {
		for _, m := range f.Metric {
			var labels []string
			for _, l := range m.Label {
				labels = append(labels, l.GetName()+"="+l.GetValue())
			}
			sort.Strings(labels)
			key := f.GetName() + "{" + strings.Join(labels, ",") + "}"
			switch {
			case m.Counter != nil:
				out[key] = m.Counter.GetValue()
			case m.Gauge != nil:
				out[key] = m.Gauge.GetValue()
			case m.Histogram != nil:
				out[key+"_count"] = float64(m.Histogram.GetSampleCount())
				out[key+"_sum"] = m.Histogram.GetSampleSum()
			}
		}
	}
	return out, fams
}

func TestMetricsAfterAScriptedRun(t *testing.T) {
	t.Parallel()
	for _, be := range backends() {
		t.Run(string(be), func(t *testing.T) {
			t.Parallel()
			e := engineEnv(t, be)
			e.stop()
			e.cfg.MetricsAddr = "127.0.0.1:0"
			e.start()
			m := e.app.ops.metrics
			require.NotNil(t, m)
			ctx := context.Background()

			key := e.register()
			rcv := newReceiver(t, 500, 200)
			due := testNow.Add(time.Minute)
			before, _ := snapshot(t, m.Registry())
			c := e.createCue(key, fmt.Sprintf(`{"name":"metrics","schedule":{"type":"once","at":%q},"callback":{"url":%q},"retry":{"max_attempts":3,"backoff_minutes":[1]}}`,
				due.Format(time.RFC3339), rcv.url("/")))
			// Two seconds late: the scheduler fires, the first attempt fails (500).
			e.clock.Set(due.Add(2 * time.Second))
			fired, n := e.pump()
			require.Equal(t, 1, fired)
			require.Equal(t, 1, n)
			// The retry a minute later succeeds.
			e.clock.Set(due.Add(2*time.Second + time.Minute))
			_, n = e.pump()
			require.Equal(t, 1, n)
			ex := e.executions(key, c.ID)
			require.Len(t, ex, 1)
			require.Equal(t, "success", string(ex[0].Status))
			status, body := report(t, e, key, ex[0].ID, `{"success":true}`)
			require.Equal(t, http.StatusOK, status, string(body))
			after, fams := snapshot(t, m.Registry())

			delta := func(k string) float64 { return after[k] - before[k] }
			require.Equal(t, 1.0, delta("cueapi_scheduler_fire_lag_seconds{}_count"))
			require.InDelta(t, 2.0, delta("cueapi_scheduler_fire_lag_seconds{}_sum"), 1e-9)
			require.Equal(t, 1.0, delta("cueapi_delivery_lag_seconds{}_count"))
			require.InDelta(t, 2.0, delta("cueapi_delivery_lag_seconds{}_sum"), 1e-9)
			require.Equal(t, 1.0, delta("cueapi_deliveries_total{outcome=retry}"))
			require.Equal(t, 1.0, delta("cueapi_deliveries_total{outcome=success}"))
			require.Equal(t, 0.0, delta("cueapi_deliveries_total{outcome=failed}"))
			require.Equal(t, 1.0, delta("cueapi_delivery_attempt_duration_seconds{outcome=retry}_count"))
			require.Equal(t, 1.0, delta("cueapi_delivery_attempt_duration_seconds{outcome=success}_count"))
			require.Equal(t, 0.0, after["cueapi_deliveries_in_flight{}"])
			require.Equal(t, 1.0, delta("cueapi_outcomes_total{state=reported_success}"))
			require.Equal(t, 1.0, delta("cueapi_http_requests_total{method=POST,route=/v1/cues,status=201}"))
			require.Equal(t, 1.0, delta("cueapi_http_requests_total{method=POST,route=/v1/executions/{execution_id}/outcome,status=200}"))
			require.Equal(t, 1.0, delta("cueapi_http_request_duration_seconds{method=POST,route=/v1/cues}_count"))
			require.Positive(t, delta("cueapi_auth_cache_requests_total{result=hit}")+delta("cueapi_auth_cache_requests_total{result=miss}"))
			require.Positive(t, delta("cueapi_rate_limit_decisions_total{decision=allowed}"))
			require.Equal(t, 1.0, after["cueapi_build_info{version="+version+"}"])
			require.Contains(t, after, "cueapi_executions_backlog{queue=webhook_due}")
			require.Contains(t, after, "go_goroutines{}")
			if be == backendPostgres {
				require.Contains(t, after, "cueapi_store_pool_connections{pool=main,state=max}")
				require.Contains(t, after, "cueapi_rate_limiter_degraded{}")
			} else {
				require.Contains(t, after, "cueapi_store_pool_connections{pool=write,state=max}")
			}

			// No label carries an id: neither of this run's ids nor anything
			// shaped like one.
			me, err := e.client.GetMeWithResponse(ctx, auth(key))
			require.NoError(t, err)
			known := []string{c.ID, ex[0].ID, me.JSON200.Email, key}
			idLike := regexp.MustCompile(`(?i)^(cue_|exec_|usr_|whsec_)|[0-9a-f]{8}-[0-9a-f]{4}-|^[0-9]{5,}$|@`)
			labels := 0
			for _, f := range fams {
				for _, mm := range f.Metric {
					for _, l := range mm.Label {
						labels++
						v := l.GetValue()
						require.False(t, idLike.MatchString(v), "%s{%s=%q} looks like an id", f.GetName(), l.GetName(), v)
						for _, k := range known {
							require.NotContains(t, v, k)
						}
					}
				}
			}
			require.Greater(t, labels, 20)

			// The raw path never becomes a label: a request for an unknown
			// cue is counted under its template.
			resp, _ := e.raw("GET", "/v1/cues/cue_doesnotexist1", key, "", nil)
			require.Equal(t, http.StatusNotFound, resp.StatusCode)
			final, _ := snapshot(t, m.Registry())
			require.Equal(t, 1.0, final["cueapi_http_requests_total{method=GET,route=/v1/cues/{cue_id},status=404}"])
		})
	}
}

func TestMetricsListener(t *testing.T) {
	t.Parallel()
	// Off by default; on loopback without a token; beyond loopback only with one.
	cfg, err := loadConfig(func(string) (string, bool) { return "", false })
	require.NoError(t, err)
	require.Empty(t, cfg.MetricsAddr)
	for addr, ok := range map[string]bool{"127.0.0.1:9464": true, "localhost:9464": true, "[::1]:9464": true, "0.0.0.0:9464": false, ":9464": false, "10.0.0.5:9464": false, "nonsense": false} {
		err := checkMetricsAddr(addr, "")
		require.Equal(t, ok, err == nil, "%s: %v", addr, err)
	}
	require.NoError(t, checkMetricsAddr("0.0.0.0:9464", "tok"))
	_, err = loadConfig(func(k string) (string, bool) {
		return map[string]string{"METRICS_ADDR": "0.0.0.0:9464"}[k], k == "METRICS_ADDR"
	})
	require.ErrorContains(t, err, "METRICS_TOKEN")
}

// A real `cueapi serve` process serves /metrics on METRICS_ADDR, only with
// the bearer token when one is set.
func TestMetricsListenerInAServerProcess(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("starts a real server process")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	srv := startServer(t, map[string]string{
		"ENV": "development", "PORT": "0", "CUEAPI_DATA_DIR": t.TempDir(),
		"METRICS_ADDR": addr, "METRICS_TOKEN": "scrape-token",
	})
	code, _ := srv.do(t, "GET", "/health", "", "")
	require.Equal(t, http.StatusOK, code)
	get := func(token string) (int, string) {
		req, err := http.NewRequest("GET", "http://"+addr+"/metrics", nil)
		require.NoError(t, err)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		return resp.StatusCode, string(b)
	}
	code, _ = get("")
	require.Equal(t, http.StatusUnauthorized, code)
	code, body := get("scrape-token")
	require.Equal(t, http.StatusOK, code)
	require.Contains(t, body, `cueapi_http_requests_total{method="GET",route="/health",status="200"} 1`)
	require.Contains(t, body, "cueapi_build_info{version=")
	require.Contains(t, body, `cueapi_store_pool_connections{pool="write",state="max"}`)
}
