package sqlite

import (
	"database/sql"

	"github.com/cueapi/cueapi/core"
)

// PoolStats reports the write connection and the read pool (metrics).
func (s *Store) PoolStats() []core.PoolStats {
	conv := func(name string, db *sql.DB) core.PoolStats {
		st := db.Stats()
		return core.PoolStats{Pool: name, Max: st.MaxOpenConnections, InUse: st.InUse, Idle: st.Idle, WaitCount: st.WaitCount, WaitDuration: st.WaitDuration}
	}
	return []core.PoolStats{conv("write", s.wdb), conv("read", s.rdb)}
}
