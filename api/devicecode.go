package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"html/template"
	"net/url"

	"github.com/cueapi/cueapi/api/apigen"
	"github.com/cueapi/cueapi/core"
)

// The two HTML pages are rendered with html/template, which escapes every
// value for its context (HTML text, attribute, or JavaScript string), and
// carry a nonce-based Content-Security-Policy set by the pipeline.

var devicePage = template.Must(template.New("device").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>CueAPI Login</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style nonce="{{.Nonce}}">body{font-family:system-ui,sans-serif;max-width:28rem;margin:4rem auto;padding:0 1rem}code{font-size:1.4rem}input,button{font-size:1rem;padding:.5rem}#msg{margin-top:1rem}</style>
</head><body>
<h1>CueAPI Login</h1>
<p>Confirm that this code matches the one shown in your terminal:</p>
<p><code id="code" data-code="{{.Code}}">{{.Code}}</code></p>
<form id="f"><label>Email <input id="email" type="email" required autocomplete="email"></label> <button type="submit">Send magic link</button></form>
<p id="msg" role="status"></p>
<script nonce="{{.Nonce}}">
const code = document.getElementById("code").dataset.code;
document.getElementById("f").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const msg = document.getElementById("msg");
  try {
    const r = await fetch("/v1/auth/device-code/submit-email", {method: "POST", headers: {"Content-Type": "application/json"},
      body: JSON.stringify({device_code: code, email: document.getElementById("email").value})});
    const j = await r.json();
    if (j.status === "email_sent") { msg.textContent = "Check your email for the sign-in link."; return; }
    msg.textContent = (j.error && j.error.message) || (j.detail && j.detail.error && j.detail.error.message) || "Something went wrong";
  } catch (e) { msg.textContent = "Something went wrong"; }
});
</script>
</body></html>`))

var verifiedPage = template.Must(template.New("verified").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>CueAPI - Verified</title></head><body>
<h1>Signed in</h1>
{{if .Redirect}}<p>Redirecting to dashboard...</p>
<noscript><p>You can close this tab and return to your terminal.</p></noscript>
<script nonce="{{.Nonce}}">
const auth = {{.Auth}};
setTimeout(() => { window.location.href = {{.Redirect}} + "/login#auth=" + encodeURIComponent(JSON.stringify(auth)); }, 500);
</script>{{else}}<p>You can close this tab and return to your terminal.</p>{{end}}
</body></html>`))

