package core

import (
	"errors"
	"strings"
	"sync"
	"time"
	_ "time/tzdata" // IANA zones even on hosts without /usr/share/zoneinfo

	"github.com/adhocore/gronx"
)

// Schedule-related errors (all 400 invalid_schedule / 422 invalid_timezone on
// the wire).
var (
	errCronRequired = Invalid("invalid_schedule", "Cron expression is required for recurring schedules")
	errCronInvalid  = Invalid("invalid_schedule", "Invalid cron expression")
	errAtRequired   = Invalid("invalid_schedule", "Timestamp is required for one-time schedules")
	errAtPast       = Invalid("invalid_schedule", "Scheduled time must be in the future")
	errTypeInvalid  = Invalid("invalid_schedule", "Schedule type must be 'once' or 'recurring'")
)

// macros are the croniter aliases; other "@" forms (@reboot, @every …) are
// refused.
var macros = map[string]string{
	"@yearly":   "0 0 1 1 *",
	"@annually": "0 0 1 1 *",
	"@monthly":  "0 0 1 * *",
	"@weekly":   "0 0 * * 0",
	"@daily":    "0 0 * * *",
	"@midnight": "0 0 * * *",
	"@hourly":   "0 * * * *",
}

// MaxCronLength is the longest cron expression accepted.
const MaxCronLength = 100

// Cron is a parsed, validated 5-field cron expression (minute hour
// day-of-month month day-of-week; names, ranges, lists, steps, L and #
// allowed; day-of-month and day-of-week OR-ed when both are restricted).
// Six-field (seconds) expressions are refused: sub-minute schedules are not
// supported deliberately.
type Cron struct {
	expr       string // normalized 5-field form given to gronx
	hourIsWild bool
}

// ParseCron validates expr. It also refuses expressions that never match
// (e.g. "0 0 31 2 *"), which the reference accepted and then crashed on.
func ParseCron(expr string) (*Cron, error) {
	e := strings.TrimSpace(expr)
	if e == "" {
		return nil, errCronRequired
	}
	if len(e) > MaxCronLength {
		return nil, errCronInvalid
	}
	if strings.HasPrefix(e, "@") {
		m, ok := macros[strings.ToLower(e)]
		if !ok {
			return nil, errCronInvalid
		}
		e = m
	}
	fields := strings.Fields(e)
	if len(fields) != 5 {
		return nil, errCronInvalid
	}
	for _, f := range fields {
		if strings.ContainsAny(f, "Hh?") { // Jenkins H and Quartz ? are not croniter syntax
			return nil, errCronInvalid
		}
	}
	// Day-of-week 7 means Sunday in croniter; gronx wants 0.
	fields[4] = normalizeSunday(fields[4])
	norm := strings.Join(fields, " ")
	if !gronx.IsValid(norm) {
		return nil, errCronInvalid
	}
	c := &Cron{expr: norm, hourIsWild: fields[1] == "*" || strings.HasPrefix(fields[1], "*/")}
	// Satisfiability: the expression must match within a few years.
	probe := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := 0; i < 8; i++ {
		n, err := gronx.NextTickAfter(c.expr, probe, false)
		if err == nil && n.After(probe) {
			return c, nil
		}
		probe = probe.AddDate(1, 0, 0)
	}
	return nil, errCronInvalid
}

func normalizeSunday(dow string) string {
	parts := strings.Split(dow, ",")
	for i, p := range parts {
		if p == "7" {
			parts[i] = "0"
		}
	}
	return strings.Join(parts, ",")
}

// String returns the normalized expression.
func (c *Cron) String() string { return c.expr }

