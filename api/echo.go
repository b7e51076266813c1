package api

import (
	"context"

	"github.com/cueapi/cueapi/api/apigen"
)

// EchoStore stores a test payload under a token.
func (s *Server) EchoStore(ctx context.Context, req apigen.EchoStoreRequestObject) (apigen.EchoStoreResponseObject, error) {
	var body []byte
	if req.Body != nil {
		body = *req.Body
	}
	hdrs := map[string]string{}
	if h := requestHeader(ctx); h != nil {
		for k, v := range h {
			if len(v) > 0 {
				hdrs[k] = v[0]
			}
		}
	}
	if err := s.deps.Echo.Put(ctx, string(req.Token), body, hdrs, clientIP(ctx)); err != nil {
		return nil, err
	}
	return apigen.EchoStore200JSONResponse{Stored: true}, nil
}

// EchoRetrieve reads a stored test payload.
func (s *Server) EchoRetrieve(ctx context.Context, req apigen.EchoRetrieveRequestObject) (apigen.EchoRetrieveResponseObject, error) {
	if _, err := s.user(ctx); err != nil {
		return nil, err
	}
	e, err := s.deps.Echo.Get(ctx, string(req.Token))
	if err != nil {
		return nil, err
	}
	if e == nil {
		return apigen.EchoRetrieve200JSONResponse{Status: apigen.EchoRetrieveResponseStatus("waiting")}, nil
	}
	at := pyTime(e.ReceivedAt)
	body := e.Body
	h := e.Headers
	return apigen.EchoRetrieve200JSONResponse{Status: apigen.EchoRetrieveResponseStatus("delivered"), Payload: &body, Headers: &h, ReceivedAt: &at}, nil
}
