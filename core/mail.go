package core

import (
	"context"
	"errors"
	"html"
	"strings"
	"sync"
	"time"
)

// Mail is one email: the same content as plain text and as HTML.
type Mail struct {
	To      string
	Subject string
	Text    string
	HTML    string
}

// MailSender hands one email to a mail relay (the SMTP adapter). SendMail
// returns once the relay accepted the message. An error wrapping
// ErrMailRejected is permanent (the relay refused the message or the
// recipient) and is not retried. Safe for concurrent use.
type MailSender interface {
	SendMail(ctx context.Context, m *Mail) error
}

// ErrMailRejected marks a permanent mail failure.
var ErrMailRejected = errors.New("mail rejected")

// UserGetter reads a user by id (the notifier resolves recipients when it
// sends, off the request path).
type UserGetter interface {
	UserGet(ctx context.Context, p *UserGetParams) (*User, error)
}

// Kinds of email (the Observer's label).
const (
	MailMagicLink       = "magic_link"
	MailExecutionFailed = "execution_failed"
	MailAlert           = "alert"
	MailKeyRotated      = "key_rotated"
	MailSecretRotated   = "webhook_secret_rotated"
)

// NotifierConfig tunes the notifier.
type NotifierConfig struct {
	// BaseURL is this server's public URL (named in alert emails).
	BaseURL string
	// DashboardURL, when set, is linked from failure and alert emails.
	DashboardURL string
	// Attempts bounds the sends of one email (default 3).
	Attempts int
	// Backoff is the wait after the first failed send, doubled after each
	// further failure (default 2 s).
	Backoff time.Duration
	// QueueSize bounds the emails waiting to be sent (default 1024); when
	// full, new emails are dropped and logged.
	QueueSize int
	// Senders is how many emails are sent at once (default 2).
	Senders int
	// PerUserPerHour bounds failure and alert emails per account (default
	// 10, the reference's failure_email limit).
	PerUserPerHour int
	Observer       Observer
}

// Notifier sends the service's emails — magic links, on_failure emails,
// alert emails and key/secret rotation notices — off the request path: the
// callers enqueue, Run sends with bounded retries. A nil *Notifier sends
// nothing. Bodies hold no secret except a magic link's one-time link, and
// every user-controlled value is HTML-escaped. Safe for concurrent use.
type Notifier struct {
	cfg     NotifierConfig
	sender  MailSender
	users   UserGetter
	limiter RateLimiter
	clock   Clock
	log     Logger
	obs     Observer
	queue   chan *mailJob
	wg      sync.WaitGroup
}

type mailJob struct {
	kind   string
	to     string   // known recipient (magic links)
	tenant TenantID // otherwise: the account's current email
	// limitKey, when set, counts against PerUserPerHour.
	limitKey string
	mail     *Mail
}

// NewNotifier wires a notifier around a mail relay.
func NewNotifier(cfg NotifierConfig, sender MailSender, users UserGetter, limiter RateLimiter, clock Clock, log Logger) *Notifier {
	if cfg.Attempts <= 0 {
		cfg.Attempts = 3
	}
	if cfg.Backoff <= 0 {
		cfg.Backoff = 2 * time.Second
	}
	if cfg.QueueSize <= 0 {
		cfg.QueueSize = 1024
	}
	if cfg.Senders <= 0 {
		cfg.Senders = 2
	}
	if cfg.PerUserPerHour <= 0 {
		cfg.PerUserPerHour = 10
	}
	return &Notifier{cfg: cfg, sender: sender, users: users, limiter: limiter, clock: clock, log: log,
		obs: observerOr(cfg.Observer), queue: make(chan *mailJob, cfg.QueueSize)}
}

// Enabled says whether emails are sent at all.
func (n *Notifier) Enabled() bool { return n != nil }

func (n *Notifier) enqueue(j *mailJob) {
	if n == nil {
		return
	}
	select {
	case n.queue <- j:
	default:
		n.log.Warn("email dropped: the send queue is full", "kind", j.kind, "user_id", string(j.tenant))
		n.obs.MailSent(j.kind, false)
	}
}

// SendMagicLink queues a device-login magic link (it implements Mailer).
func (n *Notifier) SendMagicLink(_ context.Context, to, link string) error {
	if n == nil {
		return errors.New("no email provider")
	}
	n.enqueue(&mailJob{kind: MailMagicLink, to: to, mail: composeMail("Your CueAPI sign-in link",
		mailLine{text: "Someone asked to sign in to CueAPI with this email address from a terminal (for example `cueapi login`)."},
		mailLine{text: "Open this link to approve the sign-in. It works once and expires in 15 minutes:", link: link},
		mailLine{text: "If you did not ask for it, ignore this email: nothing happens without the link."},
	)})
	return nil
}

// ExecutionFailed queues the on_failure email of an execution that failed
// for good.
func (n *Notifier) ExecutionFailed(tenant TenantID, c *Cue, exec ExecutionID, errText string) {
	if n == nil {
		return
	}
	name := c.Name
	if name == "" {
		name = string(c.ID)
	}
	lines := []mailLine{
		{text: "Cue \"" + name + "\" (" + string(c.ID) + ") failed and has no attempt left."},
		{text: "Execution: " + string(exec)},
		{text: "Error: " + truncateRunes(errText, 500)},
	}
	if n.cfg.DashboardURL != "" {
		lines = append(lines, mailLine{text: "Dashboard:", link: n.cfg.DashboardURL})
	}
	n.enqueue(&mailJob{kind: MailExecutionFailed, tenant: tenant, limitKey: "failure_email:" + string(tenant),
		mail: composeMail("[CueAPI] Execution failed: "+name, lines...)})
}

