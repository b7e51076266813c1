package postgres

// ListenerPIDForTest is the backend pid of the listening connection (0
// while disconnected).
func (f *ChangeFeed) ListenerPIDForTest() uint32 {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.conn == nil {
		return 0
	}
	return f.conn.PgConn().PID()
}
