package main

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestMessagingTenancy: on every messaging route, another user's agent
// (by id and by slug-form address), message, inbox, sent view or secret is
// 404 — identical to an unknown one — and nothing of the owner's changes.
func TestMessagingTenancy(t *testing.T) {
	t.Parallel()
	for _, be := range backends() {
		t.Run(string(be), func(t *testing.T) {
			t.Parallel()
			w := newMsgWorld(t, be, nil)
			e := w.e
			e.getJSON("PATCH", "/v1/agents/"+w.b, w.key, `{"webhook_url":"https://hooks.example.com/b"}`, nil, http.StatusOK)
			secret := e.getJSON("GET", "/v1/agents/"+w.b+"/webhook-secret", w.key, "", nil, http.StatusOK)["webhook_secret"]
			msg := w.sendOK(w.a, `{"to":"`+w.bAddr+`","body":"private"}`, http.StatusCreated)["id"].(string)
			intruder := w.otherKey
			confirm := map[string]string{"X-Confirm-Destructive": "true"}

			routes := []struct {
				name, method, path, body string
				hdr                      map[string]string
				code                     string
			}{
				{"GetAgentByID", "GET", "/v1/agents/" + w.b, "", nil, "agent_not_found"},
				{"GetAgentBySlug", "GET", "/v1/agents/" + w.bAddr, "", nil, "agent_not_found"},
				{"GetDeletedAgent", "GET", "/v1/agents/" + w.b + "?include_deleted=true", "", nil, "agent_not_found"},
				{"UpdateAgent", "PATCH", "/v1/agents/" + w.b, `{"display_name":"pwned","webhook_url":null}`, nil, "agent_not_found"},
				{"DeleteAgent", "DELETE", "/v1/agents/" + w.b, "", nil, "agent_not_found"},
				{"GetSecret", "GET", "/v1/agents/" + w.b + "/webhook-secret", "", nil, "agent_not_found"},
				{"RegenerateSecret", "POST", "/v1/agents/" + w.b + "/webhook-secret/regenerate", `{}`, confirm, "agent_not_found"},
				{"Presence", "GET", "/v1/agents/" + w.b + "/presence", "", nil, "agent_not_found"},
				{"Inbox", "GET", "/v1/agents/" + w.b + "/inbox", "", nil, "agent_not_found"},
				{"InboxCount", "GET", "/v1/agents/" + w.bAddr + "/inbox?count_only=true", "", nil, "agent_not_found"},
				{"Sent", "GET", "/v1/agents/" + w.a + "/sent", "", nil, "agent_not_found"},
				{"GetMessage", "GET", "/v1/messages/" + msg, "", nil, "message_not_found"},
				{"ReadMessage", "POST", "/v1/messages/" + msg + "/read", `{}`, nil, "message_not_found"},
				{"AckMessage", "POST", "/v1/messages/" + msg + "/ack", `{}`, nil, "message_not_found"},
			}
			for _, rt := range routes {
				t.Run(rt.name, func(t *testing.T) {
					resp, raw := e.raw(rt.method, rt.path, intruder, rt.body, rt.hdr)
					env := requireClientError(t, resp, raw, http.StatusNotFound, rt.code)
					// Identical to a resource that does not exist at all.
					require.NotContains(t, env["message"], "private")
				})
			}
			// Replying into another user's thread is refused like an unknown parent.
			resp, raw := e.raw("POST", "/v1/messages", intruder, `{"to":"x@`+e.userSlug(intruder)+`","body":"x","reply_to":"`+msg+`"}`,
				map[string]string{"X-Cueapi-From-Agent": w.otherAgent})
			requireClientError(t, resp, raw, http.StatusNotFound, "reply_to_not_found")
			// Sending as another user's agent is 403 (clients.md §2.10.2 step 6).
			resp, raw = e.raw("POST", "/v1/messages", intruder, `{"to":"`+w.bAddr+`","body":"x"}`, map[string]string{"X-Cueapi-From-Agent": w.a})
			requireClientError(t, resp, raw, http.StatusForbidden, "from_agent_not_owned")

			// Nothing of the owner's changed.
			got := e.getJSON("GET", "/v1/agents/"+w.b, w.key, "", nil, http.StatusOK)
			require.Equal(t, "B", got["display_name"])
			require.Equal(t, "https://hooks.example.com/b", got["webhook_url"])
			require.Nil(t, got["deleted_at"])
			require.Equal(t, secret, e.getJSON("GET", "/v1/agents/"+w.b+"/webhook-secret", w.key, "", nil, http.StatusOK)["webhook_secret"])
			m := e.getJSON("GET", "/v1/messages/"+msg, w.key, "", nil, http.StatusOK)
			require.Equal(t, "queued", m["state"], "the intruder's inbox poll delivered nothing")
			require.Nil(t, m["read_at"])
			require.Nil(t, m["acked_at"])
			list := e.getJSON("GET", "/v1/agents", intruder, "", nil, http.StatusOK)
			require.EqualValues(t, 1, list["total"], "only the intruder's own agent")
		})
	}
}
