package coretest

import (
	"encoding/json"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cueapi/cueapi/core"
	"github.com/stretchr/testify/require"
)

// acctAlertURL is the alert webhook URL of acctUser's tenants.
const acctAlertURL = "https://example.com/alerts"

// acctUser stores a user; withURL gives it an alert webhook URL and a
// sealed alert secret.
func acctUser(t testing.TB, s core.Store, withURL bool) *core.User {
	t.Helper()
	u := NewUser(nil)
	if withURL {
		u.AlertWebhookURL = new(acctAlertURL)
		u.AlertSecretSealed = new("sealed:alert-" + core.RandomHex(8))
	}
	got, err := s.UserCreate(t.Context(), &core.UserCreateParams{User: u})
	require.NoError(t, err)
	return got
}

// acctUserAt stores a user whose alert webhook URL is url.
func acctUserAt(t testing.TB, s core.Store, url string) *core.User {
	t.Helper()
	u := NewUser(nil)
	u.AlertWebhookURL = new(url)
	u.AlertSecretSealed = new("sealed:alert-" + core.RandomHex(8))
	got, err := s.UserCreate(t.Context(), &core.UserCreateParams{User: u})
	require.NoError(t, err)
	return got
}

// acctAlert returns a consecutive_failures alert of tenant about a fresh
// cue and execution, created at at, not stored.
func acctAlert(tenant core.TenantID, at time.Time) *core.Alert {
	return &core.Alert{
		ID:          core.NewUUID(),
		TenantID:    tenant,
		CueID:       new(core.NewCueID()),
		ExecutionID: new(core.NewExecutionID()),
		Type:        core.AlertConsecutiveFailures,
		Severity:    core.SeverityWarning,
		Message:     "alert " + core.RandomHex(4),
		Metadata:    json.RawMessage(`{"consecutive_failures": 3}`),
		CreatedAt:   at,
	}
}

// acctAllAlerts lists all of tenant's alerts.
func acctAllAlerts(t testing.TB, s core.Store, tenant core.TenantID) []*core.Alert {
	t.Helper()
	alerts, total, err := s.AlertList(t.Context(), &core.AlertListParams{TenantID: tenant})
	require.NoError(t, err)
	require.Len(t, alerts, total)
	return alerts
}

// acctGetAlert returns tenant's alert id.
func acctGetAlert(t testing.TB, s core.Store, tenant core.TenantID, id string) *core.Alert {
	t.Helper()
	for _, a := range acctAllAlerts(t, s, tenant) {
		if a.ID == id {
			return a
		}
	}
	require.Failf(t, "alert not listed", "alert %s", id)
	return nil
}

// acctClaimAlerts claims up to limit alerts at now.
func acctClaimAlerts(t testing.TB, s core.Store, now time.Time, lease time.Duration, limit int) []*core.AlertDelivery {
	t.Helper()
	ds, err := s.AlertClaimDeliveries(t.Context(), &core.AlertClaimDeliveriesParams{Now: now, Lease: lease, Limit: limit})
	require.NoError(t, err)
	return ds
}

func acctAlertIDs(alerts []*core.Alert) []string {
	ids := make([]string, len(alerts))
	for i, a := range alerts {
		ids[i] = a.ID
	}
	return ids
}

// requireAlertEqual checks got holds want's fields: CreatedAt in UTC within
// prec, metadata compared as JSON.
func requireAlertEqual(t *testing.T, prec time.Duration, want, got *core.Alert) {
	t.Helper()
	require.NotNil(t, got)
	requireTimeEqual(t, prec, want.CreatedAt, got.CreatedAt, "CreatedAt")
	requireTimePtrEqual(t, prec, want.DeliveredAt, got.DeliveredAt, "DeliveredAt")
	requireJSONEqual(t, want.Metadata, got.Metadata, false, "Metadata")
	w, g := *want, *got
	w.CreatedAt, g.CreatedAt = time.Time{}, time.Time{}
	w.DeliveredAt, g.DeliveredAt = nil, nil
	w.Metadata, g.Metadata = nil, nil
	require.Equal(t, w, g)
}

