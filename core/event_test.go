package core_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cueapi/cueapi/core"
)

func TestMessageDeliveredEvent(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 3, 20, 10, 0, 0, 0, time.UTC)
	f := core.MessageEventFields{MessageID: "msg_a", SenderAgentID: "agt_s", RecipientAgentID: "agt_r", ThreadID: "msg_a", Priority: 2, Body: "hello"}
	payload := func(e *core.EventEmit) map[string]any {
		var m map[string]any
		require.NoError(t, json.Unmarshal(e.Payload, &m))
		return m
	}

	t.Run("WithoutInlineBodyCarriesTheMessageFacts", func(t *testing.T) {
		t.Parallel()
		e := core.MessageDeliveredEvent("u", f, false, now)
		require.Equal(t, core.EventMessageDelivered, e.Type)
		require.Equal(t, "message.delivered:msg_a", e.IdempotencyKey)
		require.Equal(t, 2, *e.Priority)
		require.Equal(t, map[string]any{"message_id": "msg_a", "sender_agent_id": "agt_s", "recipient_agent_id": "agt_r",
			"thread_id": "msg_a", "reply_to": nil, "priority": float64(2), "correlation_id": nil, "subject": nil}, payload(e))
	})

	t.Run("InlineBodyUpToTheLimitElseOmitted", func(t *testing.T) {
		t.Parallel()
		require.Equal(t, "hello", payload(core.MessageDeliveredEvent("u", f, true, now))["body"])
		big := f
		big.Body = strings.Repeat("é", core.EventInlineBodyMax/2) + "x" // one byte over
		m := payload(core.MessageDeliveredEvent("u", big, true, now))
		require.NotContains(t, m, "body")
		require.Equal(t, "size_too_large", m["body_omitted"])
		require.Equal(t, float64(core.EventInlineBodyMax+1), m["body_size_bytes"])
	})
}

func TestPayloadPriority(t *testing.T) {
	t.Parallel()
	for raw, want := range map[string]int{`{"priority":4}`: 4, `{"priority":9}`: 3, `{}`: 3, `{"priority":"1"}`: 3, `x`: 3, `{"priority":1.5}`: 3} {
		require.Equal(t, want, core.PayloadPriority(json.RawMessage(raw)), raw)
	}
}
