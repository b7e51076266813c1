// Package smtp is the mail relay adapter: core.MailSender over SMTP.
//
// SMTP_URL selects the relay and its security:
//
//	smtp://user:pass@host:587                 STARTTLS, required (the default)
//	smtps://user:pass@host:465                TLS from the first byte (implicit TLS)
//	smtp://host:25?starttls=off               no TLS at all: an explicit opt-out for
//	                                          a relay on the same host or network
//
// Credentials are sent only over TLS (or to a loopback relay). Messages are
// multipart/alternative: text/plain and text/html, quoted-printable, UTF-8.
package smtp

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"net/smtp"
	"net/textproto"
	"net/url"
	"strings"
	"time"

	"github.com/cueapi/cueapi/core"
)

// Security is how the connection to the relay is protected.
type Security int

// Connection security modes.
const (
	StartTLS    Security = iota // plain connect, then STARTTLS (required)
	ImplicitTLS                 // TLS from the first byte (smtps://)
	NoTLS                       // explicit opt-out (?starttls=off)
)

// Config configures a Sender.
type Config struct {
	// URL is SMTP_URL (see the package documentation).
	URL string
	// From is the sender, e.g. "CueAPI <noreply@example.com>".
	From string
	// TLSConfig overrides the TLS settings (tests add their own root CA);
	// ServerName defaults to the URL's host.
	TLSConfig *tls.Config
	// Timeout bounds one whole send when the context has no deadline
	// (default 30 s).
	Timeout time.Duration
	// Now stamps the Date header (default time.Now).
	Now func() time.Time
}

// Sender sends mail through one relay. Safe for concurrent use: every send
// opens its own connection (notifications are rare).
type Sender struct {
	addr     string
	host     string
	security Security
	user     string
	pass     string
	from     *mail.Address
	tls      *tls.Config
	timeout  time.Duration
	now      func() time.Time
}

var _ core.MailSender = (*Sender)(nil)

// New parses the configuration. Errors never quote the URL (it may hold a
// password).
func New(cfg Config) (*Sender, error) {
	u, err := url.Parse(cfg.URL)
	if err != nil || u.Host == "" || u.Opaque != "" {
		return nil, errors.New("SMTP_URL: not a valid smtp:// or smtps:// URL")
	}
	s := &Sender{host: u.Hostname(), timeout: cfg.Timeout, now: cfg.Now}
	port := u.Port()
	switch u.Scheme {
	case "smtp":
		s.security = StartTLS
		if port == "" {
			port = "587"
		}
	case "smtps":
		s.security = ImplicitTLS
		if port == "" {
			port = "465"
		}
	default:
		return nil, errors.New("SMTP_URL: the scheme must be smtp or smtps")
	}
	for k, v := range u.Query() {
		switch {
		case k == "starttls" && len(v) == 1 && (v[0] == "off" || v[0] == "false") && u.Scheme == "smtp":
			s.security = NoTLS
		case k == "starttls" && len(v) == 1 && (v[0] == "on" || v[0] == "true" || v[0] == "required"):
		default:
			return nil, fmt.Errorf("SMTP_URL: unknown option %q (only starttls=off on smtp:// is understood)", k)
		}
	}
	if u.User != nil {
		s.user = u.User.Username()
		s.pass, _ = u.User.Password()
	}
	s.addr = net.JoinHostPort(s.host, port)
	if cfg.From == "" {
		return nil, errors.New("SMTP_FROM: required with SMTP_URL (e.g. \"CueAPI <noreply@example.com>\")")
	}
	if s.from, err = mail.ParseAddress(cfg.From); err != nil {
		return nil, fmt.Errorf("SMTP_FROM: not an email address: %q", cfg.From)
	}
	if cfg.TLSConfig != nil {
		s.tls = cfg.TLSConfig.Clone()
	} else {
		s.tls = &tls.Config{MinVersion: tls.VersionTLS12}
	}
	if s.tls.ServerName == "" {
		s.tls.ServerName = s.host
	}
	if s.timeout <= 0 {
		s.timeout = 30 * time.Second
	}
	if s.now == nil {
		s.now = time.Now
	}
	return s, nil
}

// Security reports the connection mode chosen by the URL.
func (s *Sender) Security() Security { return s.security }