func (s *storeSuite) testAlertCreate(t *testing.T) {
	t.Parallel()

	t.Run("ConcurrentDuplicatesCreateOne", func(t *testing.T) {
		t.Parallel()
		b := s.setupAcct(t)
		u := acctUser(t, b.store, true)
		cue := core.NewCueID()
		const n = 20
		created := make([]bool, n)
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				a := acctAlert(u.ID, acctNow)
				a.CueID = &cue
				created[i], errs[i] = b.store.AlertCreate(b.ctx, &core.AlertCreateParams{Alert: a, DedupWindow: core.AlertDedupWindow, Now: acctNow})
			})
		}
		wg.Wait()
		wins := 0
		for i := range n {
			require.NoError(t, errs[i])
			if created[i] {
				wins++
			}
		}
		require.Equal(t, 1, wins)
		require.Len(t, acctAllAlerts(t, b.store, u.ID), 1)
	})

	t.Run("DeduplicatesByCueWithinWindow", func(t *testing.T) {
		t.Parallel()
		b := s.setupAcct(t)
		u := acctUser(t, b.store, false)
		first := acctAlert(u.ID, acctNow)
		require.True(t, acctRaise(t, b.store, first))

		inside := acctAlert(u.ID, acctNow.Add(core.AlertDedupWindow-time.Microsecond))
		inside.CueID = first.CueID // another execution of the same cue
		require.False(t, acctRaise(t, b.store, inside), "created just inside the window")

		outside := acctAlert(u.ID, acctNow.Add(core.AlertDedupWindow))
		outside.CueID = first.CueID
		require.True(t, acctRaise(t, b.store, outside), "created a whole window later")
		require.ElementsMatch(t, []string{first.ID, outside.ID}, acctAlertIDs(acctAllAlerts(t, b.store, u.ID)))
	})

	t.Run("DeduplicatesByExecutionWhenNoCue", func(t *testing.T) {
		t.Parallel()
		b := s.setupAcct(t)
		u := acctUser(t, b.store, false)
		first := acctAlert(u.ID, acctNow)
		first.CueID = nil
		require.True(t, acctRaise(t, b.store, first))

		same := acctAlert(u.ID, acctNow.Add(time.Minute))
		same.CueID, same.ExecutionID = nil, first.ExecutionID
		require.False(t, acctRaise(t, b.store, same), "same execution")

		other := acctAlert(u.ID, acctNow.Add(time.Minute))
		other.CueID = nil
		require.True(t, acctRaise(t, b.store, other), "another execution")

		later := acctAlert(u.ID, acctNow.Add(core.AlertDedupWindow))
		later.CueID, later.ExecutionID = nil, first.ExecutionID
		require.True(t, acctRaise(t, b.store, later), "same execution a whole window later")
		require.Len(t, acctAllAlerts(t, b.store, u.ID), 3)
	})

	t.Run("KeepsTypesAndTenantsApart", func(t *testing.T) {
		t.Parallel()
		b := s.setupAcct(t)
		u := acctUser(t, b.store, false)
		other := acctUser(t, b.store, false)
		first := acctAlert(u.ID, acctNow)
		require.True(t, acctRaise(t, b.store, first))

		otherType := acctAlert(u.ID, acctNow)
		otherType.CueID, otherType.ExecutionID = first.CueID, first.ExecutionID
		otherType.Type = core.AlertVerificationFailed
		require.True(t, acctRaise(t, b.store, otherType))

		otherTenant := acctAlert(other.ID, acctNow)
		otherTenant.CueID, otherTenant.ExecutionID = first.CueID, first.ExecutionID
		require.True(t, acctRaise(t, b.store, otherTenant))

		require.Len(t, acctAllAlerts(t, b.store, u.ID), 2)
		require.Len(t, acctAllAlerts(t, b.store, other.ID), 1)
	})

	t.Run("QueuesDeliveryOnlyWhenTenantHasAlertURL", func(t *testing.T) {
		t.Parallel()
		b := s.setupAcct(t)
		with := acctUser(t, b.store, true)
		without := acctUser(t, b.store, false)
		queued := acctAlert(with.ID, acctNow)
		require.True(t, acctRaise(t, b.store, queued))
		quiet := acctAlert(without.ID, acctNow)
		require.True(t, acctRaise(t, b.store, quiet))

		got := acctGetAlert(t, b.store, with.ID, queued.ID)
		require.Equal(t, new("pending"), got.DeliveryStatus)
		require.Zero(t, got.DeliveryAttempts)
		got = acctGetAlert(t, b.store, without.ID, quiet.ID)
		require.Nil(t, got.DeliveryStatus)

		require.Empty(t, acctClaimAlerts(t, b.store, acctNow.Add(-time.Microsecond), time.Minute, 10), "not due before Now")
		ds := acctClaimAlerts(t, b.store, acctNow, time.Minute, 10)
		require.Equal(t, []string{queued.ID}, acctDeliveryIDs(ds), "due at Now; the quiet alert is never claimed")
	})

	t.Run("ReturnsNotFoundForUnknownTenant", func(t *testing.T) {
		t.Parallel()
		b := s.setupAcct(t)
		for _, tenant := range []core.TenantID{core.NewTenantID(), "not-a-uuid"} {
			_, err := b.store.AlertCreate(b.ctx, &core.AlertCreateParams{Alert: acctAlert(tenant, acctNow), DedupWindow: core.AlertDedupWindow, Now: acctNow})
			require.ErrorIs(t, err, core.ErrNotFound)
		}
	})

	t.Run("RoundTripsEveryField", func(t *testing.T) {
		t.Parallel()
		b := s.setupAcct(t)
		u := acctUser(t, b.store, false)
		full := acctAlert(u.ID, oddTime(0))
		full.Type = core.AlertVerificationFailed
		full.Metadata = json.RawMessage(`{"outcome_state": "verification_failed", "transport": "worker", "n": [1, 2]}`)
		full.Acknowledged = true
		bare := acctAlert(u.ID, oddTime(time.Second))
		bare.Type = core.AlertOutcomeTimeout
		bare.CueID, bare.ExecutionID, bare.Metadata = nil, nil, nil
		for _, a := range []*core.Alert{full, bare} {
			created, err := b.store.AlertCreate(b.ctx, &core.AlertCreateParams{Alert: a, DedupWindow: core.AlertDedupWindow, Now: oddTime(time.Second)})
			require.NoError(t, err)
			require.True(t, created)
		}

		got := acctAllAlerts(t, b.store, u.ID)
		require.Len(t, got, 2)
		requireAlertEqual(t, s.opts.TimePrecision, bare, got[0])
		requireAlertEqual(t, s.opts.TimePrecision, full, got[1])
	})
}

