package main

import (
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// The agent rows of spec/clients.md §4 (43–51), on both stores.

// createAgent creates an agent and returns the 201 body.
func (e *testEnv) createAgent(key, body string) map[string]any {
	e.t.Helper()
	return e.getJSON("POST", "/v1/agents", key, body, nil, http.StatusCreated)
}

// userSlug is the caller's user slug (GET /v1/auth/me).
func (e *testEnv) userSlug(key string) string {
	e.t.Helper()
	return e.getJSON("GET", "/v1/auth/me", key, "", nil, http.StatusOK)["slug"].(string)
}

func TestClientsAgents(t *testing.T) {
	t.Parallel()
	for _, be := range backends() {
		t.Run(string(be), func(t *testing.T) {
			t.Parallel()

			// §4 row 43: create with a webhook: slug derived, secret shown once.
			t.Run("CreateShowsSecretOnce", func(t *testing.T) {
				t.Parallel()
				e := newTestEnv(t, be, nil)
				key := e.register()
				a := e.createAgent(key, `{"display_name":"Ops Bot","webhook_url":"https://hooks.example.com/hook"}`)
				id := a["id"].(string)
				require.Regexp(t, `^agt_[a-z0-9]{12}$`, id)
				require.Equal(t, "ops-bot", a["slug"])
				require.Regexp(t, `^whsec_[0-9a-f]{64}$`, a["webhook_secret"])
				require.Equal(t, "online", a["status"])
				require.Nil(t, a["parent_agent_id"])
				got := e.getJSON("GET", "/v1/agents/"+id, key, "", nil, http.StatusOK)
				require.Nil(t, got["webhook_secret"])
				require.Equal(t, "https://hooks.example.com/hook", got["webhook_url"])
				sec := e.getJSON("GET", "/v1/agents/"+id+"/webhook-secret", key, "", nil, http.StatusOK)
				require.Equal(t, a["webhook_secret"], sec["webhook_secret"])
			})

			// §4 row 44: reserved and duplicate slugs.
			t.Run("ReservedAndTakenSlugs", func(t *testing.T) {
				t.Parallel()
				e := newTestEnv(t, be, nil)
				key := e.register()
				resp, raw := e.raw("POST", "/v1/agents", key, `{"display_name":"A","slug":"admin"}`, nil)
				requireClientError(t, resp, raw, http.StatusBadRequest, "reserved_slug")
				e.createAgent(key, `{"display_name":"A","slug":"ops"}`)
				resp, raw = e.raw("POST", "/v1/agents", key, `{"display_name":"B","slug":"ops"}`, nil)
				msg := requireClientError(t, resp, raw, http.StatusConflict, "slug_taken")
				require.Equal(t, "slug 'ops' already in use for this user", msg["message"])
				// A derived slug that is taken gets a suffix.
				b := e.createAgent(key, `{"display_name":"Ops"}`)
				require.Regexp(t, `^ops-[0-9a-f]{4}$`, b["slug"])
				resp, raw = e.raw("POST", "/v1/agents", key, `{"display_name":"A","bogus":1}`, nil)
				requireClientError(t, resp, raw, http.StatusUnprocessableEntity, "validation_error")
			})

			// §4 row 45: slug-form addresses.
			t.Run("SlugFormAddress", func(t *testing.T) {
				t.Parallel()
				e := newTestEnv(t, be, nil)
				key := e.register()
				a := e.createAgent(key, `{"display_name":"Ops Bot"}`)
				got := e.getJSON("GET", "/v1/agents/ops-bot@"+e.userSlug(key), key, "", nil, http.StatusOK)
				require.Equal(t, a["id"], got["id"])
				resp, raw := e.raw("GET", "/v1/agents/nope", key, "", nil)
				requireClientError(t, resp, raw, http.StatusBadRequest, "invalid_agent_address")
				resp, raw = e.raw("GET", "/v1/agents/@x", key, "", nil)
				env := requireClientError(t, resp, raw, http.StatusBadRequest, "invalid_agent_address")
				require.Equal(t, "slug-form address must be 'agent_slug@user_slug'", env["message"])
				resp, raw = e.raw("GET", "/v1/agents/agt_000000000000", key, "", nil)
				env = requireClientError(t, resp, raw, http.StatusNotFound, "agent_not_found")
				require.Equal(t, "agent agt_000000000000 not found", env["message"])
			})

			// §4 rows 46–47: clearing the webhook, secrets.
			t.Run("ClearWebhookAndSecrets", func(t *testing.T) {
				t.Parallel()
				e := newTestEnv(t, be, nil)
				key := e.register()
				id := e.createAgent(key, `{"display_name":"A","webhook_url":"https://hooks.example.com/a"}`)["id"].(string)
				resp, raw := e.raw("POST", "/v1/agents/"+id+"/webhook-secret/regenerate", key, `{}`, nil)
				requireClientError(t, resp, raw, http.StatusBadRequest, "confirmation_required")
				old := e.getJSON("GET", "/v1/agents/"+id+"/webhook-secret", key, "", nil, http.StatusOK)["webhook_secret"]
				fresh := e.getJSON("POST", "/v1/agents/"+id+"/webhook-secret/regenerate", key, `{}`, map[string]string{"X-Confirm-Destructive": "true"}, http.StatusOK)["webhook_secret"]
				require.NotEqual(t, old, fresh)
				require.Equal(t, fresh, e.getJSON("GET", "/v1/agents/"+id+"/webhook-secret", key, "", nil, http.StatusOK)["webhook_secret"])
				// A new URL keeps the secret.
				up := e.getJSON("PATCH", "/v1/agents/"+id, key, `{"webhook_url":"https://hooks.example.com/b"}`, nil, http.StatusOK)
				require.Equal(t, "https://hooks.example.com/b", up["webhook_url"])
				require.Equal(t, fresh, e.getJSON("GET", "/v1/agents/"+id+"/webhook-secret", key, "", nil, http.StatusOK)["webhook_secret"])
				up = e.getJSON("PATCH", "/v1/agents/"+id, key, `{"webhook_url":null}`, nil, http.StatusOK)
				require.Nil(t, up["webhook_url"])
				resp, raw = e.raw("GET", "/v1/agents/"+id+"/webhook-secret", key, "", nil)
				requireClientError(t, resp, raw, http.StatusNotFound, "no_webhook_secret")
				resp, raw = e.raw("POST", "/v1/agents/"+id+"/webhook-secret/regenerate", key, `{}`, map[string]string{"X-Confirm-Destructive": "true"})
				requireClientError(t, resp, raw, http.StatusConflict, "no_webhook_url")
				// Unchanged fields stay; slug is not patchable; status enum.
				up = e.getJSON("PATCH", "/v1/agents/"+id, key, `{"display_name":"Renamed","status":"away","metadata":{"description":"d"}}`, nil, http.StatusOK)
				require.Equal(t, "Renamed", up["display_name"])
				require.Equal(t, "away", up["status"])
				resp, raw = e.raw("PATCH", "/v1/agents/"+id, key, `{"slug":"x"}`, nil)
				requireClientError(t, resp, raw, http.StatusUnprocessableEntity, "validation_error")
				resp, raw = e.raw("PATCH", "/v1/agents/"+id, key, `{"status":"busy"}`, nil)
				requireClientError(t, resp, raw, http.StatusUnprocessableEntity, "validation_error")
			})

			// §4 row 48: soft delete.
			t.Run("SoftDelete", func(t *testing.T) {
				t.Parallel()
				e := newTestEnv(t, be, nil)
				key := e.register()
				id := e.createAgent(key, `{"display_name":"A"}`)["id"].(string)
				resp, raw := e.raw("DELETE", "/v1/agents/"+id, key, "", nil)
				require.Equal(t, http.StatusNoContent, resp.StatusCode, string(raw))
				resp, raw = e.raw("GET", "/v1/agents/"+id, key, "", nil)
				requireClientError(t, resp, raw, http.StatusNotFound, "agent_not_found")
				resp, raw = e.raw("DELETE", "/v1/agents/"+id, key, "", nil)
				requireClientError(t, resp, raw, http.StatusNotFound, "agent_not_found")
				got := e.getJSON("GET", "/v1/agents/"+id+"?include_deleted=true", key, "", nil, http.StatusOK)
				require.NotNil(t, got["deleted_at"])
				list := e.getJSON("GET", "/v1/agents", key, "", nil, http.StatusOK)
				require.EqualValues(t, 0, list["total"])
				list = e.getJSON("GET", "/v1/agents?include_deleted=true", key, "", nil, http.StatusOK)
				require.EqualValues(t, 1, list["total"])
				resp, raw = e.raw("GET", "/v1/agents?status=busy", key, "", nil)
				requireClientError(t, resp, raw, http.StatusBadRequest, "invalid_status")
			})

			// §4 rows 49–50: roster with ETag and 304, presence.
			t.Run("RosterAndPresence", func(t *testing.T) {
				t.Parallel()
				e := newTestEnv(t, be, nil)
				key := e.register()
				e.createAgent(key, `{"display_name":"Zed"}`)
				e.createAgent(key, `{"display_name":"Alpha","webhook_url":"https://hooks.example.com/a","metadata":{"description":"first"}}`)
				resp, raw := e.raw("GET", "/v1/agents/roster", key, "", nil)
				require.Equal(t, http.StatusOK, resp.StatusCode, string(raw))
				etag := resp.Header.Get("ETag")
				require.Regexp(t, `^W/"[0-9a-f]{16}"$`, etag)
				require.Equal(t, "private, max-age=300", resp.Header.Get("Cache-Control"))
				r := e.getJSON("GET", "/v1/agents/roster", key, "", nil, http.StatusOK)
				require.Equal(t, etag, r["etag"])
				agents := r["agents"].([]any)
				require.Len(t, agents, 2)
				first := agents[0].(map[string]any)
				require.Equal(t, "alpha", first["slug"])
				require.Equal(t, "alpha", first["name"])
				require.Equal(t, "first", first["description"])
				require.Equal(t, "sync", first["preferred_contact"])
				require.Equal(t, "offline", first["derived_status"], "never seen")
				require.Equal(t, "never", first["bucketed_seen"])
				require.Equal(t, false, first["online"])
				resp, raw = e.raw("GET", "/v1/agents/roster", key, "", map[string]string{"If-None-Match": etag})
				require.Equal(t, http.StatusNotModified, resp.StatusCode)
				require.Empty(t, raw)
				require.Equal(t, etag, resp.Header.Get("ETag"))

				p := e.getJSON("GET", "/v1/agents/zed/presence", key, "", nil, http.StatusBadRequest)
				require.Equal(t, "invalid_agent_address", p["error"].(map[string]any)["code"])
				p = e.getJSON("GET", "/v1/agents/zed@"+e.userSlug(key)+"/presence", key, "", nil, http.StatusOK)
				require.Equal(t, "zed", p["slug"])
				require.Equal(t, "offline", p["derived_status"])
				require.Nil(t, p["default_live"])
				require.True(t, strings.HasPrefix(p["etag"].(string), `W/"`))
			})

			// §4 row 51: a Live sibling.
			t.Run("LiveSibling", func(t *testing.T) {
				t.Parallel()
				e := newTestEnv(t, be, nil)
				key := e.register()
				bg := e.createAgent(key, `{"display_name":"Worker Bee"}`)
				live := e.createAgent(key, `{"display_name":"Live","parent_agent_id":"`+bg["id"].(string)+`"}`)
				require.Equal(t, bg["id"], live["parent_agent_id"])
				require.Equal(t, "worker-bee-live", live["slug"])
				resp, raw := e.raw("POST", "/v1/agents", key, `{"display_name":"L2","parent_agent_id":"`+live["id"].(string)+`"}`, nil)
				requireClientError(t, resp, raw, http.StatusBadRequest, "invalid_parent_agent")
				other := e.register()
				resp, raw = e.raw("POST", "/v1/agents", other, `{"display_name":"L3","parent_agent_id":"`+bg["id"].(string)+`"}`, nil)
				requireClientError(t, resp, raw, http.StatusNotFound, "agent_not_found")
			})

			// Bad input names the field; an SSRF webhook URL is refused.
			t.Run("BadInputNamesTheField", func(t *testing.T) {
				t.Parallel()
				e := newTestEnv(t, be, nil)
				key := e.register()
				resp, raw := e.raw("POST", "/v1/agents", key, `{"display_name":"A","webhook_url":"http://127.0.0.1:9/x"}`, nil)
				env := requireClientError(t, resp, raw, http.StatusBadRequest, "invalid_callback_url")
				require.Contains(t, env["message"], "webhook_url")
				resp, raw = e.raw("POST", "/v1/agents", key, `{"display_name":"A\u0000B"}`, nil)
				env = requireClientError(t, resp, raw, http.StatusUnprocessableEntity, "validation_error")
				require.Contains(t, env["message"], "display_name")
				list := e.getJSON("GET", "/v1/agents", key, "", nil, http.StatusOK)
				require.EqualValues(t, 0, list["total"], "nothing half-written")
			})
		})
	}
}
