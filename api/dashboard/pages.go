package dashboard

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/cueapi/cueapi/core"
)

const (
	cuesPerPage  = 50
	stripRuns    = 20
	execsPerPage = 50
	// searchCap bounds how many cues a search scans.
	searchCap = 10000
)

// cueRow is one line of the cues list.
type cueRow struct {
	Cue   *core.Cue
	Last  badge
	Strip []badge
}

func (h *Handler) cuesPage(w http.ResponseWriter, r *http.Request, s *session) {
	ctx := r.Context()
	q := strings.TrimSpace(r.URL.Query().Get("q"))
	var status *string
	if st := r.URL.Query().Get("status"); st != "" {
		status = &st
	}
	page := pageParam(r)
	var (
		cues  []*core.Cue
		total int
		err   error
	)
	if q == "" {
		cues, total, err = h.d.Cues.List(ctx, s.User, status, cuesPerPage, (page-1)*cuesPerPage)
	} else {
		cues, total, err = h.searchCues(r, s, status, q, page)
	}
	if err != nil {
		h.failErr(w, r, s, err)
		return
	}
	rows := make([]cueRow, 0, len(cues))
	for _, c := range cues {
		id := string(c.ID)
		ex, _, err := h.d.Executions.List(ctx, s.User, core.ExecutionFilter{CueID: &id}, stripRuns, 0)
		if err != nil {
			h.failErr(w, r, s, err)
			return
		}
		row := cueRow{Cue: c, Last: execBadge(nil)}
		if len(ex) > 0 {
			row.Last = execBadge(ex[0])
		}
		// Oldest left, newest right.
		for i := len(ex) - 1; i >= 0; i-- {
			row.Strip = append(row.Strip, execBadge(ex[i]))
		}
		rows = append(rows, row)
	}
	pages := max(1, (total+cuesPerPage-1)/cuesPerPage)
	link := func(p int) string {
		v := url.Values{}
		if q != "" {
			v.Set("q", q)
		}
		if status != nil {
			v.Set("status", *status)
		}
		v.Set("page", strconv.Itoa(p))
		return Prefix + "/cues?" + v.Encode()
	}
	data := map[string]any{"Title": "Cues", "Rows": rows, "Total": total, "Q": q, "Status": deref(status),
		"Page": page, "Pages": pages, "Live": true}
	if page > 1 {
		data["Prev"] = link(page - 1)
	}
	if page < pages {
		data["Next"] = link(page + 1)
	}
	h.render(w, r, s, http.StatusOK, "cues", data)
}

// pageParam is the 1-based ?page= number, clamped to a sane range.
func pageParam(r *http.Request) int {
	p, _ := strconv.Atoi(r.URL.Query().Get("page"))
	return min(max(p, 1), 100000)
}

// searchCues filters the tenant's cues by a case-insensitive substring of
// the name or id.
func (h *Handler) searchCues(r *http.Request, s *session, status *string, q string, page int) ([]*core.Cue, int, error) {
	needle := strings.ToLower(q)
	var match []*core.Cue
	for off := 0; off < searchCap; off += 500 {
		batch, total, err := h.d.Cues.List(r.Context(), s.User, status, 500, off)
		if err != nil {
			return nil, 0, err
		}
		for _, c := range batch {
			if strings.Contains(strings.ToLower(c.Name), needle) || strings.Contains(string(c.ID), needle) {
				match = append(match, c)
			}
		}
		if off+len(batch) >= total || len(batch) == 0 {
			break
		}
	}
	from := min(len(match), (page-1)*cuesPerPage)
	to := min(len(match), from+cuesPerPage)
	return match[from:to], len(match), nil
}

func (h *Handler) cuePage(w http.ResponseWriter, r *http.Request, s *session) {
	h.renderCue(w, r, s, http.StatusOK, &fireForm{Strategy: core.MergeShallow}, "")
}

// fireForm is the cue page's fire form as typed, so a refused fire is
// shown again as it was.
type fireForm struct {
	Override, Strategy string
}

// input is the form as a core fire body: an empty override is none.
func (f *fireForm) input() (*core.FireInput, error) {
	in := &core.FireInput{}
	if f.Override == "" {
		return in, nil
	}
	if f.Strategy != "" {
		in.MergeStrategy = &f.Strategy
	}
	if !json.Valid([]byte(f.Override)) {
		return nil, core.Invalid("invalid_json", "Payload override is not valid JSON.")
	}
	in.PayloadOverride = json.RawMessage(f.Override)
	return in, nil
}

