package sqlkit

import (
	"encoding/json"

	"github.com/cueapi/cueapi/core"
)

// MessageRow mirrors a messages row and MessageInsert's parameters (I: the
// dialect's integer type, B its boolean type, T its time type).
type MessageRow[I int32 | int64, B bool | int64, T any] struct {
	ID                     string
	UserID                 string
	ToUserID               string
	FromAgentID            string
	ToAgentID              string
	ThreadID               string
	ReplyTo                *string
	Subject                *string
	Body                   string
	Preview                string
	Priority               I
	ExpectsReply           B
	ReplyToAgentID         *string
	DeliveryState          string
	Metadata               string
	IdempotencyKey         *string
	IdempotencyFingerprint *string
	CorrelationID          *string
	NotificationFor        *string
	DeliveryMode           *string
	EffectiveDeliveryMode  string
	LiveFallbackMode       *string
	SendAt                 *T
	Attempts               I
	NextAttemptAt          *T
	LeaseExpiresAt         *T
	LastError              *string
	CreatedAt              T
	UpdatedAt              T
	DeliveredAt            *T
	ReadAt                 *T
	AckedAt                *T
	FailedAt               *T
	ExpiresAt              T
	Destination            string
}

// MessageUpdateRow mirrors MessageUpdate's parameters.
type MessageUpdateRow[I int32 | int64, T any] struct {
	DeliveryState  string
	Attempts       I
	NextAttemptAt  *T
	LeaseExpiresAt *T
	LastError      *string
	UpdatedAt      T
	DeliveredAt    *T
	ReadAt         *T
	AckedAt        *T
	FailedAt       *T
	ID             string
}

// boolOf and boolArg convert between bool and the dialect's boolean type.
func boolOf[B bool | int64](v B) bool {
	switch b := any(v).(type) {
	case bool:
		return b
	case int64:
		return b != 0
	}
	return false
}

func boolArg[B bool | int64](v bool) B {
	var out B
	switch p := any(&out).(type) {
	case *bool:
		*p = v
	case *int64:
		if v {
			*p = 1
		}
	}
	return out
}

// MessageOf maps a row to a core.Message.
func MessageOf[I int32 | int64, B bool | int64, T any](r *MessageRow[I, B, T], at Times[T]) (*core.Message, error) {
	var d Decoder
	m := &core.Message{
		ID: core.MessageID(r.ID), TenantID: core.TenantID(r.UserID), ToTenantID: core.TenantID(r.ToUserID),
		FromAgentID: core.AgentID(r.FromAgentID), ToAgentID: core.AgentID(r.ToAgentID), ThreadID: core.MessageID(r.ThreadID),
		ReplyTo: Named[core.MessageID](r.ReplyTo), Subject: r.Subject, Body: r.Body, Preview: r.Preview,
		Priority: int(r.Priority), ExpectsReply: boolOf(r.ExpectsReply), ReplyToAgentID: Named[core.AgentID](r.ReplyToAgentID),
		State: r.DeliveryState, Metadata: json.RawMessage(r.Metadata), IdempotencyKey: r.IdempotencyKey,
		IdempotencyFingerprint: r.IdempotencyFingerprint, CorrelationID: r.CorrelationID,
		NotificationFor: Named[core.MessageID](r.NotificationFor), DeliveryMode: r.DeliveryMode,
		EffectiveDeliveryMode: r.EffectiveDeliveryMode, LiveFallbackMode: r.LiveFallbackMode,
		SendAt: TimePtr(&d, at, r.SendAt), Attempts: int(r.Attempts), NextAttemptAt: TimePtr(&d, at, r.NextAttemptAt),
		LeaseExpiresAt: TimePtr(&d, at, r.LeaseExpiresAt), LastError: r.LastError,
		CreatedAt: Time(&d, at, r.CreatedAt), UpdatedAt: Time(&d, at, r.UpdatedAt),
		DeliveredAt: TimePtr(&d, at, r.DeliveredAt), ReadAt: TimePtr(&d, at, r.ReadAt), AckedAt: TimePtr(&d, at, r.AckedAt),
		FailedAt: TimePtr(&d, at, r.FailedAt), ExpiresAt: Time(&d, at, r.ExpiresAt), Destination: r.Destination,
	}
	return m, d.Err
}

