package webhook_test

import (
	"bytes"
	"context"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/cueapi/cueapi/adapters/netguard"
	"github.com/cueapi/cueapi/adapters/webhook"
	"github.com/cueapi/cueapi/core"
	"github.com/cueapi/cueapi/coretest"
)

var _ core.Deliverer = (*webhook.Deliverer)(nil)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// loopbackCIDRs is the operator allow-list the tests use to reach their
// httptest receivers.
var loopbackCIDRs = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}

// newGuard returns a guard whose resolver knows only loopback answers, so no
// test can ever dial a non-loopback address.
func newGuard(allowLoopback bool, resolver *netguard.FakeResolver) *netguard.Guard {
	cfg := netguard.Config{AllowHTTP: true, Resolver: resolver}
	if allowLoopback {
		cfg.AllowedCIDRs = loopbackCIDRs
	}
	return netguard.New(cfg)
}

func newDeliverer(t testing.TB, guard *netguard.Guard, cfg webhook.Config) *webhook.Deliverer {
	t.Helper()
	d := webhook.New(guard, cfg)
	t.Cleanup(d.CloseIdleConnections)
	return d
}

func TestDeliverer(t *testing.T) {
	t.Parallel()
	coretest.RunDelivererContract(t, func(t *testing.T, allowLoopback bool) core.Deliverer {
		resolver := netguard.NewFakeResolver().Set(coretest.DelivererTestHost, "127.0.0.1")
		return newDeliverer(t, newGuard(allowLoopback, resolver), webhook.Config{})
	})
}

