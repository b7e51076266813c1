package postgres

import "github.com/cueapi/cueapi/core"

// PoolStats reports the connection pool (metrics).
func (s *Store) PoolStats() []core.PoolStats {
	st := s.pool.Stat()
	return []core.PoolStats{{
		Pool: "main", Max: int(st.MaxConns()), InUse: int(st.AcquiredConns()), Idle: int(st.IdleConns()),
		WaitCount: st.EmptyAcquireCount(), WaitDuration: st.EmptyAcquireWaitTime(),
	}}
}