func (s *storeSuite) testAlertList(t *testing.T) {
	t.Parallel()

	t.Run("FiltersByTypeAndSince", func(t *testing.T) {
		t.Parallel()
		b := s.setupAcct(t)
		u := acctUser(t, b.store, false)
		var alerts []*core.Alert
		for i, typ := range []string{core.AlertConsecutiveFailures, core.AlertVerificationFailed, core.AlertConsecutiveFailures, core.AlertOutcomeTimeout} {
			a := acctAlert(u.ID, acctNow.Add(time.Duration(i)*time.Minute))
			a.Type = typ
			require.True(t, acctRaise(t, b.store, a))
			alerts = append(alerts, a)
		}

		list := func(typ *string, since *time.Time) []string {
			got, total, err := b.store.AlertList(b.ctx, &core.AlertListParams{TenantID: u.ID, Type: typ, Since: since, Limit: 10})
			require.NoError(t, err)
			require.Len(t, got, total)
			return acctAlertIDs(got)
		}
		require.Equal(t, []string{alerts[2].ID, alerts[0].ID}, list(new(core.AlertConsecutiveFailures), nil))
		require.Equal(t, []string{alerts[3].ID, alerts[2].ID, alerts[1].ID}, list(nil, new(acctNow.Add(time.Minute))), "since is inclusive")
		require.Equal(t, []string{alerts[2].ID}, list(new(core.AlertConsecutiveFailures), new(acctNow.Add(time.Minute))))
		require.Empty(t, list(new(core.AlertOutcomeTimeout), new(acctNow.Add(time.Hour))))
	})

	t.Run("HidesOtherTenantsAlerts", func(t *testing.T) {
		t.Parallel()
		b := s.setupAcct(t)
		u := acctUser(t, b.store, false)
		other := acctUser(t, b.store, false)
		require.True(t, acctRaise(t, b.store, acctAlert(other.ID, acctNow)))

		for _, tenant := range []core.TenantID{u.ID, core.NewTenantID(), "not-a-uuid"} {
			got, total, err := b.store.AlertList(b.ctx, &core.AlertListParams{TenantID: tenant, Limit: 10})
			require.NoError(t, err)
			require.NotNil(t, got)
			require.Empty(t, got)
			require.Zero(t, total)
		}
	})

	t.Run("PagesNewestFirstWithTotal", func(t *testing.T) {
		t.Parallel()
		b := s.setupAcct(t)
		u := acctUser(t, b.store, false)
		var alerts []*core.Alert
		for i := range 5 {
			at := acctNow.Add(time.Duration(i) * time.Minute)
			if i == 4 {
				at = alerts[3].CreatedAt // a tie, broken by id
			}
			a := acctAlert(u.ID, at)
			require.True(t, acctRaise(t, b.store, a))
			alerts = append(alerts, a)
		}
		slices.SortFunc(alerts, func(x, y *core.Alert) int {
			if c := y.CreatedAt.Compare(x.CreatedAt); c != 0 {
				return c
			}
			return strings.Compare(y.ID, x.ID)
		})
		want := acctAlertIDs(alerts)

		got, total, err := b.store.AlertList(b.ctx, &core.AlertListParams{TenantID: u.ID, Limit: 2, Offset: 1})
		require.NoError(t, err)
		require.Equal(t, 5, total)
		require.Equal(t, want[1:3], acctAlertIDs(got))

		got, total, err = b.store.AlertList(b.ctx, &core.AlertListParams{TenantID: u.ID, Limit: 10, Offset: 4})
		require.NoError(t, err)
		require.Equal(t, 5, total)
		require.Equal(t, want[4:], acctAlertIDs(got))

		require.Equal(t, want, acctAlertIDs(acctAllAlerts(t, b.store, u.ID)), "a limit of 0 lists all")
	})
}