// MessageInsertOf maps a core.Message to MessageInsert's parameters.
func MessageInsertOf[I int32 | int64, B bool | int64, T any](m *core.Message, at Times[T]) *MessageRow[I, B, T] {
	return &MessageRow[I, B, T]{
		ID: string(m.ID), UserID: string(m.TenantID), ToUserID: string(m.ToTenantID), FromAgentID: string(m.FromAgentID),
		ToAgentID: string(m.ToAgentID), ThreadID: string(m.ThreadID), ReplyTo: Text(m.ReplyTo), Subject: m.Subject,
		Body: m.Body, Preview: m.Preview, Priority: Clamp[I](m.Priority), ExpectsReply: boolArg[B](m.ExpectsReply),
		ReplyToAgentID: Text(m.ReplyToAgentID), DeliveryState: m.State, Metadata: metadataText(m.Metadata),
		IdempotencyKey: m.IdempotencyKey, IdempotencyFingerprint: m.IdempotencyFingerprint, CorrelationID: m.CorrelationID,
		NotificationFor: Text(m.NotificationFor), DeliveryMode: m.DeliveryMode, EffectiveDeliveryMode: m.EffectiveDeliveryMode,
		LiveFallbackMode: m.LiveFallbackMode, SendAt: EncodePtr(at, m.SendAt), Attempts: Clamp[I](m.Attempts),
		NextAttemptAt: EncodePtr(at, m.NextAttemptAt), LeaseExpiresAt: EncodePtr(at, m.LeaseExpiresAt), LastError: m.LastError,
		CreatedAt: at.Encode(m.CreatedAt), UpdatedAt: at.Encode(m.UpdatedAt), DeliveredAt: EncodePtr(at, m.DeliveredAt),
		ReadAt: EncodePtr(at, m.ReadAt), AckedAt: EncodePtr(at, m.AckedAt), FailedAt: EncodePtr(at, m.FailedAt),
		ExpiresAt: at.Encode(m.ExpiresAt), Destination: m.Destination,
	}
}

// MessageUpdateOf maps the mutable fields of a core.Message to
// MessageUpdate's parameters.
func MessageUpdateOf[I int32 | int64, T any](m *core.Message, at Times[T]) *MessageUpdateRow[I, T] {
	return &MessageUpdateRow[I, T]{
		DeliveryState: m.State, Attempts: Clamp[I](m.Attempts), NextAttemptAt: EncodePtr(at, m.NextAttemptAt),
		LeaseExpiresAt: EncodePtr(at, m.LeaseExpiresAt), LastError: m.LastError, UpdatedAt: at.Encode(m.UpdatedAt),
		DeliveredAt: EncodePtr(at, m.DeliveredAt), ReadAt: EncodePtr(at, m.ReadAt), AckedAt: EncodePtr(at, m.AckedAt),
		FailedAt: EncodePtr(at, m.FailedAt), ID: string(m.ID),
	}
}

// MessagePushRecordRow mirrors MessagePushRecord's parameters.
type MessagePushRecordRow[I int32 | int64, T any] struct {
	DeliveryState string
	Attempts      I
	NextAttemptAt *T
	LastError     *string
	DeliveredAt   *T
	FailedAt      *T
	Now           T
	ID            string
	Attempt       I
}

// MessagePushRecordOf maps a push result to MessagePushRecord's parameters.
func MessagePushRecordOf[I int32 | int64, T any](r *core.MessagePushResult, now T, at Times[T]) *MessagePushRecordRow[I, T] {
	return &MessagePushRecordRow[I, T]{
		DeliveryState: r.State, Attempts: Clamp[I](r.Attempts), NextAttemptAt: EncodePtr(at, r.NextAttemptAt),
		LastError: r.LastError, DeliveredAt: EncodePtr(at, r.DeliveredAt), FailedAt: EncodePtr(at, r.FailedAt),
		Now: now, ID: string(r.ID), Attempt: Clamp[I](r.Attempt),
	}
}
