package api_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/require"
)

// BenchmarkPipelineGetExecution serves GET /v1/executions/{id} through the
// whole handler (pipeline, validation, auth, SQLite store) in process: the
// per-request CPU and allocations of the HTTP pipeline, without the noise of
// a network load generator.
func BenchmarkPipelineGetExecution(b *testing.B) {
	e := newPipelineEnv(b)
	status, body := e.do("POST", "/v1/cues", e.key, []byte(`{"name":"bench","schedule":{"type":"once","at":"2099-01-01T00:00:00Z"},"callback":{"url":"https://hooks.example.com/x"}}`))
	require.Equal(b, http.StatusCreated, status, string(body))
	var cue struct {
		ID string `json:"id"`
	}
	require.NoError(b, json.Unmarshal(body, &cue))
	status, body = e.do("POST", "/v1/cues/"+cue.ID+"/fire", e.key, nil)
	require.Equal(b, http.StatusOK, status, string(body))
	var fire struct {
		ID string `json:"id"`
	}
	require.NoError(b, json.Unmarshal(body, &fire))
	req := httptest.NewRequest("GET", "/v1/executions/"+fire.ID, nil)
	req.Header.Set("Authorization", "Bearer "+e.key)
	b.ReportAllocs()
	for b.Loop() {
		rec := httptest.NewRecorder()
		e.handler.ServeHTTP(rec, req.Clone(req.Context()))
		if rec.Code != http.StatusOK {
			b.Fatal(rec.Code, rec.Body.String())
		}
	}
}

// BenchmarkPipelineGetCue serves GET /v1/cues/{id} (the detail: the cue,
// its statistics and a page of five executions) through the whole handler
// in process, like BenchmarkPipelineGetExecution.
func BenchmarkPipelineGetCue(b *testing.B) {
	e := newPipelineEnv(b)
	status, body := e.do("POST", "/v1/cues", e.key, []byte(`{"name":"bench","schedule":{"type":"once","at":"2099-01-01T00:00:00Z"},"callback":{"url":"https://hooks.example.com/x"},"payload":{"task":"nightly","n":1}}`))
	require.Equal(b, http.StatusCreated, status, string(body))
	var cue struct {
		ID string `json:"id"`
	}
	require.NoError(b, json.Unmarshal(body, &cue))
	for range 5 {
		status, body = e.do("POST", "/v1/cues/"+cue.ID+"/fire", e.key, nil)
		require.Equal(b, http.StatusOK, status, string(body))
	}
	req := httptest.NewRequest("GET", "/v1/cues/"+cue.ID, nil)
	req.Header.Set("Authorization", "Bearer "+e.key)
	b.ReportAllocs()
	for b.Loop() {
		rec := httptest.NewRecorder()
		e.handler.ServeHTTP(rec, req.Clone(req.Context()))
		if rec.Code != http.StatusOK {
			b.Fatal(rec.Code, rec.Body.String())
		}
	}
}
