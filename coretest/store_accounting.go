package coretest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cueapi/cueapi/core"
)

// AccountingStoreUnderTest is a store with the accounting port.
type AccountingStoreUnderTest interface {
	core.Store
	core.AccountingStore
}

// RunAccountingStoreContract runs the core.AccountingStore contract: the
// executable form of its doc comments in core/ports_work.go. Change both
// together.
//
// newStore must return a fresh, empty, migrated store, isolated from every
// other call, and register its own cleanup. Every subtest calls it once
// and runs in parallel with the others.
func RunAccountingStoreContract(t *testing.T, newStore func(t *testing.T) AccountingStoreUnderTest, opts StoreOpts) {
	t.Helper()
	if opts.TimePrecision <= 0 {
		opts.TimePrecision = time.Microsecond
	}
	s := &accountingSuite{newStore: newStore, opts: opts}

	t.Run("AlertAcknowledge", s.testAlertAcknowledge)
	t.Run("AlertClaimDeliveries", s.testAlertClaimDeliveries)
	t.Run("AlertCreate", s.testAlertCreate)
	t.Run("AlertList", s.testAlertList)
	t.Run("AlertRecordDelivery", s.testAlertRecordDelivery)
	t.Run("DeviceCodeCreate", s.testDeviceCodeCreate)
	t.Run("DeviceCodeGet", s.testDeviceCodeGet)
	t.Run("DeviceCodeGetBySessionToken", s.testDeviceCodeGetBySessionToken)
	t.Run("DeviceCodePurge", s.testDeviceCodePurge)
	t.Run("DeviceCodeUpdate", s.testDeviceCodeUpdate)
	t.Run("EchoGet", s.testEchoGet)
	t.Run("EchoPut", s.testEchoPut)
	t.Run("OutcomeCounts", s.testOutcomeCounts)
	t.Run("UsageCount", s.testUsageCount)
	t.Run("UsageGet", s.testUsageGet)
	t.Run("UsageStartGrace", s.testUsageStartGrace)
}

// accountingSuite is what every accounting subtest shares.
type accountingSuite struct {
	newStore func(t *testing.T) AccountingStoreUnderTest
	opts     StoreOpts
}

// accountingBundle is one subtest's fresh world.
type accountingBundle struct {
	ctx   context.Context
	store AccountingStoreUnderTest
}

func (s *accountingSuite) setup(t *testing.T) *accountingBundle {
	t.Helper()
	return &accountingBundle{ctx: t.Context(), store: s.newStore(t)}
}

// acctNow is the "now" of the accounting cases: a whole second, so that
// edges one microsecond away are exact in every store.
var acctNow = time.Date(2026, 3, 20, 16, 0, 0, 0, time.UTC)

// ---- alerts ----

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

// acctRaise creates a at its CreatedAt with the default de-dup window and
// reports whether it was created.
func acctRaise(t testing.TB, s core.AccountingStore, a *core.Alert) bool {
	t.Helper()
	created, err := s.AlertCreate(t.Context(), &core.AlertCreateParams{Alert: a, DedupWindow: core.AlertDedupWindow, Now: a.CreatedAt})
	require.NoError(t, err)
	return created
}

// acctAllAlerts lists all of tenant's alerts.
func acctAllAlerts(t testing.TB, s core.AccountingStore, tenant core.TenantID) []*core.Alert {
	t.Helper()
	alerts, total, err := s.AlertList(t.Context(), &core.AlertListParams{TenantID: tenant})
	require.NoError(t, err)
	require.Len(t, alerts, total)
	return alerts
}