// renderCue shows the cue's detail page with the fire form f and its
// error msg (none: "").
func (h *Handler) renderCue(w http.ResponseWriter, r *http.Request, s *session, status int, f *fireForm, msg string) {
	ctx := r.Context()
	id := core.CueID(r.PathValue("id"))
	page := pageParam(r)
	det, err := h.d.Cues.Detail(ctx, s.User, id, execsPerPage, (page-1)*execsPerPage)
	if err != nil {
		h.failErr(w, r, s, err)
		return
	}
	// The chart reads up to 1,000 recent runs (older ones fall outside 30
	// days for any cue firing less often than every 45 minutes).
	sid := string(id)
	recent, _, err := h.d.Executions.List(ctx, s.User, core.ExecutionFilter{CueID: &sid}, 1000, 0)
	if err != nil {
		h.failErr(w, r, s, err)
		return
	}
	data := map[string]any{
		"Title": det.Cue.Name, "Cue": det.Cue, "Executions": det.Executions, "Total": det.Total,
		"Timeline": buildTimeline(recent, h.d.Clock.Now()), "Live": true, "Payload": prettyJSON(det.Cue.Payload),
		"Flash": r.URL.Query().Get("flash"), "Fire": f, "FireError": msg,
		// A refused fire's form stays open.
		"FireOpen": msg != "" || det.Cue.RequirePayloadOverride || len(det.Cue.RequiredPayloadKeys) > 0,
		// Forms' "back" is the cue's page, also when answering the POST.
		"Path": Prefix + "/cues/" + sid,
	}
	if page > 1 {
		data["Prev"] = Prefix + "/cues/" + sid + "?page=" + strconv.Itoa(page-1)
	}
	if page*execsPerPage < det.Total {
		data["Next"] = Prefix + "/cues/" + sid + "?page=" + strconv.Itoa(page+1)
	}
	h.render(w, r, s, status, "cue", data)
}

func (h *Handler) newCuePage(w http.ResponseWriter, r *http.Request, s *session) {
	h.renderForm(w, r, s, http.StatusOK, defaultForm(), "")
}

func (h *Handler) editCuePage(w http.ResponseWriter, r *http.Request, s *session) {
	c, err := h.d.Cues.Get(r.Context(), s.User, core.CueID(r.PathValue("id")))
	if err != nil {
		h.failErr(w, r, s, err)
		return
	}
	h.renderForm(w, r, s, http.StatusOK, formFromCue(c), "")
}

func (h *Handler) renderForm(w http.ResponseWriter, r *http.Request, s *session, status int, f *cueForm, msg string) {
	title := "New cue"
	if f.ID != "" {
		title = "Edit " + f.Name
	}
	h.render(w, r, s, status, "form", map[string]any{"Title": title, "Form": f, "Error": msg})
}

func (h *Handler) createCue(w http.ResponseWriter, r *http.Request, s *session) {
	f := formFromRequest(r)
	in, err := f.input(true)
	if err == nil {
		var created *core.CreatedCue
		if created, err = h.d.Cues.Create(r.Context(), s.User, in); err == nil {
			to := Prefix + "/cues/" + string(created.Cue.ID)
			if created.Warning != nil {
				to += "?flash=" + url.QueryEscape(*created.Warning)
			}
			http.Redirect(w, r, to, http.StatusSeeOther)
			return
		}
	}
	h.renderForm(w, r, s, statusOf(err), f, errorMessage(err))
}

func (h *Handler) updateCue(w http.ResponseWriter, r *http.Request, s *session) {
	f := formFromRequest(r)
	f.ID = r.PathValue("id")
	in, err := f.input(false)
	if err == nil {
		if _, err = h.d.Cues.Update(r.Context(), s.User, core.CueID(f.ID), in); err == nil {
			http.Redirect(w, r, Prefix+"/cues/"+f.ID, http.StatusSeeOther)
			return
		}
	}
	h.renderForm(w, r, s, statusOf(err), f, errorMessage(err))
}

// back returns to the page the form was on (a dashboard path only).
func back(w http.ResponseWriter, r *http.Request, def string) {
	to := r.PostFormValue("back")
	if !strings.HasPrefix(to, Prefix+"/") || strings.HasPrefix(to, "//") || strings.ContainsAny(to, "\\\r\n") {
		to = def
	}
	http.Redirect(w, r, to, http.StatusSeeOther)
}

