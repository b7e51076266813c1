package core

import "time"

// Clock is the only source of time in core. Implementations must be safe for
// concurrent use. Now returns an instant in UTC.
type Clock interface {
	Now() time.Time
}

// SystemClock is the wall clock, truncated to microseconds (the precision
// every store keeps) and in UTC.
type SystemClock struct{}

// Now returns the current UTC time truncated to microseconds.
func (SystemClock) Now() time.Time { return time.Now().UTC().Truncate(time.Microsecond) }