// acctGetAlert returns tenant's alert id.
func acctGetAlert(t testing.TB, s core.AccountingStore, tenant core.TenantID, id string) *core.Alert {
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
func acctClaimAlerts(t testing.TB, s core.AccountingStore, now time.Time, lease time.Duration, limit int) []*core.AlertDelivery {
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

func acctDeliveryIDs(ds []*core.AlertDelivery) []string {
	ids := make([]string, len(ds))
	for i, d := range ds {
		ids[i] = d.Alert.ID
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

func (s *accountingSuite) testAlertCreate(t *testing.T) {
	t.Parallel()

	t.Run("ConcurrentDuplicatesCreateOne", func(t *testing.T) {
		t.Parallel()
		b := s.setup(t)
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
		b := s.setup(t)
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
		b := s.setup(t)
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
		b := s.setup(t)
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
		b := s.setup(t)
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
		b := s.setup(t)
		for _, tenant := range []core.TenantID{core.NewTenantID(), "not-a-uuid"} {
			_, err := b.store.AlertCreate(b.ctx, &core.AlertCreateParams{Alert: acctAlert(tenant, acctNow), DedupWindow: core.AlertDedupWindow, Now: acctNow})
			require.ErrorIs(t, err, core.ErrNotFound)
		}
	})

	t.Run("RoundTripsEveryField", func(t *testing.T) {
		t.Parallel()
		b := s.setup(t)
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

func (s *accountingSuite) testAlertList(t *testing.T) {
	t.Parallel()

	t.Run("FiltersByTypeAndSince", func(t *testing.T) {
		t.Parallel()
		b := s.setup(t)
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
		b := s.setup(t)
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
		b := s.setup(t)
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

func (s *accountingSuite) testAlertClaimDeliveries(t *testing.T) {
	t.Parallel()

	t.Run("ClaimsDueAlertsOldestFirstWithURLAndSecret", func(t *testing.T) {
		t.Parallel()
		b := s.setup(t)
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
		b := s.setup(t)
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
		b := s.setup(t)
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
		b := s.setup(t)
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

	t.Run("ReturnsNothingForZeroLimit", func(t *testing.T) {
		t.Parallel()
		b := s.setup(t)
		u := acctUser(t, b.store, true)
		require.True(t, acctRaise(t, b.store, acctAlert(u.ID, acctNow)))
		ds := acctClaimAlerts(t, b.store, acctNow, time.Minute, 0)
		require.NotNil(t, ds)
		require.Empty(t, ds)
		require.Zero(t, acctAllAlerts(t, b.store, u.ID)[0].DeliveryAttempts)
	})
}

func (s *accountingSuite) testAlertRecordDelivery(t *testing.T) {
	t.Parallel()

	// claimed raises an alert of a tenant with an alert URL and claims it at
	// acctNow with a one-minute lease.
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
		b := s.setup(t)
		a := claimed(t, b)
		err := b.store.AlertRecordDelivery(b.ctx, &core.AlertRecordDeliveryParams{ID: a.ID, Now: acctNow.Add(time.Second), GiveUp: true, Error: new("HTTP 410")})
		require.NoError(t, err)

		got := acctGetAlert(t, b.store, a.TenantID, a.ID)
		require.Equal(t, new("failed"), got.DeliveryStatus)
		require.Equal(t, new("HTTP 410"), got.LastDeliveryErr)
		require.Nil(t, got.DeliveredAt)
		require.Empty(t, acctClaimAlerts(t, b.store, acctNow.Add(24*time.Hour), time.Minute, 10))
	})

	t.Run("MarksDelivered", func(t *testing.T) {
		t.Parallel()
		b := s.setup(t)
		a := claimed(t, b)
		err := b.store.AlertRecordDelivery(b.ctx, &core.AlertRecordDeliveryParams{ID: a.ID, Now: oddTime(0), Delivered: true})
		require.NoError(t, err)

		got := acctGetAlert(t, b.store, a.TenantID, a.ID)
		want := *a
		want.DeliveryStatus, want.DeliveryAttempts, want.DeliveredAt = new("delivered"), 1, new(oddTime(0))
		requireAlertEqual(t, s.opts.TimePrecision, &want, got)
		require.Empty(t, acctClaimAlerts(t, b.store, acctNow.Add(24*time.Hour), time.Minute, 10))
	})

	t.Run("ReturnsNotFoundForUnknownOrSettledAlert", func(t *testing.T) {
		t.Parallel()
		b := s.setup(t)
		for _, id := range []string{core.NewUUID(), "not-a-uuid"} {
			err := b.store.AlertRecordDelivery(b.ctx, &core.AlertRecordDeliveryParams{ID: id, Now: acctNow, Delivered: true})
			require.ErrorIs(t, err, core.ErrNotFound)
		}
		a := claimed(t, b)
		require.NoError(t, b.store.AlertRecordDelivery(b.ctx, &core.AlertRecordDeliveryParams{ID: a.ID, Now: acctNow, Delivered: true}))
		next := acctNow.Add(time.Minute)
		err := b.store.AlertRecordDelivery(b.ctx, &core.AlertRecordDeliveryParams{ID: a.ID, Now: acctNow, Error: new("late"), NextAttempt: &next})
		require.ErrorIs(t, err, core.ErrNotFound, "a late result does not reopen a delivered alert")
		got := acctGetAlert(t, b.store, a.TenantID, a.ID)
		require.Equal(t, new("delivered"), got.DeliveryStatus)
		require.Nil(t, got.LastDeliveryErr)
	})

	t.Run("SchedulesRetryAtNextAttempt", func(t *testing.T) {
		t.Parallel()
		b := s.setup(t)
		a := claimed(t, b)
		next := acctNow.Add(30 * time.Second) // before the lease ends
		err := b.store.AlertRecordDelivery(b.ctx, &core.AlertRecordDeliveryParams{ID: a.ID, Now: acctNow.Add(time.Second), Error: new("HTTP 500"), NextAttempt: &next})
		require.NoError(t, err)

		got := acctGetAlert(t, b.store, a.TenantID, a.ID)
		require.Equal(t, new("pending"), got.DeliveryStatus)
		require.Equal(t, new("HTTP 500"), got.LastDeliveryErr)
		require.Equal(t, 1, got.DeliveryAttempts)
		require.Empty(t, acctClaimAlerts(t, b.store, next.Add(-time.Microsecond), time.Minute, 10))
		ds := acctClaimAlerts(t, b.store, next, time.Minute, 10)
		require.Equal(t, []string{a.ID}, acctDeliveryIDs(ds))
		require.Equal(t, 2, ds[0].Alert.DeliveryAttempts)
		require.Equal(t, new("HTTP 500"), ds[0].Alert.LastDeliveryErr)

		require.NoError(t, b.store.AlertRecordDelivery(b.ctx, &core.AlertRecordDeliveryParams{ID: a.ID, Now: next.Add(time.Second), Delivered: true}))
		got = acctGetAlert(t, b.store, a.TenantID, a.ID)
		require.Equal(t, new("delivered"), got.DeliveryStatus)
		requireTimePtrEqual(t, s.opts.TimePrecision, new(next.Add(time.Second)), got.DeliveredAt, "DeliveredAt")
	})
}

// ---- usage ----

// acctMonth is the month of the usage cases.
var acctMonth = core.MonthStart(acctNow)

func acctUsage(t testing.TB, s core.AccountingStore, tenant core.TenantID, month time.Time) *core.Usage {
	t.Helper()
	u, err := s.UsageGet(t.Context(), &core.UsageGetParams{TenantID: tenant, MonthStart: month})
	require.NoError(t, err)
	return u
}

func acctCount(t testing.TB, s core.AccountingStore, tenant core.TenantID, month time.Time, n int) {
	t.Helper()
	require.NoError(t, s.UsageCount(t.Context(), &core.UsageCountParams{TenantID: tenant, MonthStart: month, N: n}))
}

func (s *accountingSuite) testUsageGet(t *testing.T) {
	t.Parallel()

	t.Run("ReturnsZeroWithoutRow", func(t *testing.T) {
		t.Parallel()
		b := s.setup(t)
		u := acctUser(t, b.store, false)
		for _, tenant := range []core.TenantID{u.ID, core.NewTenantID(), "not-a-uuid"} {
			got := acctUsage(t, b.store, tenant, acctMonth)
			require.Zero(t, got.Executions)
			require.Nil(t, got.GraceStartedAt)
			requireTimeEqual(t, s.opts.TimePrecision, acctMonth, got.MonthStart, "MonthStart")
		}
	})

	t.Run("SeparatesMonthsAndTenants", func(t *testing.T) {
		t.Parallel()
		b := s.setup(t)
		u := acctUser(t, b.store, false)
		other := acctUser(t, b.store, false)
		next := acctMonth.AddDate(0, 1, 0)
		acctCount(t, b.store, u.ID, acctMonth, 3)
		acctCount(t, b.store, u.ID, next, 5)
		acctCount(t, b.store, other.ID, acctMonth, 7)

		require.Equal(t, 3, acctUsage(t, b.store, u.ID, acctMonth).Executions)
		require.Equal(t, 5, acctUsage(t, b.store, u.ID, next).Executions)
		require.Equal(t, 7, acctUsage(t, b.store, other.ID, acctMonth).Executions)
		require.Zero(t, acctUsage(t, b.store, u.ID, acctMonth.AddDate(0, -1, 0)).Executions)
	})
}

func (s *accountingSuite) testUsageCount(t *testing.T) {
	t.Parallel()

	t.Run("AccumulatesCounts", func(t *testing.T) {
		t.Parallel()
		b := s.setup(t)
		u := acctUser(t, b.store, false)
		acctCount(t, b.store, u.ID, acctMonth, 2)
		acctCount(t, b.store, u.ID, acctMonth, 3)
		require.Equal(t, 5, acctUsage(t, b.store, u.ID, acctMonth).Executions)
		if s.opts.MonthlyUsage != nil {
			n, err := s.opts.MonthlyUsage(b.ctx, b.store, u.ID, acctNow)
			require.NoError(t, err)
			require.Equal(t, 5, n, "the engine's counter and UsageCount share the month's row")
		}
	})

	t.Run("ConcurrentCountsAllLand", func(t *testing.T) {
		t.Parallel()
		b := s.setup(t)
		u := acctUser(t, b.store, false)
		const n = 12
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				errs[i] = b.store.UsageCount(b.ctx, &core.UsageCountParams{TenantID: u.ID, MonthStart: acctMonth, N: 1})
			})
		}
		wg.Wait()
		for _, err := range errs {
			require.NoError(t, err)
		}
		require.Equal(t, n, acctUsage(t, b.store, u.ID, acctMonth).Executions)
	})

	t.Run("KeepsGraceStart", func(t *testing.T) {
		t.Parallel()
		b := s.setup(t)
		u := acctUser(t, b.store, false)
		_, err := b.store.UsageStartGrace(b.ctx, &core.UsageStartGraceParams{TenantID: u.ID, MonthStart: acctMonth, Now: acctNow})
		require.NoError(t, err)
		acctCount(t, b.store, u.ID, acctMonth, 4)
		got := acctUsage(t, b.store, u.ID, acctMonth)
		require.Equal(t, 4, got.Executions)
		requireTimePtrEqual(t, s.opts.TimePrecision, &acctNow, got.GraceStartedAt, "GraceStartedAt")
	})

	t.Run("ReturnsNotFoundForUnknownTenant", func(t *testing.T) {
		t.Parallel()
		b := s.setup(t)
		for _, tenant := range []core.TenantID{core.NewTenantID(), "not-a-uuid"} {
			err := b.store.UsageCount(b.ctx, &core.UsageCountParams{TenantID: tenant, MonthStart: acctMonth, N: 1})
			require.ErrorIs(t, err, core.ErrNotFound)
		}
	})
}

func (s *accountingSuite) testUsageStartGrace(t *testing.T) {
	t.Parallel()

	t.Run("ConcurrentStartsAgreeOnOneTime", func(t *testing.T) {
		t.Parallel()
		b := s.setup(t)
		u := acctUser(t, b.store, false)
		const n = 10
		got := make([]time.Time, n)
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				got[i], errs[i] = b.store.UsageStartGrace(b.ctx, &core.UsageStartGraceParams{TenantID: u.ID, MonthStart: acctMonth, Now: acctNow.Add(time.Duration(i) * time.Second)})
			})
		}
		wg.Wait()
		for i := range n {
			require.NoError(t, errs[i])
			require.Equal(t, got[0], got[i])
		}
		requireTimePtrEqual(t, s.opts.TimePrecision, &got[0], acctUsage(t, b.store, u.ID, acctMonth).GraceStartedAt, "GraceStartedAt")
	})

	t.Run("KeepsMonthsApart", func(t *testing.T) {
		t.Parallel()
		b := s.setup(t)
		u := acctUser(t, b.store, false)
		_, err := b.store.UsageStartGrace(b.ctx, &core.UsageStartGraceParams{TenantID: u.ID, MonthStart: acctMonth, Now: acctNow})
		require.NoError(t, err)
		require.Nil(t, acctUsage(t, b.store, u.ID, acctMonth.AddDate(0, 1, 0)).GraceStartedAt)
		next, err := b.store.UsageStartGrace(b.ctx, &core.UsageStartGraceParams{TenantID: u.ID, MonthStart: acctMonth.AddDate(0, 1, 0), Now: acctNow.Add(time.Hour)})
		require.NoError(t, err)
		requireTimeEqual(t, s.opts.TimePrecision, acctNow.Add(time.Hour), next, "next month's grace")
	})

	t.Run("ReturnsNotFoundForUnknownTenant", func(t *testing.T) {
		t.Parallel()
		b := s.setup(t)
		for _, tenant := range []core.TenantID{core.NewTenantID(), "not-a-uuid"} {
			_, err := b.store.UsageStartGrace(b.ctx, &core.UsageStartGraceParams{TenantID: tenant, MonthStart: acctMonth, Now: acctNow})
			require.ErrorIs(t, err, core.ErrNotFound)
		}
	})

	t.Run("SetsGraceOnce", func(t *testing.T) {
		t.Parallel()
		b := s.setup(t)
		u := acctUser(t, b.store, false)
		acctCount(t, b.store, u.ID, acctMonth, 300)
		first, err := b.store.UsageStartGrace(b.ctx, &core.UsageStartGraceParams{TenantID: u.ID, MonthStart: acctMonth, Now: oddTime(0)})
		require.NoError(t, err)
		requireTimeEqual(t, s.opts.TimePrecision, oddTime(0), first, "first start")
		second, err := b.store.UsageStartGrace(b.ctx, &core.UsageStartGraceParams{TenantID: u.ID, MonthStart: acctMonth, Now: oddTime(time.Hour)})
		require.NoError(t, err)
		require.Equal(t, first, second, "the second start returns the first time")

		got := acctUsage(t, b.store, u.ID, acctMonth)
		require.Equal(t, 300, got.Executions)
		requireTimePtrEqual(t, s.opts.TimePrecision, new(oddTime(0)), got.GraceStartedAt, "GraceStartedAt")
	})

	t.Run("StartsGraceOfMonthWithoutRow", func(t *testing.T) {
		t.Parallel()
		b := s.setup(t)
		u := acctUser(t, b.store, false)
		at, err := b.store.UsageStartGrace(b.ctx, &core.UsageStartGraceParams{TenantID: u.ID, MonthStart: acctMonth, Now: acctNow})
		require.NoError(t, err)
		requireTimeEqual(t, s.opts.TimePrecision, acctNow, at, "grace start")
		got := acctUsage(t, b.store, u.ID, acctMonth)
		require.Zero(t, got.Executions)
		requireTimePtrEqual(t, s.opts.TimePrecision, &acctNow, got.GraceStartedAt, "GraceStartedAt")
	})
}

func (s *accountingSuite) testOutcomeCounts(t *testing.T) {
	t.Parallel()

	t.Run("CountsExecutionsCreatedInPeriod", func(t *testing.T) {
		t.Parallel()
		b := s.setup(t)
		u := acctUser(t, b.store, false)
		other := acctUser(t, b.store, false)
		c := CreateCue(t, b.store, u.ID, nil)
		oc := CreateCue(t, b.store, other.ID, nil)
		from, to := acctMonth, acctMonth.AddDate(0, 1, 0)
		i := 0
		seed := func(c *core.Cue, created time.Time, status core.ExecutionStatus, outcome *bool) {
			t.Helper()
			i++
			e := NewExecution(c, created.Add(time.Duration(i)*time.Microsecond))
			e.CreatedAt = created
			e.Status = status
			if outcome != nil {
				e.Outcome = &core.Outcome{Success: *outcome, RecordedAt: created.Add(time.Minute)}
				state := core.OutcomeReportedFailure
				if *outcome {
					state = core.OutcomeReportedSuccess
				}
				e.OutcomeState = &state
			}
			createExecution(t, b.store, e)
		}
		yes, no := new(true), new(false)
		seed(c, from, core.ExecSuccess, yes)                           // reported, succeeded (at From: included)
		seed(c, acctNow, core.ExecSuccess, yes)                        // reported, succeeded
		seed(c, acctNow, core.ExecSuccess, no)                         // reported, failed
		seed(c, acctNow, core.ExecFailed, no)                          // reported, failed once
		seed(c, acctNow, core.ExecFailed, nil)                         // failed
		seed(c, acctNow, core.ExecMissed, nil)                         // failed
		seed(c, acctNow, core.ExecOutcomeTimeout, nil)                 // neither
		seed(c, acctNow, core.ExecSuccess, nil)                        // neither
		seed(c, acctNow, core.ExecPending, nil)                        // neither
		seed(c, from.Add(-time.Microsecond), core.ExecFailed, no)      // before From
		seed(c, to, core.ExecFailed, no)                               // at To: excluded
		seed(oc, acctNow, core.ExecFailed, no)                         // another tenant's
		seed(c, to.Add(-time.Microsecond), core.ExecMissed, nil)       // failed (last instant)
		seed(c, acctNow.Add(time.Hour), core.ExecPendingOutcome, yes)  // reported, succeeded
		seed(c, acctNow.Add(2*time.Hour), core.ExecOutcomeTimeout, no) // reported, failed

		got, err := b.store.OutcomeCounts(b.ctx, &core.OutcomeCountsParams{TenantID: u.ID, From: from, To: to})
		require.NoError(t, err)
		require.Equal(t, &core.OutcomeCounts{Reported: 6, Succeeded: 3, Failed: 6}, got)
	})

	t.Run("ReturnsZeroWithoutExecutions", func(t *testing.T) {
		t.Parallel()
		b := s.setup(t)
		u := acctUser(t, b.store, false)
		for _, tenant := range []core.TenantID{u.ID, core.NewTenantID(), "not-a-uuid"} {
			got, err := b.store.OutcomeCounts(b.ctx, &core.OutcomeCountsParams{TenantID: tenant, From: acctMonth, To: acctMonth.AddDate(0, 1, 0)})
			require.NoError(t, err)
			require.Equal(t, &core.OutcomeCounts{}, got)
		}
	})
}

// ---- echo sink ----

func acctEcho(token string, body string, received time.Time) *core.EchoEntry {
	return &core.EchoEntry{
		Token:      token,
		Body:       json.RawMessage(body),
		Headers:    map[string]string{"content-type": "application/json", "x-n": "1"},
		ReceivedAt: received,
		ExpiresAt:  received.Add(core.EchoTTL),
	}
}

func acctEchoToken() string { return "echo-" + core.RandomHex(12) }

func requireEchoEqual(t *testing.T, prec time.Duration, want, got *core.EchoEntry) {
	t.Helper()
	require.NotNil(t, got)
	require.Equal(t, want.Token, got.Token)
	require.JSONEq(t, string(want.Body), string(got.Body))
	if len(want.Headers) == 0 {
		require.Empty(t, got.Headers)
	} else {
		require.Equal(t, want.Headers, got.Headers)
	}
	requireTimeEqual(t, prec, want.ReceivedAt, got.ReceivedAt, "ReceivedAt")
	requireTimeEqual(t, prec, want.ExpiresAt, got.ExpiresAt, "ExpiresAt")
}

func (s *accountingSuite) testEchoPut(t *testing.T) {
	t.Parallel()

	t.Run("OverwritesEntry", func(t *testing.T) {
		t.Parallel()
		b := s.setup(t)
		token := acctEchoToken()
		require.NoError(t, b.store.EchoPut(b.ctx, acctEcho(token, `{"n": 1}`, acctNow)))
		second := acctEcho(token, `[1, "two"]`, acctNow.Add(time.Minute))
		second.Headers = nil
		require.NoError(t, b.store.EchoPut(b.ctx, second))

		got, err := b.store.EchoGet(b.ctx, &core.EchoGetParams{Token: token, Now: acctNow.Add(time.Minute)})
		require.NoError(t, err)
		requireEchoEqual(t, s.opts.TimePrecision, second, got)
	})

	t.Run("StoresAnyJSONValue", func(t *testing.T) {
		t.Parallel()
		b := s.setup(t)
		for _, body := range []string{`"text"`, `42`, `null`, `true`, `{"a": {"b": [1, 2.5, null]}, "u": "é\u00e9"}`} {
			e := acctEcho(acctEchoToken(), body, acctNow)
			require.NoError(t, b.store.EchoPut(b.ctx, e))
			got, err := b.store.EchoGet(b.ctx, &core.EchoGetParams{Token: e.Token, Now: acctNow})
			require.NoError(t, err)
			requireEchoEqual(t, s.opts.TimePrecision, e, got)
		}
	})
}

func (s *accountingSuite) testEchoGet(t *testing.T) {
	t.Parallel()

	t.Run("ReturnsNotFoundOnceExpired", func(t *testing.T) {
		t.Parallel()
		b := s.setup(t)
		e := acctEcho(acctEchoToken(), `{}`, acctNow)
		require.NoError(t, b.store.EchoPut(b.ctx, e))

		_, err := b.store.EchoGet(b.ctx, &core.EchoGetParams{Token: e.Token, Now: e.ExpiresAt.Add(-time.Microsecond)})
		require.NoError(t, err)
		_, err = b.store.EchoGet(b.ctx, &core.EchoGetParams{Token: e.Token, Now: e.ExpiresAt})
		require.ErrorIs(t, err, core.ErrNotFound)
	})

	t.Run("ReturnsNotFoundForUnknownToken", func(t *testing.T) {
		t.Parallel()
		b := s.setup(t)
		_, err := b.store.EchoGet(b.ctx, &core.EchoGetParams{Token: acctEchoToken(), Now: acctNow})
		require.ErrorIs(t, err, core.ErrNotFound)
	})

	t.Run("RoundTripsEveryField", func(t *testing.T) {
		t.Parallel()
		b := s.setup(t)
		e := acctEcho(acctEchoToken(), `{"attempt": 1, "payload": {"k": ["v", 2]}}`, oddTime(0))
		e.Headers["x-cueapi-signature"] = "v1=abc"
		require.NoError(t, b.store.EchoPut(b.ctx, e))
		got, err := b.store.EchoGet(b.ctx, &core.EchoGetParams{Token: e.Token, Now: oddTime(time.Second)})
		require.NoError(t, err)
		requireEchoEqual(t, s.opts.TimePrecision, e, got)
	})
}

// ---- device codes ----

// acctDeviceCode returns a pending device code created at created,
// expiring 15 minutes later, not stored.
func acctDeviceCode(code string, created time.Time) *core.DeviceCode {
	return &core.DeviceCode{
		ID:        core.NewUUID(),
		Code:      code,
		Status:    "pending",
		ExpiresAt: created.Add(15 * time.Minute),
		CreatedAt: created,
	}
}

func acctCode() string { return "code-" + core.RandomHex(6) }

func acctCreateDeviceCode(t testing.TB, s core.AccountingStore, d *core.DeviceCode) {
	t.Helper()
	require.NoError(t, s.DeviceCodeCreate(t.Context(), d))
}

func acctGetDeviceCode(t testing.TB, s core.AccountingStore, code string) *core.DeviceCode {
	t.Helper()
	d, err := s.DeviceCodeGet(t.Context(), &core.DeviceCodeGetParams{Code: code})
	require.NoError(t, err)
	return d
}

func requireDeviceCodeEqual(t *testing.T, prec time.Duration, want, got *core.DeviceCode) {
	t.Helper()
	require.NotNil(t, got)
	requireTimeEqual(t, prec, want.ExpiresAt, got.ExpiresAt, "ExpiresAt")
	requireTimeEqual(t, prec, want.CreatedAt, got.CreatedAt, "CreatedAt")
	w, g := *want, *got
	w.ExpiresAt, w.CreatedAt, g.ExpiresAt, g.CreatedAt = time.Time{}, time.Time{}, time.Time{}, time.Time{}
	require.Equal(t, w, g)
}

func (s *accountingSuite) testDeviceCodeCreate(t *testing.T) {
	t.Parallel()

	t.Run("ConcurrentCreatesOfOneCodeCreateOne", func(t *testing.T) {
		t.Parallel()
		b := s.setup(t)
		code := acctCode()
		const n = 10
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() { errs[i] = b.store.DeviceCodeCreate(b.ctx, acctDeviceCode(code, acctNow)) })
		}
		wg.Wait()
		wins := 0
		for _, err := range errs {
			if err == nil {
				wins++
				continue
			}
			require.ErrorIs(t, err, core.ErrConflict)
		}
		require.Equal(t, 1, wins)
	})

	t.Run("ReplacesClaimedCode", func(t *testing.T) {
		t.Parallel()
		b := s.setup(t)
		first := acctDeviceCode(acctCode(), acctNow)
		first.Status = "claimed"
		acctCreateDeviceCode(t, b.store, first)

		second := acctDeviceCode(first.Code, acctNow.Add(time.Minute))
		acctCreateDeviceCode(t, b.store, second)
		requireDeviceCodeEqual(t, s.opts.TimePrecision, second, acctGetDeviceCode(t, b.store, first.Code))
	})

	t.Run("ReplacesExpiredCode", func(t *testing.T) {
		t.Parallel()
		b := s.setup(t)
		byTime := acctDeviceCode(acctCode(), acctNow)
		byTime.Status = "email_sent"
		acctCreateDeviceCode(t, b.store, byTime)
		early := acctDeviceCode(byTime.Code, byTime.ExpiresAt.Add(-time.Microsecond))
		require.ErrorIs(t, b.store.DeviceCodeCreate(b.ctx, early), core.ErrConflict, "live until expires_at")
		again := acctDeviceCode(byTime.Code, byTime.ExpiresAt)
		acctCreateDeviceCode(t, b.store, again)
		requireDeviceCodeEqual(t, s.opts.TimePrecision, again, acctGetDeviceCode(t, b.store, byTime.Code))

		byStatus := acctDeviceCode(acctCode(), acctNow)
		byStatus.Status = "expired"
		acctCreateDeviceCode(t, b.store, byStatus)
		replacement := acctDeviceCode(byStatus.Code, acctNow.Add(time.Second))
		acctCreateDeviceCode(t, b.store, replacement)
		requireDeviceCodeEqual(t, s.opts.TimePrecision, replacement, acctGetDeviceCode(t, b.store, byStatus.Code))
	})

	t.Run("ReturnsConflictForLiveCode", func(t *testing.T) {
		t.Parallel()
		b := s.setup(t)
		for _, status := range []string{"pending", "email_sent", "approved"} {
			first := acctDeviceCode(acctCode(), acctNow)
			first.Status = status
			acctCreateDeviceCode(t, b.store, first)
			err := b.store.DeviceCodeCreate(b.ctx, acctDeviceCode(first.Code, acctNow.Add(time.Minute)))
			require.ErrorIs(t, err, core.ErrConflict, status)
			requireDeviceCodeEqual(t, s.opts.TimePrecision, first, acctGetDeviceCode(t, b.store, first.Code))
		}
	})

	t.Run("RoundTripsEveryField", func(t *testing.T) {
		t.Parallel()
		b := s.setup(t)
		u := acctUser(t, b.store, false)
		full := acctDeviceCode(acctCode(), oddTime(0))
		full.Email = new("dev@example.com")
		full.Status = "approved"
		full.APIKeySealed = new("sealed:key")
		full.VerificationTokenHash = new(strings.Repeat("a", 64))
		full.SessionTokenHash = new(strings.Repeat("b", 64))
		full.UserID = &u.ID
		acctCreateDeviceCode(t, b.store, full)
		requireDeviceCodeEqual(t, s.opts.TimePrecision, full, acctGetDeviceCode(t, b.store, full.Code))
	})
}

func (s *accountingSuite) testDeviceCodeGet(t *testing.T) {
	t.Parallel()

	t.Run("ReturnsNotFoundForUnknownCode", func(t *testing.T) {
		t.Parallel()
		b := s.setup(t)
		acctCreateDeviceCode(t, b.store, acctDeviceCode(acctCode(), acctNow))
		_, err := b.store.DeviceCodeGet(b.ctx, &core.DeviceCodeGetParams{Code: acctCode()})
		require.ErrorIs(t, err, core.ErrNotFound)
	})

	t.Run("ReturnsExpiredCodes", func(t *testing.T) {
		t.Parallel()
		b := s.setup(t)
		d := acctDeviceCode(acctCode(), acctNow.Add(-24*time.Hour))
		acctCreateDeviceCode(t, b.store, d)
		requireDeviceCodeEqual(t, s.opts.TimePrecision, d, acctGetDeviceCode(t, b.store, d.Code))
	})
}

func (s *accountingSuite) testDeviceCodeGetBySessionToken(t *testing.T) {
	t.Parallel()

	t.Run("FindsRowByHash", func(t *testing.T) {
		t.Parallel()
		b := s.setup(t)
		d := acctDeviceCode(acctCode(), acctNow)
		d.SessionTokenHash = new(core.RandomHex(32))
		acctCreateDeviceCode(t, b.store, d)
		acctCreateDeviceCode(t, b.store, acctDeviceCode(acctCode(), acctNow))

		got, err := b.store.DeviceCodeGetBySessionToken(b.ctx, &core.DeviceCodeGetBySessionTokenParams{Hash: *d.SessionTokenHash})
		require.NoError(t, err)
		requireDeviceCodeEqual(t, s.opts.TimePrecision, d, got)
	})

	t.Run("ReturnsNotFoundForUnknownHash", func(t *testing.T) {
		t.Parallel()
		b := s.setup(t)
		acctCreateDeviceCode(t, b.store, acctDeviceCode(acctCode(), acctNow))
		for _, hash := range []string{core.RandomHex(32), ""} {
			_, err := b.store.DeviceCodeGetBySessionToken(b.ctx, &core.DeviceCodeGetBySessionTokenParams{Hash: hash})
			require.ErrorIs(t, err, core.ErrNotFound)
		}
	})
}

func (s *accountingSuite) testDeviceCodeUpdate(t *testing.T) {
	t.Parallel()

	t.Run("ConcurrentUpdatesSerialize", func(t *testing.T) {
		t.Parallel()
		b := s.setup(t)
		d := acctDeviceCode(acctCode(), acctNow)
		d.Email = new("0")
		acctCreateDeviceCode(t, b.store, d)
		const n = 10
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				_, errs[i] = b.store.DeviceCodeUpdate(b.ctx, &core.DeviceCodeUpdateParams{Code: d.Code, Fn: func(d *core.DeviceCode) error {
					k, err := strconv.Atoi(*d.Email)
					if err != nil {
						return err
					}
					d.Email = new(strconv.Itoa(k + 1))
					return nil
				}})
			})
		}
		wg.Wait()
		for _, err := range errs {
			require.NoError(t, err)
		}
		require.Equal(t, new(strconv.Itoa(n)), acctGetDeviceCode(t, b.store, d.Code).Email, "no update lost")
	})

	t.Run("FnErrorAbortsWithoutSaving", func(t *testing.T) {
		t.Parallel()
		b := s.setup(t)
		d := acctDeviceCode(acctCode(), acctNow)
		acctCreateDeviceCode(t, b.store, d)
		boom := errors.New("boom")
		_, err := b.store.DeviceCodeUpdate(b.ctx, &core.DeviceCodeUpdateParams{Code: d.Code, Fn: func(d *core.DeviceCode) error {
			d.Status = "approved"
			d.Email = new("x@example.com")
			return boom
		}})
		require.ErrorIs(t, err, boom)
		requireDeviceCodeEqual(t, s.opts.TimePrecision, d, acctGetDeviceCode(t, b.store, d.Code))
	})

	t.Run("ReturnsNotFoundForUnknownCode", func(t *testing.T) {
		t.Parallel()
		b := s.setup(t)
		called := false
		_, err := b.store.DeviceCodeUpdate(b.ctx, &core.DeviceCodeUpdateParams{Code: acctCode(), Fn: func(*core.DeviceCode) error {
			called = true
			return nil
		}})
		require.ErrorIs(t, err, core.ErrNotFound)
		require.False(t, called)
	})

	t.Run("SavesTheFieldsFnLeaves", func(t *testing.T) {
		t.Parallel()
		b := s.setup(t)
		u := acctUser(t, b.store, false)
		d := acctDeviceCode(acctCode(), oddTime(0))
		d.VerificationTokenHash = new("old-verification")
		acctCreateDeviceCode(t, b.store, d)

		var seen *core.DeviceCode
		got, err := b.store.DeviceCodeUpdate(b.ctx, &core.DeviceCodeUpdateParams{Code: d.Code, Fn: func(x *core.DeviceCode) error {
			seen = new(*x)
			x.Email = new("dev@example.com")
			x.Status = "approved"
			x.APIKeySealed = new("sealed:key")
			x.VerificationTokenHash = nil
			x.SessionTokenHash = new("session-hash")
			x.UserID = &u.ID
			// Not saved:
			x.ExpiresAt = x.ExpiresAt.Add(time.Hour)
			x.CreatedAt = x.CreatedAt.Add(time.Hour)
			return nil
		}})
		require.NoError(t, err)
		requireDeviceCodeEqual(t, s.opts.TimePrecision, d, seen)

		want := *d
		want.Email, want.Status, want.APIKeySealed = new("dev@example.com"), "approved", new("sealed:key")
		want.VerificationTokenHash, want.SessionTokenHash, want.UserID = nil, new("session-hash"), &u.ID
		requireDeviceCodeEqual(t, s.opts.TimePrecision, &want, got)
		requireDeviceCodeEqual(t, s.opts.TimePrecision, &want, acctGetDeviceCode(t, b.store, d.Code))
	})
}

