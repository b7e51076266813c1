package coretest

import (
	"cmp"
	"encoding/json"
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cueapi/cueapi/core"
)

// FactoryTime is the creation time factories use by default.
var FactoryTime = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// UserOpts customizes NewUser; zero fields take the defaults.
type UserOpts struct {
	Email          string    // default: a unique address at example.com
	Plan           string    // default: "free"
	ActiveCueLimit int       // default: 10
	CreatedAt      time.Time // default: FactoryTime (UpdatedAt too)
}

// NewUser returns a valid user that is not stored yet: a fresh id and API
// key (hash and prefix of core.NewAPIKey), a unique email and slug, the free plan's
// limits and a placeholder sealed webhook secret.
func NewUser(opts *UserOpts) *core.User {
	if opts == nil {
		opts = &UserOpts{}
	}
	key := core.NewAPIKey()
	created := cmp.Or(opts.CreatedAt, FactoryTime)
	email := cmp.Or(opts.Email, "user-"+core.RandomHex(8)+"@example.com")
	return &core.User{
		ID:                    core.NewTenantID(),
		Email:                 email,
		Slug:                  core.SlugCandidate(core.SlugBase(email), 1),
		APIKeyHash:            core.HashAPIKey(key),
		APIKeyPrefix:          core.APIKeyPrefix(key),
		Plan:                  cmp.Or(opts.Plan, "free"),
		ActiveCueLimit:        cmp.Or(opts.ActiveCueLimit, 10),
		MonthlyExecutionLimit: 300,
		RateLimitPerMinute:    60,
		WebhookSecretSealed:   "sealed:" + core.NewWebhookSecret(),
		CreatedAt:             created,
		UpdatedAt:             created,
	}
}

// CreateUser stores NewUser(opts) and returns what the store returned.
func CreateUser(t testing.TB, s core.Store, opts *UserOpts) *core.User {
	t.Helper()
	u, err := s.UserCreate(t.Context(), &core.UserCreateParams{User: NewUser(opts)})
	require.NoError(t, err)
	return u
}

// CueOpts customizes NewCue; zero fields take the defaults.
type CueOpts struct {
	Name      string         // default: a unique name
	Status    core.CueStatus // default: active
	Transport core.Transport // default: webhook, with a callback URL
	CreatedAt time.Time      // default: FactoryTime (UpdatedAt too)
}

// NewCue returns a valid cue of tenant that is not stored yet: a fresh id, a
// recurring UTC schedule every five minutes with NextRun set, a POST
// callback (webhook transport), an empty payload and the default policies.
func NewCue(tenant core.TenantID, opts *CueOpts) *core.Cue {
	if opts == nil {
		opts = &CueOpts{}
	}
	created := cmp.Or(opts.CreatedAt, FactoryTime)
	transport := cmp.Or(opts.Transport, core.TransportWebhook)
	c := &core.Cue{
		ID:        core.NewCueID(),
		TenantID:  tenant,
		Name:      cmp.Or(opts.Name, "cue-"+core.RandomHex(8)),
		Status:    cmp.Or(opts.Status, core.CueActive),
		Transport: transport,
		Schedule: core.Schedule{
			Type:     core.ScheduleRecurring,
			Cron:     new("*/5 * * * *"),
			Timezone: "UTC",
		},
		Callback:  core.Callback{Method: "POST", Headers: map[string]string{}},
		Payload:   json.RawMessage(`{}`),
		Retry:     core.DefaultRetryPolicy(),
		OnFailure: core.DefaultOnFailure(),
		CatchUp:   core.CatchUpLatest,
		NextRun:   new(created.Add(5 * time.Minute)),
		CreatedAt: created,
		UpdatedAt: created,
	}
	if transport == core.TransportWebhook {
		c.Callback.URL = new("https://example.com/hooks/" + string(c.ID))
	}
	return c
}

// CreateCue stores NewCue(tenant, opts) with no effective cue limit and
// returns what the store returned.
func CreateCue(t testing.TB, s core.Store, tenant core.TenantID, opts *CueOpts) *core.Cue {
	t.Helper()
	c, err := s.CueCreate(t.Context(), &core.CueCreateParams{Cue: NewCue(tenant, opts), ActiveCueLimit: math.MaxInt32})
	require.NoError(t, err)
	return c
}
