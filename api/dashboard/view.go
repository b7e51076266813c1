package dashboard

import (
	"fmt"
	"html/template"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/cueapi/cueapi/core"
)

var funcs = template.FuncMap{
	"when":   when,
	"ago":    ago,
	"inZone": inZone,
	"deref":  deref,
	"derefInt": func(p *int) string {
		if p == nil {
			return "—"
		}
		return strconv.Itoa(*p)
	},
	"human":    humanize,
	"list":     func(xs ...string) []string { return xs },
	"deref2":   derefAny,
	"ptrTime":  func(t time.Time) *time.Time { return &t },
	"schedule": describeSchedule,
	"badge":    execBadge,
	"statusClass": func(s core.ExecutionStatus) string {
		return execBadge(&core.Execution{Status: s}).Class
	},
	"latency": latency,
	"pct": func(used, limit int) int {
		if limit <= 0 {
			return 0
		}
		return min(100, used*100/limit)
	},
}

func deref(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

// derefAny renders a pointer to a string-kinded value ("" for nil).
func derefAny(p any) string {
	v := reflect.ValueOf(p)
	if !v.IsValid() || v.Kind() != reflect.Pointer || v.IsNil() {
		return ""
	}
	return fmt.Sprint(v.Elem().Interface())
}

func humanize(s string) string { return strings.ReplaceAll(s, "_", " ") }

// when formats an instant as UTC.
func when(t any) string {
	switch v := t.(type) {
	case time.Time:
		if v.IsZero() {
			return "—"
		}
		return v.UTC().Format("2006-01-02 15:04:05 UTC")
	case *time.Time:
		if v == nil {
			return "—"
		}
		return when(*v)
	}
	return "—"
}

// inZone formats an instant as a wall time in the named zone.
func inZone(t *time.Time, zone string) string {
	if t == nil {
		return "—"
	}
	loc, err := core.LoadZone(zone)
	if err != nil {
		loc = time.UTC
	}
	return t.In(loc).Format("Mon Jan 2 15:04 MST")
}

// ago says how far t is from now ("in 5m", "3h ago").
func ago(t *time.Time, now time.Time) string {
	if t == nil {
		return ""
	}
	d := t.Sub(now)
	future := d > 0
	if !future {
		d = -d
	}
	var s string
	switch {
	case d < time.Minute:
		s = strconv.Itoa(int(d.Seconds())) + "s"
	case d < time.Hour:
		s = strconv.Itoa(int(d.Minutes())) + "m"
	case d < 48*time.Hour:
		s = strconv.Itoa(int(d.Hours())) + "h"
	default:
		s = strconv.Itoa(int(d.Hours()/24)) + "d"
	}
	if future {
		return "in " + s
	}
	return s + " ago"
}

func latency(e *core.Execution) string {
	if e.StartedAt == nil || e.DeliveredAt == nil {
		return "—"
	}
	d := e.DeliveredAt.Sub(*e.StartedAt)
	if d < time.Second {
		return strconv.FormatInt(d.Milliseconds(), 10) + " ms"
	}
	return strconv.FormatFloat(d.Seconds(), 'f', 1, 64) + " s"
}

// badge is a colored status label.
type badge struct {
	Label string
	Class string // ok | fail | wait
	Title string
}

// execBadge summarizes an execution: its outcome state once reported,
// else its delivery status.
func execBadge(e *core.Execution) badge {
	if e == nil {
		return badge{Label: "never run", Class: "none"}
	}
	title := string(e.Status) + " · " + when(e.ScheduledFor)
	if e.OutcomeState != nil {
		st := string(*e.OutcomeState)
		cls := "wait"
		switch *e.OutcomeState {
		case core.OutcomeReportedSuccess, core.OutcomeVerifiedSuccess:
			cls = "ok"
		case core.OutcomeReportedFailure, core.OutcomeVerificationFailed:
			cls = "fail"
		}
		return badge{Label: humanize(st), Class: cls, Title: title}
	}
	cls := "wait"
	switch e.Status {
	case core.ExecSuccess:
		cls = "ok"
	case core.ExecFailed, core.ExecMissed, core.ExecOutcomeTimeout:
		cls = "fail"
	}
	return badge{Label: humanize(string(e.Status)), Class: cls, Title: title}
}

var dayNames = []string{"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"}

// describeSchedule renders a schedule for people: "09:00 on weekdays,
// America/Los_Angeles", "every 15 minutes, UTC", "once at …". Expressions
// it has no words for are shown as they are.
func describeSchedule(s core.Schedule) string {
	zone := s.Timezone
	if zone == "" {
		zone = "UTC"
	}
	if s.Type == core.ScheduleOnce {
		if s.At == nil {
			return "once"
		}
		return "once at " + inZone(s.At, zone)
	}
	if s.Cron == nil {
		return "—"
	}
	return describeCron(*s.Cron) + ", " + zone
}

func describeCron(expr string) string {
	f := strings.Fields(expr)
	if len(f) != 5 {
		return expr
	}
	min, hour, dom, mon, dow := f[0], f[1], f[2], f[3], f[4]
	num := func(s string, hi int) (int, bool) {
		n, err := strconv.Atoi(s)
		return n, err == nil && n >= 0 && n <= hi
	}
	if mon != "*" {
		return "cron " + expr
	}
	if strings.HasPrefix(min, "*/") && hour == "*" && dom == "*" && dow == "*" {
		if n, ok := num(min[2:], 59); ok && n > 0 {
			if n == 1 {
				return "every minute"
			}
			return "every " + strconv.Itoa(n) + " minutes"
		}
	}
	if min == "*" && hour == "*" && dom == "*" && dow == "*" {
		return "every minute"
	}
	m, okM := num(min, 59)
	if !okM {
		return "cron " + expr
	}
	if hour == "*" && dom == "*" && dow == "*" {
		return fmt.Sprintf("every hour at :%02d", m)
	}
	if strings.HasPrefix(hour, "*/") && dom == "*" && dow == "*" {
		if n, ok := num(hour[2:], 23); ok && n > 0 {
			return fmt.Sprintf("every %d hours at :%02d", n, m)
		}
	}
	hr, okH := num(hour, 23)
	if !okH {
		return "cron " + expr
	}
	at := fmt.Sprintf("%02d:%02d", hr, m)
	switch {
	case dom == "*" && dow == "*":
		return at + " every day"
	case dom == "*" && (dow == "1-5" || dow == "MON-FRI" || dow == "mon-fri"):
		return at + " on weekdays"
	case dom == "*" && (dow == "0,6" || dow == "6,0" || dow == "SAT,SUN" || dow == "sat,sun"):
		return at + " on weekends"
	case dom == "*":
		var names []string
		for _, p := range strings.Split(dow, ",") {
			d, ok := num(p, 7)
			if !ok {
				return "cron " + expr
			}
			names = append(names, dayNames[d%7])
		}
		return at + " on " + strings.Join(names, ", ")
	case dow == "*":
		if d, ok := num(dom, 31); ok && d > 0 {
			return at + " on day " + strconv.Itoa(d) + " of the month"
		}
	}
	return "cron " + expr
}

// timeline is the 30-day SVG chart of a cue's runs.
type timeline struct {
	Width, Height int
	Bars          []timelineBar
	Max           int
	From, To      string
}

type timelineBar struct {
	X, W            int
	RunsY, RunsH    int
	FailY, FailH    int
	Late            bool
	LateX, LateY    int
	Label           string
	Runs, Fail, Lat int
}

const (
	tlDays   = 30
	tlWidth  = 600
	tlHeight = 120
	tlBarW   = tlWidth / tlDays
	lateness = time.Minute
)

// buildTimeline buckets executions of the last 30 days (ending at now's
// UTC day) into daily runs, failures and late starts (started more than a
// minute after their scheduled time).
func buildTimeline(execs []*core.Execution, now time.Time) timeline {
	end := now.UTC().Truncate(24 * time.Hour).Add(24 * time.Hour)
	start := end.Add(-tlDays * 24 * time.Hour)
	var runs, fails, late [tlDays]int
	for _, e := range execs {
		if e.ScheduledFor.Before(start) || !e.ScheduledFor.Before(end) {
			continue
		}
		i := int(e.ScheduledFor.Sub(start) / (24 * time.Hour))
		runs[i]++
		if b := execBadge(e); b.Class == "fail" {
			fails[i]++
		}
		if e.StartedAt != nil && e.StartedAt.Sub(e.ScheduledFor) > lateness {
			late[i]++
		}
	}
	mx := 1
	for _, r := range runs {
		mx = max(mx, r)
	}
	plot := tlHeight - 14
	t := timeline{Width: tlWidth, Height: tlHeight, Max: mx,
		From: start.Format("Jan 2"), To: end.Add(-time.Second).Format("Jan 2")}
	for i := range tlDays {
		rh := runs[i] * plot / mx
		fh := fails[i] * plot / mx
		day := start.Add(time.Duration(i) * 24 * time.Hour)
		t.Bars = append(t.Bars, timelineBar{
			X: i*tlBarW + 1, W: tlBarW - 2,
			RunsY: plot - rh, RunsH: rh, FailY: plot - fh, FailH: fh,
			Late: late[i] > 0, LateX: i*tlBarW + tlBarW/2, LateY: plot + 8,
			Label: fmt.Sprintf("%s: %d runs, %d failed, %d late", day.Format("Jan 2"), runs[i], fails[i], late[i]),
			Runs:  runs[i], Fail: fails[i], Lat: late[i],
		})
	}
	return t
}