var errorPage = template.Must(template.New("error").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>CueAPI - Error</title></head><body>
<h1>Verification Failed</h1><p>{{.Message}}</p>
</body></html>`))

func render(t *template.Template, data any) (*bytes.Buffer, error) {
	var b bytes.Buffer
	if err := t.Execute(&b, data); err != nil {
		return nil, err
	}
	return &b, nil
}

func (s *Server) deviceLogin() (*core.DeviceLogin, error) { return s.deps.DeviceLogin, nil }

// CreateDeviceCode starts a device-code login.
func (s *Server) CreateDeviceCode(ctx context.Context, req apigen.CreateDeviceCodeRequestObject) (apigen.CreateDeviceCodeResponseObject, error) {
	dl, err := s.deviceLogin()
	if err != nil {
		return nil, err
	}
	u, err := dl.Create(ctx, req.Body.DeviceCode, clientIP(ctx))
	if err != nil {
		return nil, err
	}
	return apigen.CreateDeviceCode201JSONResponse{VerificationURL: u, ExpiresIn: int(core.DeviceCodeTTL.Seconds())}, nil
}

// PollDeviceCode reports a device code's state.
func (s *Server) PollDeviceCode(ctx context.Context, req apigen.PollDeviceCodeRequestObject) (apigen.PollDeviceCodeResponseObject, error) {
	dl, err := s.deviceLogin()
	if err != nil {
		return nil, err
	}
	r, err := dl.Poll(ctx, req.Body.DeviceCode)
	if err != nil {
		return nil, err
	}
	out := apigen.DeviceCodePollResponse{Status: apigen.DeviceCodeStatus(r.Status), APIKey: r.APIKey, Email: r.Email, SessionToken: r.SessionToken}
	if r.ExistingUser {
		t := true
		out.ExistingUser = &t
	}
	return apigen.PollDeviceCode200JSONResponse(out), nil
}

// SubmitDeviceCodeEmail sends the magic link.
func (s *Server) SubmitDeviceCodeEmail(ctx context.Context, req apigen.SubmitDeviceCodeEmailRequestObject) (apigen.SubmitDeviceCodeEmailResponseObject, error) {
	dl, err := s.deviceLogin()
	if err != nil {
		return nil, err
	}
	if err := dl.SubmitEmail(ctx, req.Body.DeviceCode, req.Body.Email, clientIP(ctx)); err != nil {
		return nil, err
	}
	return apigen.SubmitDeviceCodeEmail200JSONResponse{Status: apigen.DeviceCodeStatus("email_sent")}, nil
}

// VerifyMagicLink is the magic-link target page.
func (s *Server) VerifyMagicLink(ctx context.Context, req apigen.VerifyMagicLinkRequestObject) (apigen.VerifyMagicLinkResponseObject, error) {
	dl, err := s.deviceLogin()
	if err != nil {
		return nil, err
	}
	v, err := dl.Verify(ctx, req.Params.DeviceCode, req.Params.Token)
	if err != nil {
		msg := ""
		for _, known := range []error{core.ErrVerifyNotFound, core.ErrVerifyExpired, core.ErrVerifyStatus, core.ErrVerifyToken, core.ErrVerifyClosed} {
			if errors.Is(err, known) {
				msg = known.Error()
			}
		}
		if msg == "" {
			return nil, err
		}
		b, rerr := render(errorPage, map[string]string{"Message": msg})
		if rerr != nil {
			return nil, rerr
		}
		return apigen.VerifyMagicLink400TextHTMLCharsetUTF8Response{Body: b, ContentLength: int64(b.Len())}, nil
	}
	redirect := dl.DashboardRedirect()
	if redirect != "" {
		if u, err := url.Parse(redirect); err != nil || (u.Scheme != "https" && u.Scheme != "http") {
			redirect = ""
		}
	}
	auth, _ := json.Marshal(map[string]string{"sessionToken": v.SessionToken, "email": v.Email})
	b, err := render(verifiedPage, map[string]any{"Nonce": cspNonce(ctx), "Redirect": redirect, "Auth": template.JS(jsonForScript(auth))})
	if err != nil {
		return nil, err
	}
	return apigen.VerifyMagicLink200TextHTMLCharsetUTF8Response{Body: b, ContentLength: int64(b.Len())}, nil
}

// jsonForScript makes JSON safe inside a <script> element.
func jsonForScript(b []byte) string {
	var out bytes.Buffer
	json.HTMLEscape(&out, b) // escapes <, >, & and U+2028/U+2029
	return out.String()
}

// DeviceLoginPage is the device-code login page.
func (s *Server) DeviceLoginPage(ctx context.Context, req apigen.DeviceLoginPageRequestObject) (apigen.DeviceLoginPageResponseObject, error) {
	b, err := render(devicePage, map[string]string{"Nonce": cspNonce(ctx), "Code": req.Params.Code})
	if err != nil {
		return nil, err
	}
	return apigen.DeviceLoginPage200TextHTMLCharsetUTF8Response{Body: b, ContentLength: int64(b.Len())}, nil
}

// CreateSession exchanges a one-time token for a session JWT.
func (s *Server) CreateSession(ctx context.Context, req apigen.CreateSessionRequestObject) (apigen.CreateSessionResponseObject, error) {
	dl, err := s.deviceLogin()
	if err != nil {
		return nil, err
	}
	jwt, email, err := dl.ExchangeSession(ctx, req.Body.Token)
	if err != nil {
		return nil, err
	}
	return apigen.CreateSession200JSONResponse{SessionToken: jwt, Email: email}, nil
}
