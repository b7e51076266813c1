package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cueapi/cueapi/core"
)

// TestWriteErrorOutage: a dependency outage is a 503 with Retry-After and
// its code, mirrored under detail; never a 500.
func TestWriteErrorOutage(t *testing.T) {
	for _, c := range []struct {
		err  error
		code string
	}{
		{core.Unavailable(errors.New("connection refused")), "service_unavailable"},
		{core.StorageFull(errors.New("disk full")), "storage_full"},
	} {
		var logs bytes.Buffer
		log := slog.New(slog.NewTextHandler(&logs, nil))
		w := httptest.NewRecorder()
		WriteError(w, httptest.NewRequest("GET", "/v1/cues", nil), log, c.err)
		require.Equal(t, http.StatusServiceUnavailable, w.Code)
		require.Equal(t, "5", w.Header().Get("Retry-After"))
		var body errorBody
		require.NoError(t, json.Unmarshal(w.Body.Bytes(), &body))
		require.Equal(t, c.code, body.Error.Code)
		require.Equal(t, http.StatusServiceUnavailable, *body.Error.Status)
		require.Equal(t, body.Error, body.Detail.Error)
		require.NotContains(t, w.Body.String(), "disk full", "the cause is logged, never sent")
		require.Contains(t, logs.String(), "dependency unavailable")
	}
}

// TestOutageLogAggregates: one WARN when an outage starts, then at most one
// summary per interval however many requests fail; a failure after a
// quiet interval is a new outage.
func TestOutageLogAggregates(t *testing.T) {
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	o := &outageLog{}
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	cause := errors.New("refused")
	for i := range 100 {
		o.failed(log, "service_unavailable", cause, t0.Add(time.Duration(i)*100*time.Millisecond))
	}
	require.Equal(t, 1, strings.Count(logs.String(), "level=WARN"), logs.String())
	// 100 more failures spanning 2.5 intervals: two summaries.
	for i := range 100 {
		o.failed(log, "service_unavailable", cause, t0.Add(10*time.Second+time.Duration(i)*1500*time.Millisecond))
	}
	require.Equal(t, 2, strings.Count(logs.String(), "dependency still unavailable"), logs.String())
	require.Equal(t, 3, strings.Count(logs.String(), "level=WARN"))
	// Quiet for more than an interval: the next failure starts a new outage.
	o.failed(log, "service_unavailable", cause, t0.Add(time.Hour))
	require.Equal(t, 2, strings.Count(logs.String(), "dependency unavailable; answering 503"))
}
