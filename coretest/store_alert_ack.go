package coretest

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cueapi/cueapi/core"
)

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
