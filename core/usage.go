package core

import (
	"context"
	"math"
	"sync"
	"time"
)

// GracePeriod is how long deliveries continue after a tenant reaches its
// monthly execution limit (durable per month: it ends, unlike the
// reference's, which restarted forever).
const GracePeriod = 24 * time.Hour

// UsageService reports usage and enforces the monthly execution limit.
// Executions count when they are handed to their handler: a successful
// webhook delivery, or a worker's first claim — webhook and worker
// executions alike. Safe for concurrent use.
type UsageService struct {
	store   usageReader
	work    UsageStore
	limiter RateLimiter
	clock   Clock

	blocks *tenantFlags // Blocked's answers, a second each
	warns  *tenantFlags // ApproachingLimit's answers, five seconds each
}

// tenantFlags remembers a yes/no answer per tenant for ttl and runs one
// lookup per tenant at a time: callers that need the answer meanwhile wait
// for it instead of asking the store too (a burst of hundreds of one
// tenant's deliveries, or requests, when the answer expires).
type tenantFlags struct {
	ttl     time.Duration
	mu      sync.Mutex
	known   map[TenantID]flagEntry
	pending map[TenantID]*flagLookup
}

type flagEntry struct {
	value bool
	at    time.Time
}

// flagLookup is one tenant's lookup in flight.
type flagLookup struct {
	done    chan struct{}
	value   bool
	waiters int // tests
}

func newTenantFlags(ttl time.Duration) *tenantFlags {
	return &tenantFlags{ttl: ttl, known: map[TenantID]flagEntry{}, pending: map[TenantID]*flagLookup{}}
}

// get returns tenant's answer at now: remembered, the one being looked up,
// or lookup's. A caller whose ctx ends while it waits gets false.
func (f *tenantFlags) get(ctx context.Context, tenant TenantID, now time.Time, lookup func() bool) bool {
	f.mu.Lock()
	if e, ok := f.known[tenant]; ok && now.Sub(e.at) < f.ttl && !now.Before(e.at) {
		f.mu.Unlock()
		return e.value
	}
	if l, ok := f.pending[tenant]; ok {
		l.waiters++
		f.mu.Unlock()
		select {
		case <-l.done:
			return l.value
		case <-ctx.Done():
			return false
		}
	}
	l := &flagLookup{done: make(chan struct{})}
	f.pending[tenant] = l
	f.mu.Unlock()
	l.value = lookup()
	f.mu.Lock()
	if len(f.known) > 100_000 {
		f.known = map[TenantID]flagEntry{}
	}
	f.known[tenant] = flagEntry{value: l.value, at: now}
	delete(f.pending, tenant)
	f.mu.Unlock()
	close(l.done)
	return l.value
}

// NewUsage wires the usage service.
func NewUsage(store usageReader, work UsageStore, limiter RateLimiter, clock Clock) *UsageService {
	return &UsageService{store: store, work: work, limiter: limiter, clock: clock, blocks: newTenantFlags(time.Second), warns: newTenantFlags(5 * time.Second)}
}

// MonthStart is the first instant of t's UTC month.
func MonthStart(t time.Time) time.Time {
	t = t.UTC()
	return time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, time.UTC)
}

// UsageReport is GET /v1/usage.
type UsageReport struct {
	Plan                string
	PeriodStart         time.Time
	PeriodEnd           time.Time
	DaysRemaining       int
	CuesUsed, CuesLimit int
	ExecUsed, ExecLimit int
	Projected           int
	Outcomes            OutcomeCounts
	RatePerMinute       int
	RateCurrent         int
}

// Report computes the usage report of the caller. rateBucket names the
// caller's rate-limit bucket ("" for session callers: current usage 0).
func (s *UsageService) Report(ctx context.Context, u *User, rateBucket string) (*UsageReport, error) {
	now := s.clock.Now()
	start := MonthStart(now)
	next := start.AddDate(0, 1, 0)
	end := next.AddDate(0, 0, -1)
	counts, err := s.store.CueCountByStatus(ctx, &CueCountByStatusParams{TenantID: u.ID})
	if err != nil {
		return nil, err
	}
	usage, err := s.work.UsageGet(ctx, &UsageGetParams{TenantID: u.ID, MonthStart: start})
	if err != nil {
		return nil, err
	}
	oc, err := s.work.OutcomeCounts(ctx, &OutcomeCountsParams{TenantID: u.ID, From: start, To: next})
	if err != nil {
		return nil, err
	}
	r := &UsageReport{
		Plan: u.Plan, PeriodStart: start, PeriodEnd: end,
		CuesUsed: counts[CueActive] + counts[CuePaused], CuesLimit: u.ActiveCueLimit,
		ExecUsed: usage.Executions, ExecLimit: u.MonthlyExecutionLimit, Outcomes: *oc,
		RatePerMinute: u.RateLimitPerMinute,
	}
	today := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, time.UTC)
	if d := int(end.Sub(today).Hours() / 24); d > 0 {
		r.DaysRemaining = d
	}
	daysElapsed := now.Day()
	daysInMonth := end.Day()
	r.Projected = int(math.RoundToEven(float64(usage.Executions) / float64(daysElapsed) * float64(daysInMonth)))
	if rateBucket != "" && s.limiter != nil {
		if n, err := s.limiter.Count(ctx, rateBucket, time.Minute, now); err == nil {
			r.RateCurrent = n
		}
	}
	return r, nil
}

