package api

import (
	"context"
	"time"

	"github.com/cueapi/cueapi/api/apigen"
	"github.com/cueapi/cueapi/core"
)

// CreateSubscription subscribes an agent to an event type.
func (s *Server) CreateSubscription(ctx context.Context, req apigen.CreateSubscriptionRequestObject) (apigen.CreateSubscriptionResponseObject, error) {
	u, err := s.user(ctx)
	if err != nil {
		return nil, err
	}
	in := core.SubscriptionInput{EventType: req.Body.EventType, Target: string(req.Body.DeliveryTarget), WebhookURL: req.Body.WebhookURL}
	if req.Body.InlineBody != nil {
		in.InlineBody = *req.Body.InlineBody
	}
	sub, err := s.deps.Events.Subscribe(ctx, u, req.Ref, in)
	if err != nil {
		return nil, err
	}
	return apigen.CreateSubscription201JSONResponse(subscriptionOut(sub)), nil
}

// ListSubscriptions lists an agent's active subscriptions.
func (s *Server) ListSubscriptions(ctx context.Context, req apigen.ListSubscriptionsRequestObject) (apigen.ListSubscriptionsResponseObject, error) {
	u, err := s.user(ctx)
	if err != nil {
		return nil, err
	}
	subs, err := s.deps.Events.Subscriptions(ctx, u, req.Ref)
	if err != nil {
		return nil, err
	}
	out := apigen.SubscriptionList{Subscriptions: make([]apigen.Subscription, 0, len(subs))}
	for _, sub := range subs {
		sub.Secret = nil
		out.Subscriptions = append(out.Subscriptions, subscriptionOut(sub))
	}
	return apigen.ListSubscriptions200JSONResponse(out), nil
}

// DetachSubscription detaches a subscription (idempotent).
func (s *Server) DetachSubscription(ctx context.Context, req apigen.DetachSubscriptionRequestObject) (apigen.DetachSubscriptionResponseObject, error) {
	u, err := s.user(ctx)
	if err != nil {
		return nil, err
	}
	if err := s.deps.Events.Detach(ctx, u, req.Ref, req.SubscriptionID.String()); err != nil {
		return nil, err
	}
	return apigen.DetachSubscription200JSONResponse{Detached: true}, nil
}

// AckSubscription raises a subscription's acknowledgement watermark.
func (s *Server) AckSubscription(ctx context.Context, req apigen.AckSubscriptionRequestObject) (apigen.AckSubscriptionResponseObject, error) {
	u, err := s.user(ctx)
	if err != nil {
		return nil, err
	}
	if err := s.deps.Events.Ack(ctx, u, req.Ref, req.SubscriptionID.String(), req.Body.AckedEventID); err != nil {
		return nil, err
	}
	return apigen.AckSubscription200JSONResponse{Acked: true}, nil
}

// PullEvents reads an agent's events after a cursor (optionally held open).
func (s *Server) PullEvents(ctx context.Context, req apigen.PullEventsRequestObject) (apigen.PullEventsResponseObject, error) {
	u, err := s.user(ctx)
	if err != nil {
		return nil, err
	}
	in := core.PullInput{Limit: 100, Long: req.Params.Wait != nil && *req.Params.Wait == apigen.PullEventsParamsWaitLong}
	if req.Params.Since != nil {
		in.Since = *req.Params.Since
	}
	if req.Params.Limit != nil {
		in.Limit = *req.Params.Limit
	}
	if req.Params.EventType != nil {
		in.Type = *req.Params.EventType
	}
	page, err := s.deps.Events.Pull(ctx, u, req.Ref, in)
	if err != nil {
		return nil, err
	}
	out := apigen.EventPage{Events: make([]apigen.Event, 0, len(page.Events)), NextCursor: page.NextCursor, HasMore: page.HasMore}
	for _, e := range page.Events {
		out.Events = append(out.Events, apigen.Event{
			ID: e.ID, EventType: e.Type, RecipientAgentID: e.RecipientAgentID, Payload: e.Payload, EmittedAt: pyTimeMicro(e.EmittedAt),
		})
	}
	return apigen.PullEvents200JSONResponse(out), nil
}

// pyTimeMicro renders the +00:00 form always with microseconds (as the
// reference's event emitted_at).
func pyTimeMicro(t time.Time) string {
	return t.UTC().Format("2006-01-02T15:04:05.000000") + "+00:00"
}

func subscriptionOut(sub *core.Subscription) apigen.Subscription {
	out := apigen.Subscription{
		SubscriberAgentID: sub.AgentID, EventType: sub.EventType, DeliveryTarget: apigen.SubscriptionDeliveryTarget(sub.Target),
		WebhookURL: sub.RedactedURL(), WebhookSecret: sub.Secret, InlineBody: sub.InlineBody,
		LastDispatchedEventID: sub.LastDispatchedEventID, LastAckedEventID: sub.LastAckedEventID,
		ConsecutiveFailures: sub.ConsecutiveFailures, CreatedAt: pyTime(sub.CreatedAt),
	}
	_ = out.ID.UnmarshalText([]byte(sub.ID))
	if sub.LastDispatchedAt != nil {
		out.LastDispatchedAt = new(pyTime(*sub.LastDispatchedAt))
	}
	if sub.PausedUntil != nil {
		out.PausedUntil = new(pyTime(*sub.PausedUntil))
	}
	if sub.DetachedAt != nil {
		out.DetachedAt = new(pyTime(*sub.DetachedAt))
	}
	return out
}
