package postgres_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cueapi/cueapi/adapters/postgres/pgtest"
)

// Migration 0013: an outcome (which sets outcome_recorded_at) must not
// touch an indexed column or index predicate of an execution without a
// deadline, and pages keep room, so the write can stay a heap-only tuple.
func TestExecutionsAllowInPlaceOutcomeUpdates(t *testing.T) {
	t.Parallel()
	s := pgtest.NewStore(t)
	ctx := t.Context()
	def, err := s.QueryStringForTest(ctx, `SELECT pg_get_indexdef('executions_outcome_deadline_idx'::regclass)`)
	require.NoError(t, err)
	require.Contains(t, def, "WHERE (outcome_deadline_at IS NOT NULL)")
	// Only this schema's executions indexes are read: pg_indexes may
	// compute the definition of another test's index while its schema is
	// dropped ("could not open relation with OID").
	indexed, err := s.QueryStringForTest(ctx, `SELECT coalesce(string_agg(c.relname, ','), '') FROM pg_index AS i
JOIN pg_class AS c ON c.oid = i.indexrelid
WHERE i.indrelid = 'executions'::regclass AND pg_get_indexdef(i.indexrelid) LIKE '%outcome_recorded_at%'`)
	require.NoError(t, err)
	require.Empty(t, indexed, "no index of executions reads outcome_recorded_at")
	opts, err := s.QueryStringForTest(ctx, `SELECT array_to_string(reloptions, ',') FROM pg_class WHERE oid = 'executions'::regclass`)
	require.NoError(t, err)
	require.Contains(t, opts, "fillfactor=85")
}
