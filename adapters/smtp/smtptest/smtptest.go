// Package smtptest runs a real SMTP server inside a test (go-smtp) that
// receives messages and parses them: headers, the text/plain and the
// text/html part.
package smtptest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"io"
	"log"
	"math/big"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// Message is one received email.
type Message struct {
	From    string // envelope sender
	To      []string
	Header  mail.Header
	Subject string // decoded
	Text    string
	HTML    string
	Raw     string
}

// Options configure the server.
type Options struct {
	// TLS offers STARTTLS (on the plain listener) with a fresh self-signed
	// certificate for 127.0.0.1; RootCAs trusts it.
	TLS bool
	// Implicit serves TLS from the first byte (smtps://) instead.
	Implicit bool
	// User and Pass, when set, are required (AUTH PLAIN).
	User, Pass string
	// RejectRcpt answers 550 to every recipient.
	RejectRcpt bool
	// FailFirst answers 451 (temporary) to the first n messages.
	FailFirst int
}

// Server is a running test SMTP server.
type Server struct {
	Addr     string
	RootCAs  *x509.CertPool
	Messages chan *Message
	opts     Options
	failed   chan struct{}
}

// Start starts a server on 127.0.0.1; it stops when the test ends.
func Start(t testing.TB, opts Options) *Server {
	t.Helper()
	s := &Server{Messages: make(chan *Message, 64), opts: opts, failed: make(chan struct{}, opts.FailFirst+1)}
	for i := 0; i < opts.FailFirst; i++ {
		s.failed <- struct{}{}
	}
	srv := smtp.NewServer(smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) { return &session{s: s}, nil }))
	srv.Domain = "localhost"
	srv.ErrorLog = log.New(io.Discard, "", 0)
	srv.ReadTimeout, srv.WriteTimeout = 10*time.Second, 10*time.Second
	srv.AllowInsecureAuth = !opts.TLS && !opts.Implicit
	if opts.TLS || opts.Implicit {
		cert, pool := selfSigned(t)
		srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
		s.RootCAs = pool
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s.Addr = ln.Addr().String()
	if opts.Implicit {
		ln = tls.NewListener(ln, srv.TLSConfig)
		srv.TLSConfig = nil
	}
	done := make(chan struct{})
	go func() { defer close(done); _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close(); <-done })
	return s
}

// URL is an SMTP_URL for this server (STARTTLS off unless TLS was asked).
func (s *Server) URL() string {
	u := "smtp://"
	if s.opts.Implicit {
		u = "smtps://"
	}
	if s.opts.User != "" {
		u += s.opts.User + ":" + s.opts.Pass + "@"
	}
	u += s.Addr
	if !s.opts.TLS && !s.opts.Implicit {
		u += "?starttls=off"
	}
	return u
}

// Next returns the next received message, failing the test after 10 s.
func (s *Server) Next(t testing.TB) *Message {
	t.Helper()
	select {
	case m := <-s.Messages:
		return m
	case <-time.After(10 * time.Second):
		t.Fatal("no email received within 10s")
		return nil
	}
}

type session struct {
	s    *Server
	auth bool
	from string
	to   []string
}

func (ss *session) AuthMechanisms() []string { return []string{sasl.Plain} }

func (ss *session) Auth(string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(_, user, pass string) error {
		if user != ss.s.opts.User || pass != ss.s.opts.Pass {
			return errors.New("invalid credentials")
		}
		ss.auth = true
		return nil
	}), nil
}

func (ss *session) Mail(from string, _ *smtp.MailOptions) error {
	if ss.s.opts.User != "" && !ss.auth {
		return smtp.ErrAuthRequired
	}
	ss.from = from
	return nil
}

func (ss *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	if ss.s.opts.RejectRcpt {
		return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "no such user"}
	}
	ss.to = append(ss.to, to)
	return nil
}

func (ss *session) Data(r io.Reader) error {
	raw, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	select {
	case <-ss.s.failed:
		return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "try again later"}
	default:
	}
	m, err := parse(string(raw))
	if err != nil {
		return &smtp.SMTPError{Code: 554, EnhancedCode: smtp.EnhancedCode{5, 6, 0}, Message: "unparseable: " + err.Error()}
	}
	m.From, m.To = ss.from, ss.to
	ss.s.Messages <- m
	return nil
}

func (ss *session) Reset()        { ss.from, ss.to = "", nil }
func (ss *session) Logout() error { return nil }

// parse reads a multipart/alternative message with text and HTML parts.
func parse(raw string) (*Message, error) {
	msg, err := mail.ReadMessage(strings.NewReader(raw))
	if err != nil {
		return nil, err
	}
	dec := new(mime.WordDecoder)
	subject, err := dec.DecodeHeader(msg.Header.Get("Subject"))
	if err != nil {
		return nil, err
	}
	out := &Message{Header: msg.Header, Subject: subject, Raw: raw}
	mt, params, err := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	if err != nil {
		return nil, err
	}
	if !strings.HasPrefix(mt, "multipart/") {
		return nil, errors.New("not multipart: " + mt)
	}
	mr := multipart.NewReader(msg.Body, params["boundary"])
	for i := 0; i < 10; i++ {
		p, err := mr.NextRawPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err
		}
		var body io.Reader = p
		if strings.EqualFold(p.Header.Get("Content-Transfer-Encoding"), "quoted-printable") {
			body = quotedprintable.NewReader(p)
		}
		b, err := io.ReadAll(body)
		if err != nil {
			return nil, err
		}
		text := strings.ReplaceAll(string(b), "\r\n", "\n")
		pt, _, _ := mime.ParseMediaType(p.Header.Get("Content-Type"))
		switch pt {
		case "text/plain":
			out.Text = text
		case "text/html":
			out.HTML = text
		}
	}
	if out.Text == "" || out.HTML == "" {
		return nil, errors.New("missing text or html part")
	}
	return out, nil
}

func selfSigned(t testing.TB) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "smtptest"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, DNSNames: []string{"localhost"},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true, IsCA: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(c)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: c}, pool
}
