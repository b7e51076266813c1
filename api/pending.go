package api

import (
	"context"

	"github.com/cueapi/cueapi/api/apigen"
)

// Endpoints owned by later work answer 501 not_implemented until then.

// CreateSession exchanges a device-code one-time token for a session JWT.
func (s *Server) CreateSession(context.Context, apigen.CreateSessionRequestObject) (apigen.CreateSessionResponseObject, error) {
	return nil, errNotImplemented
}

// CreateDeviceCode starts a device-code login.
func (s *Server) CreateDeviceCode(context.Context, apigen.CreateDeviceCodeRequestObject) (apigen.CreateDeviceCodeResponseObject, error) {
	return nil, errNotImplemented
}

// PollDeviceCode polls a device-code login.
func (s *Server) PollDeviceCode(context.Context, apigen.PollDeviceCodeRequestObject) (apigen.PollDeviceCodeResponseObject, error) {
	return nil, errNotImplemented
}

// SubmitDeviceCodeEmail sends the magic link.
func (s *Server) SubmitDeviceCodeEmail(context.Context, apigen.SubmitDeviceCodeEmailRequestObject) (apigen.SubmitDeviceCodeEmailResponseObject, error) {
	return nil, errNotImplemented
}

// VerifyMagicLink is the magic-link target page.
func (s *Server) VerifyMagicLink(context.Context, apigen.VerifyMagicLinkRequestObject) (apigen.VerifyMagicLinkResponseObject, error) {
	return nil, errNotImplemented
}

// DeviceLoginPage is the device-code login page.
func (s *Server) DeviceLoginPage(context.Context, apigen.DeviceLoginPageRequestObject) (apigen.DeviceLoginPageResponseObject, error) {
	return nil, errNotImplemented
}
