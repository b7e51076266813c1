package coretest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cueapi/cueapi/core"
)

var _ core.Deliverer = (*RecordingDeliverer)(nil)

// RecordingDeliverer is a core.Deliverer for core's unit tests: it records
// every request and answers from a script, never touching the network. Safe
// for concurrent use. The zero value is ready: with nothing scripted every
// Send answers 200 with an empty body.
type RecordingDeliverer struct {
	mu       sync.Mutex
	requests []*core.OutboundRequest
	script   []func(context.Context, *core.OutboundRequest) (*core.OutboundResponse, error)
	// sent is closed and replaced after each recorded request, waking Wait.
	sent chan struct{}
}

// NewRecordingDeliverer returns an empty RecordingDeliverer (the same as
// its zero value).
func NewRecordingDeliverer() *RecordingDeliverer { return &RecordingDeliverer{} }

// Script queues the answer of one future Send: resp and err are returned as
// given (err is typically a *core.DeliveryError; resp is ignored when err is
// set). Answers are used in the order scripted, one per Send.
func (d *RecordingDeliverer) Script(resp *core.OutboundResponse, err error) {
	d.ScriptFunc(func(context.Context, *core.OutboundRequest) (*core.OutboundResponse, error) {
		if err != nil {
			return nil, err
		}
		return resp, nil
	})
}

// ScriptFunc queues fn as the answer of one future Send, e.g. to block until
// ctx is done. fn runs after the request was recorded, outside any lock.
func (d *RecordingDeliverer) ScriptFunc(fn func(ctx context.Context, req *core.OutboundRequest) (*core.OutboundResponse, error)) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.script = append(d.script, fn)
}

// Send records a copy of req and returns the next scripted answer, or 200
// with an empty body when the script is exhausted. It ignores ctx unless a
// ScriptFunc answer looks at it.
func (d *RecordingDeliverer) Send(ctx context.Context, req *core.OutboundRequest) (*core.OutboundResponse, error) {
	d.mu.Lock()
	d.requests = append(d.requests, cloneOutboundRequest(req))
	var answer func(context.Context, *core.OutboundRequest) (*core.OutboundResponse, error)
	if len(d.script) > 0 {
		answer = d.script[0]
		d.script = d.script[1:]
	}
	if d.sent != nil {
		close(d.sent)
		d.sent = nil
	}
	d.mu.Unlock()

	if answer == nil {
		return &core.OutboundResponse{Status: http.StatusOK, Body: []byte{}}, nil
	}
	return answer(ctx, req)
}

// Requests returns copies of the requests sent so far, in the order Send
// was called.
func (d *RecordingDeliverer) Requests() []*core.OutboundRequest {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := make([]*core.OutboundRequest, len(d.requests))
	for i, r := range d.requests {
		out[i] = cloneOutboundRequest(r)
	}
	return out
}

// Wait blocks until at least n requests were sent or timeout passes, and
// reports whether n were reached. It waits on a signal, never by polling.
func (d *RecordingDeliverer) Wait(n int, timeout time.Duration) bool {
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	for {
		d.mu.Lock()
		if len(d.requests) >= n {
			d.mu.Unlock()
			return true
		}
		if d.sent == nil {
			d.sent = make(chan struct{})
		}
		sent := d.sent
		d.mu.Unlock()

		select {
		case <-sent:
		case <-timer.C:
			d.mu.Lock()
			defer d.mu.Unlock()
			return len(d.requests) >= n
		}
	}
}

func cloneOutboundRequest(r *core.OutboundRequest) *core.OutboundRequest {
	c := *r
	c.Header = append([]core.HeaderField(nil), r.Header...)
	if r.Body != nil {
		c.Body = append([]byte{}, r.Body...)
	}
	return &c
}

// DelivererTestHost is the host name the constructor given to
// RunDelivererContract must resolve to 127.0.0.1 (with a fake resolver: the
// suite never needs real DNS).
const DelivererTestHost = "receiver.test"

