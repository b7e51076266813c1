package redislimiter

import (
	"context"
	"time"

	"github.com/cueapi/cueapi/core"
)

// AllowFlushing is Allow recording first a group of count requests a Local
// allowance accepted, scored at score µs, as member (named as a flush
// names it when member is "").
func (l *Limiter) AllowFlushing(ctx context.Context, key string, limit int, window time.Duration, now time.Time, score int64, count int, member string) (core.RateDecision, string, error) {
	p := []pendingRequest{{score: score, count: count, member: member}}
	d, err := l.allow(ctx, key, limit, window, now, p)
	return d, p[0].member, err
}
