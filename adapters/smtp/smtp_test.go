package smtp_test

import (
	"context"
	"crypto/tls"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cueapi/cueapi/adapters/memlimiter"
	"github.com/cueapi/cueapi/adapters/smtp"
	"github.com/cueapi/cueapi/adapters/smtp/smtptest"
	"github.com/cueapi/cueapi/core"
)

func newSender(t *testing.T, srv *smtptest.Server) *smtp.Sender {
	t.Helper()
	s, err := smtp.New(smtp.Config{URL: srv.URL(), From: "CueAPI <noreply@example.com>", TLSConfig: &tls.Config{RootCAs: srv.RootCAs}})
	require.NoError(t, err)
	return s
}

func TestSendOverSTARTTLSWithAuth(t *testing.T) {
	t.Parallel()
	srv := smtptest.Start(t, smtptest.Options{TLS: true, User: "relay", Pass: "s3cret"})
	s := newSender(t, srv)
	require.Equal(t, smtp.StartTLS, s.Security())
	err := s.SendMail(context.Background(), &core.Mail{
		To: "ada@example.com", Subject: "[CueAPI] Execution failed: nightly — ünïcode\r\nBcc: evil@example.com",
		Text: "line one\n.leading dot\n" + strings.Repeat("x", 120), HTML: "<p>&lt;b&gt;</p>",
	})
	require.NoError(t, err)
	m := srv.Next(t)
	require.Equal(t, "noreply@example.com", m.From)
	require.Equal(t, []string{"ada@example.com"}, m.To)
	require.Equal(t, "[CueAPI] Execution failed: nightly — ünïcode Bcc: evil@example.com", m.Subject)
	require.Empty(t, m.Header.Get("Bcc"), "a line break in the subject must not add a header")
	require.Equal(t, "line one\n.leading dot\n"+strings.Repeat("x", 120), m.Text)
	require.Equal(t, "<p>&lt;b&gt;</p>", m.HTML)
	require.Equal(t, "auto-generated", m.Header.Get("Auto-Submitted"))
	require.NotEmpty(t, m.Header.Get("Message-Id"))
}

func TestSendOverImplicitTLS(t *testing.T) {
	t.Parallel()
	srv := smtptest.Start(t, smtptest.Options{Implicit: true, User: "relay", Pass: "pw"})
	s := newSender(t, srv)
	require.Equal(t, smtp.ImplicitTLS, s.Security())
	require.NoError(t, s.SendMail(context.Background(), &core.Mail{To: "b@example.com", Subject: "hi", Text: "t", HTML: "h"}))
	require.Equal(t, "hi", srv.Next(t).Subject)
}

func TestSTARTTLSIsRequiredUnlessTheURLOptsOut(t *testing.T) {
	t.Parallel()
	srv := smtptest.Start(t, smtptest.Options{}) // no TLS offered
	url := strings.TrimSuffix(srv.URL(), "?starttls=off")
	s, err := smtp.New(smtp.Config{URL: url, From: "noreply@example.com"})
	require.NoError(t, err)
	err = s.SendMail(context.Background(), &core.Mail{To: "b@example.com", Subject: "hi", Text: "t", HTML: "h"})
	require.ErrorIs(t, err, core.ErrMailRejected)
	require.Contains(t, err.Error(), "STARTTLS")
	select {
	case <-srv.Messages:
		t.Fatal("a message went out without TLS")
	default:
	}
	// The explicit opt-out sends in the clear.
	s, err = smtp.New(smtp.Config{URL: srv.URL(), From: "noreply@example.com"})
	require.NoError(t, err)
	require.Equal(t, smtp.NoTLS, s.Security())
	require.NoError(t, s.SendMail(context.Background(), &core.Mail{To: "b@example.com", Subject: "hi", Text: "t", HTML: "h"}))
	require.Equal(t, "hi", srv.Next(t).Subject)
}