func TestDeliverer_Webhook(t *testing.T) {
	t.Parallel()

	type testBundle struct {
		ctx       context.Context
		resolver  *netguard.FakeResolver
		deliverer *webhook.Deliverer
		server    *httptest.Server
		hits      atomic.Int64
		lastUA    atomic.Value
	}

	// setup starts a loopback receiver answering with handler (200 "ok" when
	// nil) and a deliverer allowed to reach loopback.
	setup := func(t *testing.T, cfg webhook.Config, handler http.HandlerFunc) *testBundle {
		t.Helper()
		bundle := &testBundle{ctx: t.Context(), resolver: netguard.NewFakeResolver()}
		bundle.deliverer = newDeliverer(t, newGuard(true, bundle.resolver), cfg)
		bundle.server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			bundle.hits.Add(1)
			bundle.lastUA.Store(r.Header.Values("User-Agent"))
			if handler == nil {
				_, _ = io.WriteString(w, "ok")
				return
			}
			handler(w, r)
		}))
		t.Cleanup(bundle.server.Close)
		return bundle
	}

	post := func(url string, timeout time.Duration, header ...core.HeaderField) *core.OutboundRequest {
		return &core.OutboundRequest{Method: http.MethodPost, URL: url, Header: header, Body: []byte(`{}`), Timeout: timeout}
	}

	requireFailure := func(t *testing.T, err error, kind core.DeliveryErrorKind, msg string) *core.DeliveryError {
		t.Helper()
		var de *core.DeliveryError
		require.ErrorAs(t, err, &de)
		require.Equal(t, kind, de.Kind, "underlying: %v", de.Err)
		require.Equal(t, msg, de.Message)
		return de
	}

	t.Run("BlocksNameReboundToLoopbackAfterCheck", func(t *testing.T) {
		t.Parallel()
		bundle := setup(t, webhook.Config{}, nil)
		// Save time sees a public address, connect time a loopback one. The
		// public answer is only ever looked at by Check, which does not dial.
		bundle.resolver.SetSequence("rebind.test", []string{"93.184.216.34"}, []string{"127.0.0.1"})
		guard := newGuard(false, bundle.resolver)
		deliverer := newDeliverer(t, guard, webhook.Config{})

		_, err := guard.Check(bundle.ctx, "http://rebind.test/hook")
		require.NoError(t, err)
		require.Equal(t, 1, bundle.resolver.Calls("rebind.test"), "the public answer must be used up before sending")

		_, port, err := net.SplitHostPort(bundle.server.Listener.Addr().String())
		require.NoError(t, err)
		_, err = deliverer.Send(bundle.ctx, post("http://rebind.test:"+port+"/hook", 5*time.Second))
		requireFailure(t, err, core.DeliveryBlocked, webhook.MsgBlocked)
		require.Equal(t, 2, bundle.resolver.Calls("rebind.test"), "resolved once when connecting")
		require.Zero(t, bundle.hits.Load())
	})

	t.Run("BlocksUnresolvableName", func(t *testing.T) {
		t.Parallel()
		bundle := setup(t, webhook.Config{}, nil)

		_, err := bundle.deliverer.Send(bundle.ctx, post("http://unknown.test/hook", 5*time.Second))
		requireFailure(t, err, core.DeliveryBlocked, webhook.MsgBlocked)
	})

	t.Run("BlocksURLWithoutHost", func(t *testing.T) {
		t.Parallel()
		bundle := setup(t, webhook.Config{}, nil)

		_, err := bundle.deliverer.Send(bundle.ctx, post("http:///hook", 5*time.Second))
		requireFailure(t, err, core.DeliveryBlocked, netguard.MsgNoHostname)
		_, err = bundle.deliverer.Send(bundle.ctx, post("http://[::1/hook", 5*time.Second))
		requireFailure(t, err, core.DeliveryBlocked, netguard.MsgInvalidURL)
		_, err = bundle.deliverer.Send(bundle.ctx, post("ftp://127.0.0.1/hook", 5*time.Second))
		requireFailure(t, err, core.DeliveryBlocked, netguard.MsgHTTPOrHTTPS)
	})

	t.Run("CutsOffBodyPastTheDeadline", func(t *testing.T) {
		t.Parallel()
		release := make(chan struct{})
		bundle := setup(t, webhook.Config{}, func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.Copy(io.Discard, r.Body)
			_, _ = io.WriteString(w, "partial")
			w.(http.Flusher).Flush()
			select {
			case <-release:
			case <-r.Context().Done():
			}
		})
		t.Cleanup(func() { close(release) })

		_, err := bundle.deliverer.Send(bundle.ctx, post(bundle.server.URL, 200*time.Millisecond))
		requireFailure(t, err, core.DeliveryTimeout, webhook.MsgTimeout)
	})

	t.Run("DefaultsUserAgent", func(t *testing.T) {
		t.Parallel()
		bundle := setup(t, webhook.Config{}, nil)

		_, err := bundle.deliverer.Send(bundle.ctx, post(bundle.server.URL, 5*time.Second))
		require.NoError(t, err)
		require.Equal(t, []string{"CueAPI/1.0"}, bundle.lastUA.Load())

		_, err = bundle.deliverer.Send(bundle.ctx, post(bundle.server.URL, 5*time.Second, core.HeaderField{Name: "user-agent", Value: "Mine/3"}))
		require.NoError(t, err)
		require.Equal(t, []string{"Mine/3"}, bundle.lastUA.Load())

		custom := setup(t, webhook.Config{UserAgent: "CueAPI-Test/9"}, nil)
		_, err = custom.deliverer.Send(custom.ctx, post(custom.server.URL, 5*time.Second))
		require.NoError(t, err)
		require.Equal(t, []string{"CueAPI-Test/9"}, custom.lastUA.Load())
	})

	t.Run("EmptyMethodMeansPost", func(t *testing.T) {
		t.Parallel()
		var method, body atomic.Value
		bundle := setup(t, webhook.Config{}, func(_ http.ResponseWriter, r *http.Request) {
			b, _ := io.ReadAll(r.Body)
			method.Store(r.Method)
			body.Store(string(b))
		})

		_, err := bundle.deliverer.Send(bundle.ctx, &core.OutboundRequest{URL: bundle.server.URL, Body: []byte(`{"a": 1}`)})
		require.NoError(t, err)
		require.Equal(t, http.MethodPost, method.Load())
		require.Equal(t, `{"a": 1}`, body.Load())
	})

	t.Run("LaterHeaderReplacesEarlier", func(t *testing.T) {
		t.Parallel()
		var got atomic.Value
		bundle := setup(t, webhook.Config{}, func(_ http.ResponseWriter, r *http.Request) { got.Store(r.Header.Clone()) })

		_, err := bundle.deliverer.Send(bundle.ctx, post(bundle.server.URL, 5*time.Second,
			core.HeaderField{Name: "Content-Type", Value: "application/json"},
			core.HeaderField{Name: "X-CueAPI-Signature", Value: "v1=ours"},
			core.HeaderField{Name: "content-type", Value: "text/plain"},
			core.HeaderField{Name: "X-Cueapi-Signature", Value: "v1=theirs"},
		))
		require.NoError(t, err)
		h := got.Load().(http.Header)
		require.Equal(t, []string{"text/plain"}, h.Values("Content-Type"))
		require.Equal(t, []string{"v1=theirs"}, h.Values("X-Cueapi-Signature"))
	})

	t.Run("RefusesHTTPInProduction", func(t *testing.T) {
		t.Parallel()
		bundle := setup(t, webhook.Config{}, nil)
		guard := netguard.New(netguard.Config{Production: true, AllowedCIDRs: loopbackCIDRs, Resolver: bundle.resolver})
		deliverer := newDeliverer(t, guard, webhook.Config{})

		_, err := deliverer.Send(bundle.ctx, post(bundle.server.URL, 5*time.Second))
		requireFailure(t, err, core.DeliveryBlocked, netguard.MsgHTTPSOnly)
		require.Zero(t, bundle.hits.Load())
	})

	t.Run("ReportsConnectionRefusedWithFixedMessage", func(t *testing.T) {
		t.Parallel()
		bundle := setup(t, webhook.Config{}, nil)
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		addr := ln.Addr().String()
		require.NoError(t, ln.Close())

		_, err = bundle.deliverer.Send(bundle.ctx, post("http://"+addr, 5*time.Second))
		requireFailure(t, err, core.DeliveryConnect, webhook.MsgConnect)
	})

	t.Run("ReportsTLSFailureAsConnectError", func(t *testing.T) {
		t.Parallel()
		bundle := setup(t, webhook.Config{}, nil)
		untrusted := httptest.NewUnstartedServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
			t.Error("a server with an untrusted certificate must not get the request")
		}))
		untrusted.Config.ErrorLog = log.New(io.Discard, "", 0) // the handshake failures are expected
		untrusted.StartTLS()
		t.Cleanup(untrusted.Close)

		// Certificate signed by an unknown authority.
		_, err := bundle.deliverer.Send(bundle.ctx, post(untrusted.URL, 5*time.Second))
		requireFailure(t, err, core.DeliveryConnect, webhook.MsgConnect)
		// https spoken to a plain-http server.
		_, err = bundle.deliverer.Send(bundle.ctx, post("https://"+bundle.server.Listener.Addr().String(), 5*time.Second))
		requireFailure(t, err, core.DeliveryConnect, webhook.MsgConnect)
	})

	t.Run("ReportsTimeoutWithFixedMessage", func(t *testing.T) {
		t.Parallel()
		bundle := setup(t, webhook.Config{}, func(_ http.ResponseWriter, r *http.Request) {
			// Only once the body is read does the server notice the client
			// hanging up and cancel r.Context().
			_, _ = io.Copy(io.Discard, r.Body)
			<-r.Context().Done()
		})

		_, err := bundle.deliverer.Send(bundle.ctx, post(bundle.server.URL, 100*time.Millisecond))
		de := requireFailure(t, err, core.DeliveryTimeout, webhook.MsgTimeout)
		require.ErrorIs(t, de, context.DeadlineExceeded)
	})

	t.Run("ReusesConnections", func(t *testing.T) {
		t.Parallel()
		sizes := []int{0, 2, core.MaxResponseBytes - 1, core.MaxResponseBytes, core.MaxResponseBytes + 100}
		bundle := setup(t, webhook.Config{}, nil)
		var conns atomic.Int64
		server := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			n, _ := strconv.Atoi(r.URL.Query().Get("n"))
			if r.URL.Query().Has("sized") {
				w.Header().Set("Content-Length", strconv.Itoa(n))
			}
			_, _ = w.Write(bytes.Repeat([]byte("y"), n))
		}))
		server.Config.ConnState = func(_ net.Conn, s http.ConnState) {
			if s == http.StateNew {
				conns.Add(1)
			}
		}
		server.Start()
		t.Cleanup(server.Close)

		for range 3 {
			for _, n := range sizes {
				for _, sized := range []string{"", "&sized"} {
					resp, err := bundle.deliverer.Send(bundle.ctx, post(server.URL+"/?n="+strconv.Itoa(n)+sized, 5*time.Second))
					require.NoError(t, err)
					require.Len(t, resp.Body, min(n, core.MaxResponseBytes))
				}
			}
		}
		require.EqualValues(t, 1, conns.Load(), "every delivery should reuse the one keep-alive connection")
	})
}