// ExecutionsThisMonth is the tenant's count for the current month.
func (s *UsageService) ExecutionsThisMonth(ctx context.Context, u *User) (int, error) {
	usage, err := s.work.UsageGet(ctx, &UsageGetParams{TenantID: u.ID, MonthStart: MonthStart(s.clock.Now())})
	if err != nil {
		return 0, err
	}
	return usage.Executions, nil
}

// Blocked says whether a scheduled execution of the tenant may not be
// delivered: the month's count reached the limit and the grace period that
// began then is over. A limit of 0 or less means unlimited. Answers are
// cached per tenant for a second so the dispatcher's hot path stays cheap.
func (s *UsageService) Blocked(ctx context.Context, tenant TenantID) bool {
	now := s.clock.Now()
	return s.blocks.get(ctx, tenant, now, func() bool { return s.blocked(ctx, tenant, now) })
}

func (s *UsageService) blocked(ctx context.Context, tenant TenantID, now time.Time) bool {
	u, err := s.store.UserGet(ctx, &UserGetParams{ID: tenant})
	if err != nil || u.MonthlyExecutionLimit <= 0 {
		return false
	}
	month := MonthStart(now)
	usage, err := s.work.UsageGet(ctx, &UsageGetParams{TenantID: tenant, MonthStart: month})
	if err != nil || usage.Executions < u.MonthlyExecutionLimit {
		return false
	}
	started := usage.GraceStartedAt
	if started == nil {
		t, err := s.work.UsageStartGrace(ctx, &UsageStartGraceParams{TenantID: tenant, MonthStart: month, Now: now})
		if err != nil {
			return false
		}
		started = &t
	}
	return now.Sub(*started) >= GracePeriod
}

// ApproachingLimit reports whether the tenant used 80 % or more of its
// monthly executions (the X-CueAPI-Usage-Warning header).
// Answers are cached per tenant for five seconds.
func (s *UsageService) ApproachingLimit(ctx context.Context, u *User) bool {
	if u.MonthlyExecutionLimit <= 0 {
		return false
	}
	return s.warns.get(ctx, u.ID, s.clock.Now(), func() bool {
		n, err := s.ExecutionsThisMonth(ctx, u)
		return err == nil && float64(n)/float64(u.MonthlyExecutionLimit) >= 0.8
	})
}

// Usage is a tenant's count for one month.
type Usage struct {
	MonthStart     time.Time
	Executions     int
	GraceStartedAt *time.Time
}

// UsageStore persists monthly execution usage and reads the outcome figures
// of a period. Every method is safe for concurrent use by any number of
// processes sharing the database; tenant-scoped methods return ErrNotFound
// for another tenant's rows. Methods are sorted by name.
type UsageStore interface {
	// OutcomeCounts counts the tenant's executions created in [From, To):
	// with an outcome, of those successful, and failed ones (outcome
	// success=false, or no outcome and status failed or missed).
	OutcomeCounts(ctx context.Context, p *OutcomeCountsParams) (*OutcomeCounts, error)

	// UsageCount adds N executions to the tenant's month. ErrNotFound for an
	// unknown tenant.
	UsageCount(ctx context.Context, p *UsageCountParams) error

	// UsageGet returns the tenant's usage for the month starting Month
	// (zero values when nothing was counted; never ErrNotFound).
	UsageGet(ctx context.Context, p *UsageGetParams) (*Usage, error)

	// UsageStartGrace sets grace_started_at = Now for the month when unset
	// and returns the stored value. ErrNotFound for an unknown tenant.
	UsageStartGrace(ctx context.Context, p *UsageStartGraceParams) (time.Time, error)
}

// UsageGetParams selects a month (MonthStart: first day, UTC).
type UsageGetParams struct {
	TenantID   TenantID
	MonthStart time.Time
}

// UsageStartGraceParams starts the grace period of a month.
type UsageStartGraceParams struct {
	TenantID   TenantID
	MonthStart time.Time
	Now        time.Time
}

// UsageCountParams adds executions to a month.
type UsageCountParams struct {
	TenantID   TenantID
	MonthStart time.Time
	N          int
}

// OutcomeCountsParams selects executions created in [From, To).
type OutcomeCountsParams struct {
	TenantID TenantID
	From, To time.Time
}

// OutcomeCounts are a tenant's outcome figures for a period.
type OutcomeCounts struct {
	Reported, Succeeded, Failed int
}

// usageReader is what UsageService reads besides usage: cue counts and
// the user's limits.
type usageReader interface {
	CueStore
	UserStore
}