// SendMail implements core.MailSender. Refusals by the relay (5xx) wrap
// core.ErrMailRejected; everything else may be retried.
func (s *Sender) SendMail(ctx context.Context, m *core.Mail) error {
	to, err := mail.ParseAddress(m.To)
	if err != nil {
		return fmt.Errorf("%w: invalid recipient", core.ErrMailRejected)
	}
	msg, err := s.compose(to, m)
	if err != nil {
		return fmt.Errorf("%w: %v", core.ErrMailRejected, err)
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, s.timeout)
		defer cancel()
	}
	return classify(s.send(ctx, to.Address, msg))
}

func (s *Sender) send(ctx context.Context, to string, msg []byte) error {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", s.addr)
	if err != nil {
		return err
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	if s.security == ImplicitTLS {
		tc := tls.Client(conn, s.tls)
		if err := tc.HandshakeContext(ctx); err != nil {
			return err
		}
		conn = tc
	}
	c, err := smtp.NewClient(conn, s.host)
	if err != nil {
		return err
	}
	defer c.Close()
	if err := c.Hello("localhost"); err != nil {
		return err
	}
	if s.security == StartTLS {
		if ok, _ := c.Extension("STARTTLS"); !ok {
			return fmt.Errorf("%w: the relay does not offer STARTTLS (use smtps:// or, on a trusted network, ?starttls=off)", core.ErrMailRejected)
		}
		if err := c.StartTLS(s.tls); err != nil {
			return err
		}
	}
	if s.user != "" {
		// net/smtp refuses PLAIN over an unencrypted connection to anything
		// but a loopback relay.
		if err := c.Auth(smtp.PlainAuth("", s.user, s.pass, s.host)); err != nil {
			return err
		}
	}
	if err := c.Mail(s.from.Address); err != nil {
		return err
	}
	if err := c.Rcpt(to); err != nil {
		return err
	}
	w, err := c.Data()
	if err != nil {
		return err
	}
	if _, err := w.Write(msg); err != nil {
		return err
	}
	if err := w.Close(); err != nil {
		return err
	}
	// The relay accepted the message; a failing QUIT changes nothing.
	_ = c.Quit()
	return nil
}

// classify marks the relay's permanent refusals.
func classify(err error) error {
	var te *textproto.Error
	if errors.As(err, &te) && te.Code >= 500 {
		return fmt.Errorf("%w: %d %s", core.ErrMailRejected, te.Code, te.Msg)
	}
	return err
}

// compose renders the RFC 5322 message.
func (s *Sender) compose(to *mail.Address, m *core.Mail) ([]byte, error) {
	var b bytes.Buffer
	body := multipart.NewWriter(&b)
	domain := "localhost"
	if i := strings.LastIndexByte(s.from.Address, '@'); i >= 0 {
		domain = s.from.Address[i+1:]
	}
	id := make([]byte, 16)
	_, _ = rand.Read(id)
	subject := strings.Join(strings.Fields(m.Subject), " ")
	header := []string{
		"From: " + s.from.String(),
		"To: " + to.String(),
		"Subject: " + mime.QEncoding.Encode("utf-8", subject),
		"Date: " + s.now().Format(time.RFC1123Z),
		"Message-ID: <" + hex.EncodeToString(id) + "@" + domain + ">",
		"MIME-Version: 1.0",
		"Content-Type: multipart/alternative; boundary=\"" + body.Boundary() + "\"",
		"Auto-Submitted: auto-generated",
	}
	for _, h := range header {
		if strings.ContainsAny(h, "\r\n") {
			return nil, errors.New("header with a line break")
		}
	}
	var out bytes.Buffer
	out.WriteString(strings.Join(header, "\r\n") + "\r\n\r\n")
	for _, part := range []struct{ typ, content string }{{"text/plain", m.Text}, {"text/html", m.HTML}} {
		pw, err := body.CreatePart(textproto.MIMEHeader{
			"Content-Type":              {part.typ + "; charset=utf-8"},
			"Content-Transfer-Encoding": {"quoted-printable"},
		})
		if err != nil {
			return nil, err
		}
		qp := quotedprintable.NewWriter(pw)
		if _, err := qp.Write([]byte(strings.ReplaceAll(part.content, "\n", "\r\n"))); err != nil {
			return nil, err
		}
		if err := qp.Close(); err != nil {
			return nil, err
		}
	}
	if err := body.Close(); err != nil {
		return nil, err
	}
	out.Write(b.Bytes())
	return out.Bytes(), nil
}