func (s *accountingSuite) testDeviceCodePurge(t *testing.T) {
	t.Parallel()

	t.Run("DeletesExpiredCodesAndEchoEntries", func(t *testing.T) {
		t.Parallel()
		b := s.setup(t)
		before := acctNow
		codeAt := func(expires time.Time) *core.DeviceCode {
			d := acctDeviceCode(acctCode(), expires.Add(-15*time.Minute))
			acctCreateDeviceCode(t, b.store, d)
			return d
		}
		echoAt := func(expires time.Time) *core.EchoEntry {
			e := acctEcho(acctEchoToken(), `{}`, expires.Add(-core.EchoTTL))
			require.NoError(t, b.store.EchoPut(b.ctx, e))
			return e
		}
		goneCode := codeAt(before.Add(-time.Microsecond))
		keptCodes := []*core.DeviceCode{codeAt(before), codeAt(before.Add(time.Hour))}
		goneEchoes := []*core.EchoEntry{echoAt(before.Add(-time.Hour)), echoAt(before)}
		keptEcho := echoAt(before.Add(time.Microsecond))

		n, err := b.store.DeviceCodePurge(b.ctx, &core.DeviceCodePurgeParams{Before: before})
		require.NoError(t, err)
		require.Equal(t, 3, n)

		_, err = b.store.DeviceCodeGet(b.ctx, &core.DeviceCodeGetParams{Code: goneCode.Code})
		require.ErrorIs(t, err, core.ErrNotFound)
		for _, d := range keptCodes {
			acctGetDeviceCode(t, b.store, d.Code)
		}
		long := acctNow.Add(-24 * time.Hour) // before every expiry: only deletion hides an entry
		for _, e := range goneEchoes {
			_, err := b.store.EchoGet(b.ctx, &core.EchoGetParams{Token: e.Token, Now: long})
			require.ErrorIs(t, err, core.ErrNotFound, fmt.Sprintf("echo expiring %s", e.ExpiresAt))
		}
		_, err = b.store.EchoGet(b.ctx, &core.EchoGetParams{Token: keptEcho.Token, Now: long})
		require.NoError(t, err)

		n, err = b.store.DeviceCodePurge(b.ctx, &core.DeviceCodePurgeParams{Before: before})
		require.NoError(t, err)
		require.Zero(t, n)
	})
}
