package dashboard

import (
	"encoding/json"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/cueapi/cueapi/core"
)

// cueForm is the create/edit form as strings, so a refused submission is
// shown again exactly as typed.
type cueForm struct {
	ID, Name, Description, Transport   string
	ScheduleType, Cron, At, Timezone   string
	URL, Method, Headers, Payload      string
	MaxAttempts, Backoff               string
	FailEmail, FailPause               bool
	FailWebhook, Verification, CatchUp string
	OutcomeDeadline                    string
}

func defaultForm() *cueForm {
	return &cueForm{Transport: "webhook", ScheduleType: "recurring", Cron: "0 9 * * 1-5", Timezone: "UTC", Method: "POST",
		Payload: "{}", MaxAttempts: "3", Backoff: "1, 5, 15", FailEmail: true, Verification: "none", CatchUp: "latest"}
}

func formFromCue(c *core.Cue) *cueForm {
	f := &cueForm{ID: string(c.ID), Name: c.Name, Description: deref(c.Description), Transport: string(c.Transport),
		ScheduleType: string(c.Schedule.Type), Cron: deref(c.Schedule.Cron), Timezone: c.Schedule.Timezone,
		URL: deref(c.Callback.URL), Method: c.Callback.Method, Payload: string(c.Payload),
		MaxAttempts: strconv.Itoa(c.Retry.MaxAttempts), FailEmail: c.OnFailure.Email, FailPause: c.OnFailure.Pause,
		FailWebhook: deref(c.OnFailure.Webhook), Verification: "none", CatchUp: string(c.CatchUp)}
	if c.Schedule.At != nil {
		loc, err := core.LoadZone(c.Schedule.Timezone)
		if err != nil {
			loc = time.UTC
		}
		f.At = c.Schedule.At.In(loc).Format("2006-01-02T15:04")
	}
	var bs []string
	for _, b := range c.Retry.BackoffMinutes {
		bs = append(bs, strconv.Itoa(b))
	}
	f.Backoff = strings.Join(bs, ", ")
	keys := make([]string, 0, len(c.Callback.Headers))
	for k := range c.Callback.Headers {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var hs []string
	for _, k := range keys {
		hs = append(hs, k+": "+c.Callback.Headers[k])
	}
	f.Headers = strings.Join(hs, "\n")
	if c.Verification != nil {
		f.Verification = string(*c.Verification)
	}
	if c.OutcomeDeadlineSeconds != nil {
		f.OutcomeDeadline = strconv.Itoa(*c.OutcomeDeadlineSeconds)
	}
	return f
}

func formFromRequest(r *http.Request) *cueForm {
	g := func(k string) string { return strings.TrimSpace(r.PostFormValue(k)) }
	return &cueForm{
		Name: g("name"), Description: g("description"), Transport: g("transport"),
		ScheduleType: g("schedule_type"), Cron: g("cron"), At: g("at"), Timezone: g("timezone"),
		URL: g("url"), Method: g("method"), Headers: r.PostFormValue("headers"), Payload: g("payload"),
		MaxAttempts: g("max_attempts"), Backoff: g("backoff"),
		FailEmail: g("on_failure_email") == "on", FailPause: g("on_failure_pause") == "on",
		FailWebhook: g("on_failure_webhook"), Verification: g("verification"), CatchUp: g("catch_up"),
		OutcomeDeadline: g("outcome_deadline"),
	}
}

// input converts the form to the core input the JSON API would build; the
// core service then applies every rule.
func (f *cueForm) input(create bool) (*core.CueInput, error) {
	if f.Name == "" {
		return nil, formErr("name", "Name is required")
	}
	in := &core.CueInput{Name: &f.Name, Description: &f.Description}
	if create {
		in.Transport = &f.Transport
	}
	tz := tzOrUTC(f.Timezone)
	sch := &core.ScheduleInput{Type: f.ScheduleType, Timezone: &tz}
	switch f.ScheduleType {
	case "recurring":
		sch.Cron = &f.Cron
	case "once":
		loc, err := core.LoadZone(tz)
		if err != nil {
			return nil, formErr("schedule.timezone", "Unknown timezone: '"+tz+"'")
		}
		at, err := time.ParseInLocation("2006-01-02T15:04", f.At, loc)
		if err != nil {
			return nil, formErr("schedule.at", "Enter a date and time")
		}
		s := at.UTC().Format(time.RFC3339)
		sch.At = &s
	default:
		return nil, formErr("schedule.type", "Choose recurring or once")
	}
	in.Schedule = sch
	if f.Transport != "worker" || f.URL != "" {
		cb := &core.CallbackInput{URL: &f.URL, Method: &f.Method, Headers: map[string]string{}}
		for i, line := range strings.Split(f.Headers, "\n") {
			line = strings.TrimSpace(line)
			if line == "" {
				continue
			}
			k, v, ok := strings.Cut(line, ":")
			if !ok {
				return nil, formErr("callback.headers", "Line "+strconv.Itoa(i+1)+": write headers as 'Name: value'")
			}
			cb.Headers[strings.TrimSpace(k)] = strings.TrimSpace(v)
		}
		in.Callback = cb
	}
	payload := f.Payload
	if payload == "" {
		payload = "{}"
	}
	if !json.Valid([]byte(payload)) {
		return nil, formErr("payload", "Payload must be valid JSON")
	}
	in.Payload = json.RawMessage(payload)
	ma, err := strconv.Atoi(f.MaxAttempts)
	if err != nil {
		return nil, formErr("retry.max_attempts", "Enter a whole number")
	}
	retry := &core.RetryInput{MaxAttempts: &ma, BackoffMinutes: []int{}}
	for _, p := range strings.Split(f.Backoff, ",") {
		if p = strings.TrimSpace(p); p == "" {
			continue
		}
		n, err := strconv.Atoi(p)
		if err != nil {
			return nil, formErr("retry.backoff_minutes", "Enter minutes as whole numbers separated by commas")
		}
		retry.BackoffMinutes = append(retry.BackoffMinutes, n)
	}
	if len(retry.BackoffMinutes) == 0 {
		retry.BackoffMinutes = nil
	}
	in.Retry = retry
	of := &core.OnFailureInput{Email: &f.FailEmail, Pause: &f.FailPause}
	if f.FailWebhook != "" {
		of.Webhook = &f.FailWebhook
	}
	in.OnFailure = of
	mode := f.Verification
	in.Verification, in.VerificationSet = &mode, true
	if f.CatchUp != "" {
		in.CatchUp = &f.CatchUp
	}
	if f.OutcomeDeadline != "" {
		n, err := strconv.Atoi(f.OutcomeDeadline)
		if err != nil {
			return nil, formErr("outcome_deadline_seconds", "Enter a whole number of seconds")
		}
		in.OutcomeDeadlineSeconds = &n
	}
	return in, nil
}