func (h *Handler) setCueStatus(w http.ResponseWriter, r *http.Request, s *session) {
	st := r.PostFormValue("status")
	id := core.CueID(r.PathValue("id"))
	if _, err := h.d.Cues.Update(r.Context(), s.User, id, &core.CueInput{Status: &st}); err != nil {
		h.failErr(w, r, s, err)
		return
	}
	back(w, r, Prefix+"/cues/"+string(id))
}

func (h *Handler) fireCue(w http.ResponseWriter, r *http.Request, s *session) {
	id := core.CueID(r.PathValue("id"))
	f := &fireForm{Override: strings.TrimSpace(r.PostFormValue("payload_override")), Strategy: r.PostFormValue("merge_strategy")}
	in, err := f.input()
	var res *core.FireResult
	if err == nil {
		res, err = h.d.Executions.Fire(r.Context(), s.User, id, in)
	}
	if err != nil {
		// Refusals (bad override, a cue's per-fire requirements) are shown
		// on the cue's page with the form as typed; a missing cue or a
		// failure is the error page.
		if st := statusOf(err); st == http.StatusBadRequest {
			h.renderCue(w, r, s, st, f, errorMessage(err))
			return
		}
		h.failErr(w, r, s, err)
		return
	}
	http.Redirect(w, r, Prefix+"/cues/"+string(id)+"?flash="+url.QueryEscape("Fired: execution "+string(res.Execution.ID)), http.StatusSeeOther)
}

func (h *Handler) deleteCuePage(w http.ResponseWriter, r *http.Request, s *session) {
	c, err := h.d.Cues.Get(r.Context(), s.User, core.CueID(r.PathValue("id")))
	if err != nil {
		h.failErr(w, r, s, err)
		return
	}
	h.render(w, r, s, http.StatusOK, "delete", map[string]any{"Title": "Delete " + c.Name, "Cue": c})
}

func (h *Handler) deleteCue(w http.ResponseWriter, r *http.Request, s *session) {
	id := core.CueID(r.PathValue("id"))
	c, err := h.d.Cues.Get(r.Context(), s.User, id)
	if err != nil {
		h.failErr(w, r, s, err)
		return
	}
	if r.PostFormValue("confirm_name") != c.Name {
		h.render(w, r, s, http.StatusBadRequest, "delete", map[string]any{"Title": "Delete " + c.Name, "Cue": c,
			"Error": "Type the cue's name exactly to confirm."})
		return
	}
	if err := h.d.Cues.Delete(r.Context(), s.User, id); err != nil {
		h.failErr(w, r, s, err)
		return
	}
	http.Redirect(w, r, Prefix+"/cues", http.StatusSeeOther)
}

func (h *Handler) replay(w http.ResponseWriter, r *http.Request, s *session) {
	e, err := h.d.Executions.Replay(r.Context(), s.User, core.ExecutionID(r.PathValue("id")))
	if err != nil {
		h.failErr(w, r, s, err)
		return
	}
	back(w, r, Prefix+"/cues/"+string(e.CueID))
}

func (h *Handler) verify(w http.ResponseWriter, r *http.Request, s *session) {
	id := core.ExecutionID(r.PathValue("id"))
	valid := r.PostFormValue("valid") == "true"
	var reason *string
	if v := strings.TrimSpace(r.PostFormValue("reason")); v != "" {
		reason = &v
	}
	if _, err := h.d.Outcomes.Verify(r.Context(), s.User, id, valid, reason); err != nil {
		h.failErr(w, r, s, err)
		return
	}
	back(w, r, Prefix+"/cues")
}

// workerRow is a worker with its liveness and current claims.
type workerRow struct {
	W      *core.Worker
	Alive  bool
	Claims int
}

func (h *Handler) workersPage(w http.ResponseWriter, r *http.Request, s *session) {
	ctx := r.Context()
	ws, err := h.d.Workers.List(ctx, s.User)
	if err != nil {
		h.failErr(w, r, s, err)
		return
	}
	st := string(core.ExecDelivering)
	inFlight, _, err := h.d.Executions.List(ctx, s.User, core.ExecutionFilter{Status: &st}, 1000, 0)
	if err != nil {
		h.failErr(w, r, s, err)
		return
	}
	claims := map[string]int{}
	for _, e := range inFlight {
		if e.ClaimedByWorker != nil {
			claims[*e.ClaimedByWorker]++
		}
	}
	now := h.d.Clock.Now()
	rows := make([]workerRow, 0, len(ws))
	for _, wk := range ws {
		rows = append(rows, workerRow{W: wk, Alive: now.Sub(wk.LastHeartbeat) < h.d.WorkerHeartbeatTimeout, Claims: claims[wk.WorkerID]})
	}
	h.render(w, r, s, http.StatusOK, "workers", map[string]any{"Title": "Workers", "Rows": rows})
}