// NextAfter returns the first instant strictly after `after` whose wall-clock
// time in loc matches the expression, in UTC. DST rules (matching croniter
// with pytz, the reference):
//   - a wall time skipped by a spring-forward gap fires once, shifted forward
//     by the gap (02:30 → 03:30 DST);
//   - a wall time repeated by a fall-back overlap fires once, at its first
//     occurrence — except that expressions whose hour field is "*" or "*/n"
//     keep firing through the repeated hour (every matching UTC instant).
func (c *Cron) NextAfter(after time.Time, loc *time.Location) (time.Time, error) {
	after = after.In(loc)
	// Work in naive wall time (wall fields in UTC) so gronx sees no DST.
	wall := time.Date(after.Year(), after.Month(), after.Day(), after.Hour(), after.Minute(), after.Second(), 0, time.UTC)
	for guard := 0; guard < 16; guard++ {
		n, err := gronx.NextTickAfter(c.expr, wall, false)
		if err != nil || !n.After(wall) {
			return time.Time{}, errCronInvalid
		}
		for _, cand := range wallToInstants(n, loc) {
			if !cand.After(after) {
				continue
			}
			if c.hourIsWild {
				if rep, ok := c.repeatedHourMatch(after, cand, loc); ok {
					return rep.UTC(), nil
				}
			}
			return cand.UTC(), nil
		}
		wall = n
	}
	return time.Time{}, errCronInvalid
}

// repeatedHourMatch finds a match inside a fall-back overlap lying between
// after and cand (exclusive), scanning minute by minute through at most the
// repeated span.
func (c *Cron) repeatedHourMatch(after, cand time.Time, loc *time.Location) (time.Time, bool) {
	_, offA := after.Zone()
	_, offC := cand.In(loc).Zone()
	if offC >= offA {
		return time.Time{}, false
	}
	overlap := time.Duration(offA-offC) * time.Second
	t := after.Truncate(time.Minute).Add(time.Minute)
	limit := t.Add(overlap + 2*time.Hour)
	g := gronx.New()
	for ; t.Before(cand) && t.Before(limit); t = t.Add(time.Minute) {
		lt := t.In(loc)
		w := time.Date(lt.Year(), lt.Month(), lt.Day(), lt.Hour(), lt.Minute(), 0, 0, time.UTC)
		if ok, _ := g.IsDue(c.expr, w); ok {
			return t, true
		}
	}
	return time.Time{}, false
}

// wallToInstants maps naive wall fields to the instants in loc that show
// them, earliest first: one normally, two inside a fall-back overlap. A wall
// time inside a spring-forward gap does not exist; it maps to the offset in
// force before the gap, which moves it forward by the gap (02:30 → 03:30).
func wallToInstants(n time.Time, loc *time.Location) []time.Time {
	naive := time.Date(n.Year(), n.Month(), n.Day(), n.Hour(), n.Minute(), n.Second(), 0, time.UTC)
	_, offEarly := naive.Add(-24 * time.Hour).In(loc).Zone()
	_, offLate := naive.Add(24 * time.Hour).In(loc).Zone()
	early := naive.Add(-time.Duration(offEarly) * time.Second)
	late := naive.Add(-time.Duration(offLate) * time.Second)
	var out []time.Time
	for _, c := range []time.Time{early, late} {
		if sameWall(c.In(loc), n) && (len(out) == 0 || !out[0].Equal(c)) {
			out = append(out, c)
		}
	}
	if len(out) == 2 && out[1].Before(out[0]) {
		out[0], out[1] = out[1], out[0]
	}
	if len(out) == 0 {
		out = append(out, early)
	}
	return out
}

func sameWall(t, n time.Time) bool {
	return t.Year() == n.Year() && t.Month() == n.Month() && t.Day() == n.Day() &&
		t.Hour() == n.Hour() && t.Minute() == n.Minute() && t.Second() == n.Second()
}

// LoadZone resolves an IANA zone name case-insensitively (as the reference
// does: "utc" and "america/los_angeles" are accepted). Offsets such as
// "+05:00" are refused.
func LoadZone(name string) (*time.Location, error) {
	if name == "" || strings.ContainsAny(name, " \x00") || strings.HasPrefix(name, "/") || strings.Contains(name, "..") {
		return nil, errors.New("unknown zone")
	}
	if loc, err := time.LoadLocation(name); err == nil && name != "Local" {
		return loc, nil
	}
	if canon, ok := zoneIndex()[strings.ToLower(name)]; ok {
		return time.LoadLocation(canon)
	}
	return nil, errors.New("unknown zone")
}

var (
	zoneIndexOnce sync.Once
	zoneIdx       map[string]string
)

func zoneIndex() map[string]string {
	zoneIndexOnce.Do(func() {
		zoneIdx = make(map[string]string, len(zoneNames))
		for _, n := range zoneNames {
			zoneIdx[strings.ToLower(n)] = n
		}
	})
	return zoneIdx
}