// RunDelivererContract runs the core.Deliverer contract against loopback
// httptest servers. newDeliverer is called once per subtest; with
// allowLoopback it must return a deliverer allowed to reach 127.0.0.0/8 and
// ::1 over http, without it one under the default policy (loopback blocked).
// In both cases DelivererTestHost must resolve to 127.0.0.1 and nothing may be
// dialed except loopback addresses.
//
// The contract (core.Deliverer, security.md §3.5–3.6, engine.md §5.2–5.5):
// method, headers and body arrive as given (no body for GET); a non-2xx or
// 3xx status is a response, redirects are not followed; at most
// core.MaxResponseBytes of the body is returned; Retry-After is parsed from
// seconds or an HTTP date; failures are *core.DeliveryError of the right kind
// with a Message that does not leak the raw error; blocked destinations
// receive nothing; concurrent sends are safe.
func RunDelivererContract(t *testing.T, newDeliverer func(t *testing.T, allowLoopback bool) core.Deliverer) {
	t.Helper()

	type received struct {
		method        string
		host          string
		path          string
		header        http.Header
		body          []byte
		contentLength int64
		chunked       bool
	}

	type testBundle struct {
		ctx       context.Context
		deliverer core.Deliverer
		server    *httptest.Server
		mu        sync.Mutex
		got       []received
		hits      atomic.Int64
	}

	// setup starts a receiver that records each request, then answers with
	// handler (200 "ok" when nil).
	setup := func(t *testing.T, allowLoopback bool, handler http.HandlerFunc) *testBundle {
		t.Helper()
		bundle := &testBundle{ctx: t.Context(), deliverer: newDeliverer(t, allowLoopback)}
		bundle.server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			bundle.hits.Add(1)
			body, _ := io.ReadAll(r.Body)
			bundle.mu.Lock()
			bundle.got = append(bundle.got, received{
				method: r.Method, host: r.Host, path: r.URL.Path, header: r.Header.Clone(), body: body,
				contentLength: r.ContentLength, chunked: len(r.TransferEncoding) > 0,
			})
			bundle.mu.Unlock()
			if handler == nil {
				_, _ = io.WriteString(w, "ok")
				return
			}
			handler(w, r)
		}))
		t.Cleanup(bundle.server.Close)
		return bundle
	}

	received1 := func(t *testing.T, bundle *testBundle) received {
		t.Helper()
		bundle.mu.Lock()
		defer bundle.mu.Unlock()
		require.Len(t, bundle.got, 1)
		return bundle.got[0]
	}

	// nameURL is the server's URL with DelivererTestHost instead of the IP.
	nameURL := func(t *testing.T, bundle *testBundle, path string) string {
		t.Helper()
		_, port, err := net.SplitHostPort(bundle.server.Listener.Addr().String())
		require.NoError(t, err)
		return "http://" + net.JoinHostPort(DelivererTestHost, port) + path
	}

	requireDeliveryError := func(t *testing.T, err error, kind core.DeliveryErrorKind, leak ...string) *core.DeliveryError {
		t.Helper()
		var de *core.DeliveryError
		require.ErrorAs(t, err, &de)
		require.Equal(t, kind, de.Kind, "error %v (underlying %v)", de, de.Err)
		require.NotEmpty(t, de.Message)
		require.NotNil(t, de.Err)
		for _, s := range leak {
			require.NotContains(t, de.Message, s, "the message must be a fixed text")
		}
		return de
	}

	t.Run("BlockedWithoutAllowList", func(t *testing.T) {
		t.Parallel()
		bundle := setup(t, false, nil)

		for _, u := range []string{bundle.server.URL + "/hook", nameURL(t, bundle, "/hook")} {
			resp, err := bundle.deliverer.Send(bundle.ctx, &core.OutboundRequest{
				Method: http.MethodPost, URL: u, Body: []byte(`{}`), Timeout: 5 * time.Second,
			})
			require.Nil(t, resp)
			requireDeliveryError(t, err, core.DeliveryBlocked, bundle.server.Listener.Addr().String())
		}
		require.Zero(t, bundle.hits.Load(), "a blocked destination must receive nothing")
	})

	t.Run("CanceledContextIsNotATimeout", func(t *testing.T) {
		t.Parallel()
		bundle := setup(t, true, nil)

		ctx, cancel := context.WithCancel(bundle.ctx)
		cancel()
		_, err := bundle.deliverer.Send(ctx, &core.OutboundRequest{
			Method: http.MethodPost, URL: bundle.server.URL, Timeout: 5 * time.Second,
		})
		de := requireDeliveryError(t, err, core.DeliveryOther)
		require.ErrorIs(t, de, context.Canceled)
	})

	t.Run("ConcurrentSendsAreSafe", func(t *testing.T) {
		t.Parallel()
		bundle := setup(t, true, func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.WriteString(w, r.Header.Get("X-Seq"))
		})

		const n = 50
		u := nameURL(t, bundle, "/hook")
		var wg sync.WaitGroup
		errs := make(chan error, n)
		for i := range n {
			wg.Go(func() {
				seq := strconv.Itoa(i)
				resp, err := bundle.deliverer.Send(bundle.ctx, &core.OutboundRequest{
					Method: http.MethodPost, URL: u,
					Header: []core.HeaderField{{Name: "X-Seq", Value: seq}}, Body: []byte(seq), Timeout: 10 * time.Second,
				})
				switch {
				case err != nil:
					errs <- err
				case resp.Status != http.StatusOK || string(resp.Body) != seq:
					errs <- fmt.Errorf("request %s: got %d %q", seq, resp.Status, resp.Body)
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			require.NoError(t, err)
		}
		require.EqualValues(t, n, bundle.hits.Load())
	})

	t.Run("ConnectionRefusedIsConnectError", func(t *testing.T) {
		t.Parallel()
		bundle := setup(t, true, nil)

		ln, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		addr := ln.Addr().String()
		require.NoError(t, ln.Close())

		_, err = bundle.deliverer.Send(bundle.ctx, &core.OutboundRequest{
			Method: http.MethodPost, URL: "http://" + addr + "/hook", Body: []byte(`{}`), Timeout: 5 * time.Second,
		})
		requireDeliveryError(t, err, core.DeliveryConnect, addr, "refused")
	})

	t.Run("DoesNotFollowRedirects", func(t *testing.T) {
		t.Parallel()
		var targetHits atomic.Int64
		target := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { targetHits.Add(1) }))
		t.Cleanup(target.Close)
		bundle := setup(t, true, func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/elsewhere" {
				targetHits.Add(1)
				return
			}
			location := target.URL + "/stolen"
			if r.URL.Path == "/relative" {
				location = "/elsewhere"
			}
			w.Header().Set("Location", location)
			w.WriteHeader(http.StatusFound)
			_, _ = io.WriteString(w, "moved")
		})

		for _, path := range []string{"/absolute", "/relative"} {
			resp, err := bundle.deliverer.Send(bundle.ctx, &core.OutboundRequest{
				Method: http.MethodPost, URL: bundle.server.URL + path, Body: []byte(`{}`), Timeout: 5 * time.Second,
			})
			require.NoError(t, err)
			require.Equal(t, http.StatusFound, resp.Status)
			require.Equal(t, "moved", string(resp.Body))
		}
		require.Zero(t, targetHits.Load(), "the Location target must never be requested")
		require.EqualValues(t, 2, bundle.hits.Load())
	})

	t.Run("KeepsHostNameInHostHeader", func(t *testing.T) {
		t.Parallel()
		bundle := setup(t, true, nil)

		_, port, err := net.SplitHostPort(bundle.server.Listener.Addr().String())
		require.NoError(t, err)
		_, err = bundle.deliverer.Send(bundle.ctx, &core.OutboundRequest{
			Method: http.MethodPost, URL: nameURL(t, bundle, "/named"), Body: []byte(`{}`), Timeout: 5 * time.Second,
		})
		require.NoError(t, err)
		got := received1(t, bundle)
		require.Equal(t, net.JoinHostPort(DelivererTestHost, port), got.host)
		require.Equal(t, "/named", got.path)
	})

	t.Run("ParsesRetryAfter", func(t *testing.T) {
		t.Parallel()
		date := time.Now().Add(time.Hour).UTC().Format(http.TimeFormat)
		bundle := setup(t, true, func(w http.ResponseWriter, r *http.Request) {
			if v := r.URL.Query().Get("v"); v != "" {
				w.Header().Set("Retry-After", v)
			}
			w.WriteHeader(http.StatusServiceUnavailable)
		})

		send := func(t *testing.T, value string) time.Duration {
			t.Helper()
			u := bundle.server.URL + "/hook"
			if value != "" {
				u += "?v=" + url.QueryEscape(value)
			}
			resp, err := bundle.deliverer.Send(bundle.ctx, &core.OutboundRequest{
				Method: http.MethodPost, URL: u, Timeout: 5 * time.Second,
			})
			require.NoError(t, err)
			require.Equal(t, http.StatusServiceUnavailable, resp.Status)
			return resp.RetryAfter
		}

		require.Equal(t, 120*time.Second, send(t, "120"))
		require.Equal(t, time.Duration(0), send(t, "0"))
		fromDate := send(t, date)
		require.Greater(t, fromDate, 58*time.Minute, "HTTP date %s", date)
		require.LessOrEqual(t, fromDate, time.Hour, "HTTP date %s", date)
		require.Zero(t, send(t, ""))
		require.Zero(t, send(t, "soon"))
		require.Zero(t, send(t, "-5"))
		require.Zero(t, send(t, time.Now().Add(-time.Hour).UTC().Format(http.TimeFormat)))
	})

	t.Run("ReadsAtMostMaxResponseBytes", func(t *testing.T) {
		t.Parallel()
		chunk := bytes.Repeat([]byte("x"), 32<<10)
		bundle := setup(t, true, func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Query().Has("length") {
				w.Header().Set("Content-Length", strconv.Itoa(1<<20))
			}
			for range (1 << 20) / len(chunk) {
				if _, err := w.Write(chunk); err != nil {
					return // the client hung up, as it may
				}
			}
		})

		for _, u := range []string{bundle.server.URL + "/chunked", bundle.server.URL + "/sized?length"} {
			resp, err := bundle.deliverer.Send(bundle.ctx, &core.OutboundRequest{
				Method: http.MethodGet, URL: u, Timeout: 10 * time.Second,
			})
			require.NoError(t, err)
			require.Equal(t, http.StatusOK, resp.Status)
			require.Len(t, resp.Body, core.MaxResponseBytes)
		}
	})

	t.Run("ReturnsNon2xxAsResponse", func(t *testing.T) {
		t.Parallel()
		bundle := setup(t, true, func(w http.ResponseWriter, r *http.Request) {
			code, _ := strconv.Atoi(strings.TrimPrefix(r.URL.Path, "/"))
			w.WriteHeader(code)
			_, _ = fmt.Fprintf(w, "status %d", code)
		})

		for _, code := range []int{http.StatusNotFound, http.StatusInternalServerError} {
			resp, err := bundle.deliverer.Send(bundle.ctx, &core.OutboundRequest{
				Method: http.MethodPost, URL: bundle.server.URL + "/" + strconv.Itoa(code), Body: []byte(`{}`),
				Timeout: 5 * time.Second,
			})
			require.NoError(t, err)
			require.Equal(t, code, resp.Status)
			require.Equal(t, fmt.Sprintf("status %d", code), string(resp.Body))
			require.Zero(t, resp.RetryAfter)
		}
	})

	t.Run("SendsMethodHeadersAndBodyExactly", func(t *testing.T) {
		t.Parallel()

		for _, method := range []string{http.MethodGet, http.MethodPatch, http.MethodPost, http.MethodPut} {
			t.Run(method, func(t *testing.T) {
				t.Parallel()
				bundle := setup(t, true, func(w http.ResponseWriter, _ *http.Request) {
					w.WriteHeader(http.StatusCreated)
					_, _ = io.WriteString(w, `{"received": true}`)
				})

				body := []byte(`{"attempt": 1, "payload": {"emoji": "\ud83d\ude00"}}`)
				resp, err := bundle.deliverer.Send(bundle.ctx, &core.OutboundRequest{
					Method: method,
					URL:    bundle.server.URL + "/hooks/in?x=1",
					Header: []core.HeaderField{
						{Name: "Content-Type", Value: "application/json"},
						{Name: "X-CueAPI-Signature", Value: "v1=abc"},
						{Name: "X-CueAPI-Attempt", Value: "1"},
						{Name: "User-Agent", Value: "Receiver-Test/2"},
						{Name: "x-custom", Value: "a, b"},
					},
					Body:    body,
					Timeout: 5 * time.Second,
				})
				require.NoError(t, err)
				require.Equal(t, http.StatusCreated, resp.Status)
				require.Equal(t, `{"received": true}`, string(resp.Body))

				got := received1(t, bundle)
				require.Equal(t, method, got.method)
				require.Equal(t, "/hooks/in", got.path)
				require.Equal(t, []string{"application/json"}, got.header.Values("Content-Type"))
				require.Equal(t, []string{"v1=abc"}, got.header.Values("X-Cueapi-Signature"))
				require.Equal(t, []string{"1"}, got.header.Values("X-Cueapi-Attempt"))
				require.Equal(t, []string{"Receiver-Test/2"}, got.header.Values("User-Agent"))
				require.Equal(t, []string{"a, b"}, got.header.Values("X-Custom"))
				require.False(t, got.chunked, "the body is sent with a Content-Length")
				if method == http.MethodGet {
					require.Empty(t, got.body)
					require.Zero(t, got.contentLength)
					return
				}
				require.Equal(t, body, got.body)
				require.EqualValues(t, len(body), got.contentLength)
			})
		}
	})

	t.Run("TimesOut", func(t *testing.T) {
		t.Parallel()
		release := make(chan struct{})
		bundle := setup(t, true, func(_ http.ResponseWriter, r *http.Request) {
			select {
			case <-release:
			case <-r.Context().Done():
			}
		})
		t.Cleanup(func() { close(release) }) // runs before the server's Close

		resp, err := bundle.deliverer.Send(bundle.ctx, &core.OutboundRequest{
			Method: http.MethodPost, URL: bundle.server.URL + "/slow", Body: []byte(`{}`), Timeout: 200 * time.Millisecond,
		})
		require.Nil(t, resp)
		de := requireDeliveryError(t, err, core.DeliveryTimeout, "deadline", "context")
		require.False(t, errors.Is(de, context.Canceled), "a timeout is not a cancellation")
	})
}