// BenchmarkSend measures one delivery to a local keep-alive receiver: a
// signed-callback-sized POST answered by a short 200.
func BenchmarkSend(b *testing.B) {
	server := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		_, _ = io.WriteString(w, `{"ok": true}`)
	}))
	b.Cleanup(server.Close)
	guard := netguard.New(netguard.Config{AllowHTTP: true, AllowedCIDRs: loopbackCIDRs, Resolver: netguard.NewFakeResolver()})
	deliverer := newDeliverer(b, guard, webhook.Config{})
	req := &core.OutboundRequest{
		Method: http.MethodPost,
		URL:    server.URL + "/hook",
		Header: []core.HeaderField{
			{Name: "Content-Type", Value: "application/json"},
			{Name: "X-CueAPI-Signature", Value: "v1=0b5e8c4f2d9e6a7b1c3d5e7f9a0b2c4d6e8f0a1b3c5d7e9f1a2b4c6d8e0f1a2b"},
			{Name: "X-CueAPI-Timestamp", Value: "1767225600"},
			{Name: "X-CueAPI-Cue-Id", Value: "cue_abc123def456"},
			{Name: "X-CueAPI-Execution-Id", Value: "5f0c2a9e-4b1d-4c3e-9f8a-7b6c5d4e3f2a"},
			{Name: "X-CueAPI-Scheduled-For", Value: "2026-01-01T00:00:00+00:00"},
			{Name: "X-CueAPI-Attempt", Value: "1"},
		},
		Body: []byte(`{"attempt": 1, "cue_id": "cue_abc123def456", "execution_id": "5f0c2a9e-4b1d-4c3e-9f8a-7b6c5d4e3f2a", ` +
			`"name": "nightly", "payload": {"task": "daily_brief"}, "scheduled_for": "2026-01-01T00:00:00+00:00"}`),
		Timeout: 10 * time.Second,
	}
	ctx := b.Context()

	b.Run("Serial", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			resp, err := deliverer.Send(ctx, req)
			if err != nil || resp.Status != http.StatusOK {
				b.Fatalf("send: %v %v", resp, err)
			}
		}
	})

	b.Run("Parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				resp, err := deliverer.Send(ctx, req)
				if err != nil || resp.Status != http.StatusOK {
					b.Errorf("send: %v %v", resp, err)
					return
				}
			}
		})
	})
}