func TestRelayRefusalIsPermanent(t *testing.T) {
	t.Parallel()
	srv := smtptest.Start(t, smtptest.Options{RejectRcpt: true})
	err := newSender(t, srv).SendMail(context.Background(), &core.Mail{To: "nobody@example.com", Subject: "s", Text: "t", HTML: "h"})
	require.ErrorIs(t, err, core.ErrMailRejected)
	require.Contains(t, err.Error(), "550")
}

func TestConfigErrors(t *testing.T) {
	t.Parallel()
	for name, tc := range map[string]struct{ url, from, want string }{
		"bad scheme":       {"http://u:hunter2@host", "a@b.c", "scheme must be smtp or smtps"},
		"not a url":        {"::hunter2", "a@b.c", "not a valid"},
		"unknown option":   {"smtp://u:hunter2@host?tls=maybe", "a@b.c", "unknown option"},
		"opt out on smtps": {"smtps://u:hunter2@host?starttls=off", "a@b.c", "unknown option"},
		"no from":          {"smtp://u:hunter2@host", "", "SMTP_FROM: required"},
		"bad from":         {"smtp://u:hunter2@host", "not an address", "SMTP_FROM"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := smtp.New(smtp.Config{URL: tc.url, From: tc.from})
			require.ErrorContains(t, err, tc.want)
			require.NotContains(t, err.Error(), "hunter2", "the password must never be echoed")
		})
	}
}

// The notifier retries a temporary refusal and the message still arrives.
func TestNotifierRetriesTemporaryFailures(t *testing.T) {
	t.Parallel()
	srv := smtptest.Start(t, smtptest.Options{FailFirst: 2})
	obs := &countingObserver{sent: make(chan bool, 4)}
	n := core.NewNotifier(core.NotifierConfig{Backoff: time.Millisecond, Observer: obs}, newSender(t, srv), nil, memlimiter.New(), core.SystemClock{}, nopLog{})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); n.Run(ctx) }()
	require.NoError(t, n.SendMagicLink(ctx, "ada@example.com", "http://127.0.0.1:1/v1/auth/verify?token=abc&device_code=ABCD-EFGH"))
	m := srv.Next(t)
	require.True(t, <-obs.sent)
	cancel()
	<-done
	require.Equal(t, "Your CueAPI sign-in link", m.Subject)
	require.Contains(t, m.Text, "http://127.0.0.1:1/v1/auth/verify?token=abc&device_code=ABCD-EFGH")
	require.Contains(t, m.HTML, `href="http://127.0.0.1:1/v1/auth/verify?token=abc&amp;device_code=ABCD-EFGH"`)
	require.Equal(t, 1, obs.ok)
	require.Equal(t, 0, obs.failed)
}

// A permanent refusal is not retried.
func TestNotifierGivesUpOnPermanentFailure(t *testing.T) {
	t.Parallel()
	srv := smtptest.Start(t, smtptest.Options{RejectRcpt: true})
	obs := &countingObserver{sent: make(chan bool, 4)}
	n := core.NewNotifier(core.NotifierConfig{Backoff: time.Hour, Observer: obs}, newSender(t, srv), nil, nil, core.SystemClock{}, nopLog{})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); n.Run(ctx) }()
	require.NoError(t, n.SendMagicLink(ctx, "ada@example.com", "http://x/"))
	select {
	case ok := <-obs.sent:
		require.False(t, ok) // with a 1 h backoff, a retry would never report
	case <-time.After(10 * time.Second):
		t.Fatal("the notifier did not give up")
	}
	cancel()
	<-done
}

type countingObserver struct {
	core.NopObserver
	ok, failed int
	sent       chan bool
}

func (o *countingObserver) MailSent(_ string, ok bool) {
	if ok {
		o.ok++
	} else {
		o.failed++
	}
	if o.sent != nil {
		o.sent <- ok
	}
}

type nopLog struct{}

func (nopLog) Info(string, ...any)  {}
func (nopLog) Warn(string, ...any)  {}
func (nopLog) Error(string, ...any) {}