func (h *Handler) alertsPage(w http.ResponseWriter, r *http.Request, s *session) {
	as, total, err := h.d.Alerts.List(r.Context(), s.User, nil, nil, 100, 0)
	if err != nil {
		h.failErr(w, r, s, err)
		return
	}
	h.render(w, r, s, http.StatusOK, "alerts", map[string]any{"Title": "Alerts", "Alerts": as, "Total": total, "Live": true})
}

func (h *Handler) ackAlert(w http.ResponseWriter, r *http.Request, s *session) {
	if err := h.d.Alerts.Acknowledge(r.Context(), s.User, r.PathValue("id")); err != nil {
		h.failErr(w, r, s, err)
		return
	}
	back(w, r, Prefix+"/alerts")
}

func (h *Handler) usagePage(w http.ResponseWriter, r *http.Request, s *session) {
	rep, err := h.d.Usage.Report(r.Context(), s.User, "")
	if err != nil {
		h.failErr(w, r, s, err)
		return
	}
	h.render(w, r, s, http.StatusOK, "usage", map[string]any{"Title": "Usage", "U": rep})
}

func (h *Handler) settingsPage(w http.ResponseWriter, r *http.Request, s *session) {
	h.render(w, r, s, http.StatusOK, "settings", map[string]any{"Title": "Settings"})
}

// secret reveals or regenerates the webhook or alert signing secret.
func (h *Handler) secret(w http.ResponseWriter, r *http.Request, s *session) {
	ctx := r.Context()
	which, action := r.PostFormValue("which"), r.PostFormValue("action")
	confirmed := r.PostFormValue("confirm") == "yes"
	var (
		val string
		err error
	)
	switch which + "/" + action {
	case "webhook/reveal":
		val, err = h.d.Accounts.WebhookSecret(ctx, s.User)
	case "webhook/regenerate":
		val, err = h.d.Accounts.RegenerateWebhookSecret(ctx, s.User, confirmed)
	case "alert/reveal":
		val, err = h.d.Accounts.AlertWebhookSecret(ctx, s.User)
	case "alert/regenerate":
		val, err = h.d.Accounts.RegenerateAlertWebhookSecret(ctx, s.User, confirmed)
	default:
		h.fail(w, r, s, http.StatusBadRequest, "Unknown secret action.")
		return
	}
	data := map[string]any{"Title": "Settings"}
	if err != nil {
		data["Error"] = errorMessage(err)
		if !confirmed && action == "regenerate" {
			data["Error"] = "Tick the confirmation box to regenerate: the old secret stops working at once."
		}
		h.render(w, r, s, statusOf(err), "settings", data)
		return
	}
	data["Which"], data["Secret"], data["Regenerated"] = which, val, action == "regenerate"
	h.render(w, r, s, http.StatusOK, "settings", data)
}

// cronPreview answers the form's live preview: the next 5 fire times.
func (h *Handler) cronPreview(w http.ResponseWriter, r *http.Request, _ *session) {
	q := r.URL.Query()
	tz := q.Get("tz")
	times, err := core.PreviewSchedule(q.Get("cron"), tz, h.d.Clock.Now(), 5)
	out := struct {
		Times []string `json:"times"`
		Error string   `json:"error,omitempty"`
		Words string   `json:"words,omitempty"`
	}{Times: []string{}}
	w.Header().Set("Content-Type", "application/json")
	if err != nil {
		out.Error = errorMessage(err)
		w.WriteHeader(http.StatusBadRequest)
	} else {
		for _, t := range times {
			out.Times = append(out.Times, t.Format("Mon 2006-01-02 15:04 MST (-07:00)"))
		}
		out.Words = describeSchedule(core.Schedule{Type: core.ScheduleRecurring, Cron: ptr(q.Get("cron")), Timezone: tzOrUTC(tz)})
	}
	_ = json.NewEncoder(w).Encode(out)
}

func ptr[T any](v T) *T { return &v }

func tzOrUTC(tz string) string {
	if tz == "" {
		return "UTC"
	}
	return tz
}

// prettyJSON indents a stored JSON document for reading, with markup
// characters as themselves (the template escapes them).
func prettyJSON(raw json.RawMessage) string {
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		return string(raw)
	}
	var buf strings.Builder
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return string(raw)
	}
	return strings.TrimSpace(buf.String())
}
