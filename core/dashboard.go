package core

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// PreviewSchedule returns the next n fire times (at most 20) of a cron
// expression in the IANA zone tz strictly after `after`, with the same
// parsing, validation and DST rules as the scheduler. The instants are in
// the zone (callers display them as wall times with their offset).
func PreviewSchedule(cron, tz string, after time.Time, n int) ([]time.Time, error) {
	if tz == "" {
		tz = "UTC"
	}
	loc, err := LoadZone(tz)
	if err != nil {
		return nil, NewError(KindUnprocessable, "invalid_timezone", fmt.Sprintf("Unknown timezone: '%s'", tz))
	}
	c, err := ParseCron(cron)
	if err != nil {
		return nil, err
	}
	n = min(max(n, 1), 20)
	out := make([]time.Time, 0, n)
	t := after
	for range n {
		if t, err = c.NextAfter(t, loc); err != nil {
			return nil, errCronInvalid
		}
		out = append(out, t.In(loc))
	}
	return out, nil
}

// UserByID returns the account with this id (for a browser session whose
// token was verified by the caller). ErrUserNotFound when absent.
func (a *Accounts) UserByID(ctx context.Context, id TenantID) (*User, error) {
	u, err := a.store.UserGet(ctx, &UserGetParams{ID: id})
	if errors.Is(err, ErrNotFound) {
		return nil, ErrUserNotFound
	}
	return u, err
}