func (s *storeSuite) testAlertClaimDeliveries(t *testing.T) {
	t.Parallel()

	t.Run("ClaimsDueAlertsOldestFirstWithURLAndSecret", func(t *testing.T) {
		t.Parallel()
		b := s.setupAcct(t)
		u := acctUser(t, b.store, true)
		other := acctUser(t, b.store, true)
		a0 := acctAlert(u.ID, acctNow)
		a1 := acctAlert(other.ID, acctNow.Add(time.Second))
		a2 := acctAlert(u.ID, acctNow.Add(2*time.Second))
		for _, a := range []*core.Alert{a2, a0, a1} {
			require.True(t, acctRaise(t, b.store, a))
		}

		ds := acctClaimAlerts(t, b.store, acctNow.Add(time.Second), 24*time.Hour, 10)
		require.Equal(t, []string{a0.ID, a1.ID}, acctDeliveryIDs(ds))
		require.Equal(t, acctAlertURL, ds[0].URL)
		require.Equal(t, core.DestinationOf(acctAlertURL), ds[0].Destination)
		require.Equal(t, u.AlertSecretSealed, ds[0].SecretSealed)
		require.Equal(t, other.AlertSecretSealed, ds[1].SecretSealed)
		want := *a0
		want.DeliveryStatus, want.DeliveryAttempts = new("pending"), 1
		requireAlertEqual(t, s.opts.TimePrecision, &want, ds[0].Alert)

		require.Equal(t, []string{a2.ID}, acctDeliveryIDs(acctClaimAlerts(t, b.store, acctNow.Add(time.Hour), time.Hour, 1)))
		require.Empty(t, acctClaimAlerts(t, b.store, acctNow.Add(time.Hour), time.Hour, 10))
		require.Equal(t, 1, acctGetAlert(t, b.store, u.ID, a0.ID).DeliveryAttempts)
	})

	t.Run("ConcurrentClaimsNeverOverlap", func(t *testing.T) {
		t.Parallel()
		b := s.setupAcct(t)
		u := acctUser(t, b.store, true)
		const n = 30
		for i := range n {
			require.True(t, acctRaise(t, b.store, acctAlert(u.ID, acctNow.Add(time.Duration(i)*time.Millisecond))))
		}
		claimNow := acctNow.Add(time.Minute)
		var (
			mu      sync.Mutex
			claimed []string
			wg      sync.WaitGroup
		)
		errs := make([]error, 6)
		for w := range len(errs) {
			wg.Go(func() {
				for {
					ds, err := b.store.AlertClaimDeliveries(b.ctx, &core.AlertClaimDeliveriesParams{Now: claimNow, Lease: time.Hour, Limit: 4})
					if err != nil || len(ds) == 0 {
						errs[w] = err
						return
					}
					mu.Lock()
					claimed = append(claimed, acctDeliveryIDs(ds)...)
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		for _, err := range errs {
			require.NoError(t, err)
		}
		// A claimer may stop early on rows locked by another; sweep the rest.
		claimed = append(claimed, acctDeliveryIDs(acctClaimAlerts(t, b.store, claimNow, time.Hour, n))...)
		require.Len(t, claimed, n, "every alert claimed exactly once")
		slices.Sort(claimed)
		require.Len(t, slices.Compact(claimed), n)
		for _, a := range acctAllAlerts(t, b.store, u.ID) {
			require.Equal(t, 1, a.DeliveryAttempts)
		}
	})

	t.Run("GivesUpAlertsWhoseTenantRemovedTheURL", func(t *testing.T) {
		t.Parallel()
		b := s.setupAcct(t)
		u := acctUser(t, b.store, true)
		a := acctAlert(u.ID, acctNow)
		require.True(t, acctRaise(t, b.store, a))
		_, err := b.store.UserUpdate(b.ctx, &core.UserUpdateParams{ID: u.ID, Fn: func(u *core.User) error {
			u.AlertWebhookURL = nil
			return nil
		}})
		require.NoError(t, err)

		require.Empty(t, acctClaimAlerts(t, b.store, acctNow, time.Minute, 10))
		got := acctGetAlert(t, b.store, u.ID, a.ID)
		require.Equal(t, new("failed"), got.DeliveryStatus)
		require.NotNil(t, got.LastDeliveryErr)
		require.Empty(t, acctClaimAlerts(t, b.store, acctNow.Add(time.Hour), time.Minute, 10))
	})

	t.Run("LeasesClaimsUntilNowPlusLease", func(t *testing.T) {
		t.Parallel()
		b := s.setupAcct(t)
		u := acctUser(t, b.store, true)
		a := acctAlert(u.ID, acctNow)
		require.True(t, acctRaise(t, b.store, a))

		require.Len(t, acctClaimAlerts(t, b.store, acctNow, time.Minute, 10), 1)
		require.Empty(t, acctClaimAlerts(t, b.store, acctNow, time.Minute, 10), "leased")
		require.Empty(t, acctClaimAlerts(t, b.store, acctNow.Add(time.Minute-time.Microsecond), time.Minute, 10), "lease not over")
		ds := acctClaimAlerts(t, b.store, acctNow.Add(time.Minute), time.Minute, 10)
		require.Equal(t, []string{a.ID}, acctDeliveryIDs(ds), "re-claimable once the lease is over")
		require.Equal(t, 2, ds[0].Alert.DeliveryAttempts)
	})

	t.Run("FairAcrossDestinations", func(t *testing.T) {
		t.Parallel()
		b := s.setupAcct(t)
		busy := acctUserAt(t, b.store, "https://Busy.Example:8443/alerts")
		quiet := acctUserAt(t, b.store, "https://quiet.example/alerts")
		var busyIDs, quietIDs []string
		for i := range 6 {
			a := acctAlert(busy.ID, acctNow.Add(time.Duration(i)*time.Millisecond))
			require.True(t, acctRaise(t, b.store, a))
			busyIDs = append(busyIDs, a.ID)
		}
		for i := range 2 {
			a := acctAlert(quiet.ID, acctNow.Add(time.Second+time.Duration(i)*time.Millisecond))
			require.True(t, acctRaise(t, b.store, a))
			quietIDs = append(quietIDs, a.ID)
		}
		claimNow := acctNow.Add(time.Minute)
		claim := func(limit, per int, room map[string]int) []*core.AlertDelivery {
			ds, err := b.store.AlertClaimDeliveries(b.ctx, &core.AlertClaimDeliveriesParams{Now: claimNow, Lease: time.Hour, Limit: limit, PerDestination: per, Room: room})
			require.NoError(t, err)
			return ds
		}
		// Round-robin: the quiet destination's oldest comes before the busy
		// one's second, although all the busy ones are older.
		ds := claim(2, 4, nil)
		require.ElementsMatch(t, []string{busyIDs[0], quietIDs[0]}, acctDeliveryIDs(ds))
		for _, d := range ds {
			require.Contains(t, []string{"busy.example:8443", "quiet.example"}, d.Destination)
		}
		// Per-destination bound: at most 2 more of busy; the room skips quiet.
		ds = claim(10, 2, map[string]int{"quiet.example": 0})
		require.Equal(t, busyIDs[1:3], acctDeliveryIDs(ds))
		// A room above the bound lets a destination take more.
		ds = claim(10, 1, map[string]int{"busy.example:8443": 3})
		require.ElementsMatch(t, append(slices.Clone(busyIDs[3:6]), quietIDs[1]), acctDeliveryIDs(ds))
		require.Empty(t, claim(10, 2, nil))
	})

	t.Run("MovesAlertsWhoseTenantChangedTheURL", func(t *testing.T) {
		t.Parallel()
		b := s.setupAcct(t)
		u := acctUser(t, b.store, true)
		a := acctAlert(u.ID, acctNow)
		require.True(t, acctRaise(t, b.store, a))
		_, err := b.store.UserUpdate(b.ctx, &core.UserUpdateParams{ID: u.ID, Fn: func(u *core.User) error {
			u.AlertWebhookURL = new("https://elsewhere.example/hook")
			return nil
		}})
		require.NoError(t, err)
		require.Empty(t, acctClaimAlerts(t, b.store, acctNow, time.Minute, 10), "moved to the new destination first")
		require.Zero(t, acctGetAlert(t, b.store, u.ID, a.ID).DeliveryAttempts)
		ds := acctClaimAlerts(t, b.store, acctNow, time.Minute, 10)
		require.Equal(t, []string{a.ID}, acctDeliveryIDs(ds))
		require.Equal(t, "elsewhere.example", ds[0].Destination)
		require.Equal(t, "https://elsewhere.example/hook", ds[0].URL)
	})

	t.Run("ReturnsNothingForZeroLimit", func(t *testing.T) {
		t.Parallel()
		b := s.setupAcct(t)
		u := acctUser(t, b.store, true)
		require.True(t, acctRaise(t, b.store, acctAlert(u.ID, acctNow)))
		ds := acctClaimAlerts(t, b.store, acctNow, time.Minute, 0)
		require.NotNil(t, ds)
		require.Empty(t, ds)
		require.Zero(t, acctAllAlerts(t, b.store, u.ID)[0].DeliveryAttempts)
	})
}

func (s *storeSuite) testAlertRecordDeliveries(t *testing.T) {
	t.Parallel()

	// claimed raises an alert of a tenant with an alert URL and claims it at
	// acctNow with a one-minute lease (attempt 1).
	claimed := func(t *testing.T, b *accountingBundle) *core.Alert {
		t.Helper()
		u := acctUser(t, b.store, true)
		a := acctAlert(u.ID, acctNow)
		require.True(t, acctRaise(t, b.store, a))
		ds := acctClaimAlerts(t, b.store, acctNow, time.Minute, 10)
		require.Len(t, ds, 1)
		return a
	}

	t.Run("GivesUp", func(t *testing.T) {
		t.Parallel()
		b := s.setupAcct(t)
		a := claimed(t, b)
		require.True(t, acctRecordAlert(t, b.store, &core.AlertRecordDeliveryParams{ID: a.ID, Attempt: 1, Now: acctNow.Add(time.Second), GiveUp: true, Error: new("HTTP 410")}))

		got := acctGetAlert(t, b.store, a.TenantID, a.ID)
		require.Equal(t, new("failed"), got.DeliveryStatus)
		require.Equal(t, new("HTTP 410"), got.LastDeliveryErr)
		require.Nil(t, got.DeliveredAt)
		require.Empty(t, acctClaimAlerts(t, b.store, acctNow.Add(24*time.Hour), time.Minute, 10))
	})

	t.Run("MarksDelivered", func(t *testing.T) {
		t.Parallel()
		b := s.setupAcct(t)
		a := claimed(t, b)
		require.True(t, acctRecordAlert(t, b.store, &core.AlertRecordDeliveryParams{ID: a.ID, Attempt: 1, Now: oddTime(0), Delivered: true}))

		got := acctGetAlert(t, b.store, a.TenantID, a.ID)
		want := *a
		want.DeliveryStatus, want.DeliveryAttempts, want.DeliveredAt = new("delivered"), 1, new(oddTime(0))
		requireAlertEqual(t, s.opts.TimePrecision, &want, got)
		require.Empty(t, acctClaimAlerts(t, b.store, acctNow.Add(24*time.Hour), time.Minute, 10))
	})

	t.Run("FencedOnTheClaim", func(t *testing.T) {
		t.Parallel()
		b := s.setupAcct(t)
		for _, id := range []string{core.NewUUID(), "not-a-uuid"} {
			require.False(t, acctRecordAlert(t, b.store, &core.AlertRecordDeliveryParams{ID: id, Attempt: 1, Now: acctNow, Delivered: true}))
		}
		a := claimed(t, b)
		// A result of another claim (an earlier or a later attempt) is dropped.
		for _, attempt := range []int{0, 2} {
			require.False(t, acctRecordAlert(t, b.store, &core.AlertRecordDeliveryParams{ID: a.ID, Attempt: attempt, Now: acctNow, Delivered: true}))
		}
		require.Equal(t, new("pending"), acctGetAlert(t, b.store, a.TenantID, a.ID).DeliveryStatus)

		require.True(t, acctRecordAlert(t, b.store, &core.AlertRecordDeliveryParams{ID: a.ID, Attempt: 1, Now: acctNow, Delivered: true}))
		next := acctNow.Add(time.Minute)
		require.False(t, acctRecordAlert(t, b.store, &core.AlertRecordDeliveryParams{ID: a.ID, Attempt: 1, Now: acctNow, Error: new("late"), NextAttempt: &next}),
			"a late result does not reopen a delivered alert")
		got := acctGetAlert(t, b.store, a.TenantID, a.ID)
		require.Equal(t, new("delivered"), got.DeliveryStatus)
		require.Nil(t, got.LastDeliveryErr)
	})

	t.Run("LostLeaseIsDropped", func(t *testing.T) {
		t.Parallel()
		b := s.setupAcct(t)
		a := claimed(t, b)
		// The lease ran out; another claimer took the alert (attempt 2).
		require.Len(t, acctClaimAlerts(t, b.store, acctNow.Add(time.Minute), time.Minute, 10), 1)
		require.False(t, acctRecordAlert(t, b.store, &core.AlertRecordDeliveryParams{ID: a.ID, Attempt: 1, Now: acctNow.Add(time.Minute), Delivered: true}))
		require.True(t, acctRecordAlert(t, b.store, &core.AlertRecordDeliveryParams{ID: a.ID, Attempt: 2, Now: acctNow.Add(time.Minute), GiveUp: true, Error: new("HTTP 410")}))
		got := acctGetAlert(t, b.store, a.TenantID, a.ID)
		require.Equal(t, new("failed"), got.DeliveryStatus)
		require.Equal(t, 2, got.DeliveryAttempts)
	})

	t.Run("ReleaseHandsBackUncounted", func(t *testing.T) {
		t.Parallel()
		b := s.setupAcct(t)
		a := claimed(t, b)
		at := acctNow.Add(time.Second) // within the lease
		require.True(t, acctRecordAlert(t, b.store, &core.AlertRecordDeliveryParams{ID: a.ID, Attempt: 1, Now: at, Release: true}))
		got := acctGetAlert(t, b.store, a.TenantID, a.ID)
		require.Equal(t, new("pending"), got.DeliveryStatus)
		require.Zero(t, got.DeliveryAttempts, "not counted")
		ds := acctClaimAlerts(t, b.store, at, time.Minute, 10)
		require.Equal(t, []string{a.ID}, acctDeliveryIDs(ds), "due at once")
		require.Equal(t, 1, ds[0].Alert.DeliveryAttempts, "the same attempt number again")
	})

	t.Run("RecordsABatchInOneCall", func(t *testing.T) {
		t.Parallel()
		b := s.setupAcct(t)
		u := acctUser(t, b.store, true)
		a0, a1 := acctAlert(u.ID, acctNow), acctAlert(u.ID, acctNow.Add(time.Millisecond))
		require.True(t, acctRaise(t, b.store, a0))
		require.True(t, acctRaise(t, b.store, a1))
		require.Len(t, acctClaimAlerts(t, b.store, acctNow.Add(time.Second), time.Minute, 10), 2)
		next := acctNow.Add(time.Hour)
		applied, err := b.store.AlertRecordDeliveries(b.ctx, &core.AlertRecordDeliveriesParams{Now: acctNow.Add(2 * time.Second), Results: []*core.AlertRecordDeliveryParams{
			{ID: a0.ID, Attempt: 1, Now: acctNow.Add(2 * time.Second), Delivered: true},
			{ID: a1.ID, Attempt: 3, Now: acctNow.Add(2 * time.Second), Delivered: true}, // not this claim
			{ID: a1.ID, Attempt: 1, Now: acctNow.Add(2 * time.Second), Error: new("HTTP 500"), NextAttempt: &next},
		}})
		require.NoError(t, err)
		require.Equal(t, []bool{true, false, true}, applied)
		require.Equal(t, new("delivered"), acctGetAlert(t, b.store, u.ID, a0.ID).DeliveryStatus)
		got := acctGetAlert(t, b.store, u.ID, a1.ID)
		require.Equal(t, new("pending"), got.DeliveryStatus)
		require.Equal(t, new("HTTP 500"), got.LastDeliveryErr)
	})

	t.Run("SchedulesRetryAtNextAttempt", func(t *testing.T) {
		t.Parallel()
		b := s.setupAcct(t)
		a := claimed(t, b)
		next := acctNow.Add(30 * time.Second) // before the lease ends
		require.True(t, acctRecordAlert(t, b.store, &core.AlertRecordDeliveryParams{ID: a.ID, Attempt: 1, Now: acctNow.Add(time.Second), Error: new("HTTP 500"), NextAttempt: &next}))

		got := acctGetAlert(t, b.store, a.TenantID, a.ID)
		require.Equal(t, new("pending"), got.DeliveryStatus)
		require.Equal(t, new("HTTP 500"), got.LastDeliveryErr)
		require.Equal(t, 1, got.DeliveryAttempts)
		require.Empty(t, acctClaimAlerts(t, b.store, next.Add(-time.Microsecond), time.Minute, 10))
		ds := acctClaimAlerts(t, b.store, next, time.Minute, 10)
		require.Equal(t, []string{a.ID}, acctDeliveryIDs(ds))
		require.Equal(t, 2, ds[0].Alert.DeliveryAttempts)
		require.Equal(t, new("HTTP 500"), ds[0].Alert.LastDeliveryErr)

		require.True(t, acctRecordAlert(t, b.store, &core.AlertRecordDeliveryParams{ID: a.ID, Attempt: 2, Now: next.Add(time.Second), Delivered: true}))
		got = acctGetAlert(t, b.store, a.TenantID, a.ID)
		require.Equal(t, new("delivered"), got.DeliveryStatus)
		requireTimePtrEqual(t, s.opts.TimePrecision, new(next.Add(time.Second)), got.DeliveredAt, "DeliveredAt")
	})
}

// acctRecordAlert records one result and reports whether it was applied.
func acctRecordAlert(t testing.TB, s core.Store, r *core.AlertRecordDeliveryParams) bool {
	t.Helper()
	applied, err := s.AlertRecordDeliveries(t.Context(), &core.AlertRecordDeliveriesParams{Now: r.Now, Results: []*core.AlertRecordDeliveryParams{r}})
	require.NoError(t, err)
	require.Len(t, applied, 1)
	return applied[0]
}

// acctRaise creates a at its CreatedAt with the default de-dup window and
// reports whether it was created.
func acctRaise(t testing.TB, s core.Store, a *core.Alert) bool {
	t.Helper()
	created, err := s.AlertCreate(t.Context(), &core.AlertCreateParams{Alert: a, DedupWindow: core.AlertDedupWindow, Now: a.CreatedAt})
	require.NoError(t, err)
	return created
}

func acctDeliveryIDs(ds []*core.AlertDelivery) []string {
	ids := make([]string, len(ds))
	for i, d := range ds {
		ids[i] = d.Alert.ID
	}
	return ids
}

// testAlertAcknowledge: the tenant's alert becomes acknowledged (and
// stays so when acknowledged again); another tenant's alert, an unknown id
// and a non-UUID are ErrNotFound and change nothing.
func (s *storeSuite) testAlertAcknowledge(t *testing.T) {
	t.Parallel()
	b := s.setup(t)
	u, other := acctUser(t, b.store, false), acctUser(t, b.store, false)
	a := acctAlert(u.ID, acctNow)
	require.True(t, acctRaise(t, b.store, a))
	theirs := acctAlert(other.ID, acctNow)
	require.True(t, acctRaise(t, b.store, theirs))
	require.False(t, acctAllAlerts(t, b.store, u.ID)[0].Acknowledged)

	require.NoError(t, b.store.AlertAcknowledge(b.ctx, &core.AlertAcknowledgeParams{TenantID: u.ID, ID: a.ID}))
	require.True(t, acctAllAlerts(t, b.store, u.ID)[0].Acknowledged)
	require.NoError(t, b.store.AlertAcknowledge(b.ctx, &core.AlertAcknowledgeParams{TenantID: u.ID, ID: a.ID}))
	require.True(t, acctAllAlerts(t, b.store, u.ID)[0].Acknowledged)

	for _, p := range []*core.AlertAcknowledgeParams{
		{TenantID: u.ID, ID: theirs.ID},
		{TenantID: u.ID, ID: core.NewUUID()},
		{TenantID: u.ID, ID: "not-a-uuid"},
		{TenantID: "not-a-uuid", ID: a.ID},
	} {
		require.ErrorIs(t, b.store.AlertAcknowledge(b.ctx, p), core.ErrNotFound, p.ID)
	}
	require.False(t, acctAllAlerts(t, b.store, other.ID)[0].Acknowledged)
}