// AlertRaised queues the email of a newly recorded alert.
func (n *Notifier) AlertRaised(al *Alert) {
	if n == nil {
		return
	}
	lines := []mailLine{{text: al.Message}}
	if al.CueID != nil {
		lines = append(lines, mailLine{text: "Cue: " + string(*al.CueID)})
	}
	if al.ExecutionID != nil {
		lines = append(lines, mailLine{text: "Execution: " + string(*al.ExecutionID)})
	}
	lines = append(lines, mailLine{text: "Alert " + al.ID + " (" + al.Type + ", " + al.Severity + "), listed by GET " + n.cfg.BaseURL + "/v1/alerts."})
	if n.cfg.DashboardURL != "" {
		lines = append(lines, mailLine{text: "Dashboard:", link: n.cfg.DashboardURL})
	}
	n.enqueue(&mailJob{kind: MailAlert, tenant: al.TenantID, limitKey: "alert_email:" + string(al.TenantID),
		mail: composeMail("[CueAPI] Alert: "+strings.ReplaceAll(al.Type, "_", " "), lines...)})
}

// KeyRotated queues the notice that the account's API key was regenerated.
func (n *Notifier) KeyRotated(tenant TenantID, at time.Time) {
	n.rotated(MailKeyRotated, tenant, at, "API key",
		"The previous key stops working at once (it answers key_rotated for 24 hours).")
}

// WebhookSecretRotated queues the notice that the webhook signing secret
// was regenerated.
func (n *Notifier) WebhookSecretRotated(tenant TenantID, at time.Time) {
	n.rotated(MailSecretRotated, tenant, at, "webhook signing secret",
		"Deliveries are signed with the new secret from now on; update your receivers.")
}

func (n *Notifier) rotated(kind string, tenant TenantID, at time.Time, what, effect string) {
	if n == nil {
		return
	}
	n.enqueue(&mailJob{kind: kind, tenant: tenant, mail: composeMail("[CueAPI] Your "+what+" was regenerated",
		mailLine{text: "The " + what + " of your CueAPI account was regenerated at " + at.UTC().Format("2006-01-02 15:04:05") + " UTC."},
		mailLine{text: effect},
		mailLine{text: "If you did not do this, regenerate it again and review who holds your API key."},
	)})
}

// Run sends queued emails until ctx ends, then sends what is still queued
// (one attempt each, for at most 10 seconds).
func (n *Notifier) Run(ctx context.Context) {
	if n == nil {
		return
	}
	for i := 0; i < n.cfg.Senders; i++ {
		n.wg.Add(1)
		go func() {
			defer n.wg.Done()
			for {
				select {
				case j := <-n.queue:
					n.send(ctx, j, n.cfg.Attempts)
				case <-ctx.Done():
					return
				}
			}
		}()
	}
	n.wg.Wait()
	drain, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	for drain.Err() == nil {
		select {
		case j := <-n.queue:
			n.send(drain, j, 1)
		default:
			return
		}
	}
}

func (n *Notifier) send(ctx context.Context, j *mailJob, attempts int) {
	m := *j.mail
	m.To = j.to
	if m.To == "" {
		u, err := n.users.UserGet(ctx, &UserGetParams{ID: j.tenant})
		if err != nil {
			n.log.Warn("email not sent: account not readable", "kind", j.kind, "user_id", string(j.tenant), "err", err)
			n.obs.MailSent(j.kind, false)
			return
		}
		if u.Email == "" {
			return
		}
		m.To = u.Email
	}
	if j.limitKey != "" && n.limiter != nil {
		dec, err := n.limiter.Allow(ctx, j.limitKey, n.cfg.PerUserPerHour, time.Hour, n.clock.Now())
		if err == nil && !dec.Allowed {
			n.log.Info("email skipped: hourly limit reached", "kind", j.kind, "user_id", string(j.tenant))
			return
		}
	}
	wait := n.cfg.Backoff
	for attempt := 1; ; attempt++ {
		sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		err := n.sender.SendMail(sctx, &m)
		cancel()
		if err == nil {
			n.obs.MailSent(j.kind, true)
			return
		}
		if attempt >= attempts || errors.Is(err, ErrMailRejected) || ctx.Err() != nil {
			// The address is personal data: log the account, not the address.
			n.log.Warn("email not sent", "kind", j.kind, "user_id", string(j.tenant), "attempts", attempt, "err", err)
			n.obs.MailSent(j.kind, false)
			return
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
		case <-t.C:
		}
		t.Stop()
		wait *= 2
	}
}

// mailLine is one paragraph; link, when set, follows the text.
type mailLine struct {
	text string
	link string
}

// composeMail renders paragraphs as plain text and as escaped HTML. The
// subject is kept on one line.
func composeMail(subject string, lines ...mailLine) *Mail {
	var txt, h strings.Builder
	h.WriteString("<!doctype html>\n<html><body style=\"font-family: sans-serif\">\n")
	for _, l := range lines {
		txt.WriteString(l.text)
		h.WriteString("<p>" + html.EscapeString(l.text))
		if l.link != "" {
			txt.WriteString("\n" + l.link)
			e := html.EscapeString(l.link)
			h.WriteString("<br>\n<a href=\"" + e + "\">" + e + "</a>")
		}
		txt.WriteString("\n\n")
		h.WriteString("</p>\n")
	}
	txt.WriteString("-- \nCueAPI\n")
	h.WriteString("</body></html>\n")
	subject = strings.Join(strings.Fields(subject), " ")
	return &Mail{Subject: subject, Text: txt.String(), HTML: h.String()}
}
