package api

import (
	"context"

	"github.com/cueapi/cueapi/api/apigen"
	"github.com/cueapi/cueapi/core"
)

// Register creates an account.
func (s *Server) Register(ctx context.Context, req apigen.RegisterRequestObject) (apigen.RegisterResponseObject, error) {
	key, u, err := s.deps.Accounts.Register(ctx, req.Body.Email)
	if err != nil {
		return nil, err
	}
	return apigen.Register201JSONResponse{APIKey: key, Email: u.Email}, nil
}

// RegenerateKey rotates the caller's API key.
func (s *Server) RegenerateKey(ctx context.Context, req apigen.RegenerateKeyRequestObject) (apigen.RegenerateKeyResponseObject, error) {
	u, err := s.user(ctx)
	if err != nil {
		return nil, err
	}
	key, err := s.deps.Accounts.RegenerateKey(ctx, u, confirmed((*string)(req.Params.XConfirmDestructive)))
	if err != nil {
		return nil, err
	}
	return apigen.RegenerateKey200JSONResponse{APIKey: key, PreviousKeyRevoked: true}, nil
}

// RevealKey shows the caller's key when a sealed copy exists.
func (s *Server) RevealKey(ctx context.Context, _ apigen.RevealKeyRequestObject) (apigen.RevealKeyResponseObject, error) {
	u, err := s.user(ctx)
	if err != nil {
		return nil, err
	}
	r := s.deps.Accounts.RevealKey(ctx, u)
	out := apigen.RevealKeyResponse{APIKey: r.Key}
	if r.Key == nil {
		out.Prefix, out.Message = &r.Prefix, &r.Message
	}
	return apigen.RevealKey200JSONResponse(out), nil
}

// GetMe returns the account summary.
func (s *Server) GetMe(ctx context.Context, _ apigen.GetMeRequestObject) (apigen.GetMeResponseObject, error) {
	u, err := s.user(ctx)
	if err != nil {
		return nil, err
	}
	me, err := s.deps.Accounts.GetMe(ctx, u)
	if err != nil {
		return nil, err
	}
	if me.ExecutionsThisMonth, err = s.deps.Usage.ExecutionsThisMonth(ctx, u); err != nil {
		return nil, err
	}
	return apigen.GetMe200JSONResponse{
		Email: me.User.Email, Slug: me.User.Slug, Plan: me.User.Plan, ActiveCues: me.ActiveCues, ActiveCueLimit: me.User.ActiveCueLimit,
		ExecutionsThisMonth: me.ExecutionsThisMonth, MonthlyExecutionLimit: me.User.MonthlyExecutionLimit,
		RateLimitPerMinute: me.User.RateLimitPerMinute, HasWebhookSecret: me.HasWebhookSecret, APIKeyPrefix: me.User.APIKeyPrefix,
	}, nil
}

// UpdateMe changes the email or the alert webhook URL.
func (s *Server) UpdateMe(ctx context.Context, req apigen.UpdateMeRequestObject) (apigen.UpdateMeResponseObject, error) {
	u, err := s.user(ctx)
	if err != nil {
		return nil, err
	}
	at, err := s.deps.Accounts.UpdateMe(ctx, u, core.UpdateMeInput{Email: req.Body.Email, AlertWebhookURL: req.Body.AlertWebhookURL})
	if err != nil {
		return nil, err
	}
	return apigen.UpdateMe200JSONResponse{UpdatedAt: pyTime(at)}, nil
}

// GetAlertWebhookSecret returns (and lazily creates) the alert secret.
func (s *Server) GetAlertWebhookSecret(ctx context.Context, _ apigen.GetAlertWebhookSecretRequestObject) (apigen.GetAlertWebhookSecretResponseObject, error) {
	u, err := s.user(ctx)
	if err != nil {
		return nil, err
	}
	sec, err := s.deps.Accounts.AlertWebhookSecret(ctx, u)
	if err != nil {
		return nil, err
	}
	return apigen.GetAlertWebhookSecret200JSONResponse{AlertWebhookSecret: sec}, nil
}

// RegenerateAlertWebhookSecret replaces the alert secret.
func (s *Server) RegenerateAlertWebhookSecret(ctx context.Context, req apigen.RegenerateAlertWebhookSecretRequestObject) (apigen.RegenerateAlertWebhookSecretResponseObject, error) {
	u, err := s.user(ctx)
	if err != nil {
		return nil, err
	}
	sec, err := s.deps.Accounts.RegenerateAlertWebhookSecret(ctx, u, confirmed((*string)(req.Params.XConfirmDestructive)))
	if err != nil {
		return nil, err
	}
	return apigen.RegenerateAlertWebhookSecret200JSONResponse{AlertWebhookSecret: sec, PreviousSecretRevoked: true}, nil
}

// GetWebhookSecret returns the webhook signing secret.
func (s *Server) GetWebhookSecret(ctx context.Context, _ apigen.GetWebhookSecretRequestObject) (apigen.GetWebhookSecretResponseObject, error) {
	u, err := s.user(ctx)
	if err != nil {
		return nil, err
	}
	sec, err := s.deps.Accounts.WebhookSecret(ctx, u)
	if err != nil {
		return nil, err
	}
	return apigen.GetWebhookSecret200JSONResponse{WebhookSecret: sec}, nil
}

// RegenerateWebhookSecret replaces the webhook signing secret.
func (s *Server) RegenerateWebhookSecret(ctx context.Context, req apigen.RegenerateWebhookSecretRequestObject) (apigen.RegenerateWebhookSecretResponseObject, error) {
	u, err := s.user(ctx)
	if err != nil {
		return nil, err
	}
	sec, err := s.deps.Accounts.RegenerateWebhookSecret(ctx, u, confirmed((*string)(req.Params.XConfirmDestructive)))
	if err != nil {
		return nil, err
	}
	return apigen.RegenerateWebhookSecret200JSONResponse{WebhookSecret: sec, PreviousSecretRevoked: true}, nil
}

// RefreshSession issues a new 24-hour session JWT.
func (s *Server) RefreshSession(ctx context.Context, _ apigen.RefreshSessionRequestObject) (apigen.RefreshSessionResponseObject, error) {
	u, err := s.user(ctx)
	if err != nil {
		return nil, err
	}
	tok, err := s.deps.Accounts.RefreshSession(ctx, u)
	if err != nil {
		return nil, err
	}
	return apigen.RefreshSession200JSONResponse{SessionToken: tok, Email: u.Email}, nil
}

// ---- cues ----
