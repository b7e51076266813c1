package main

import (
	"log/slog"

	"github.com/cueapi/cueapi/internal/dirlock"
)

// lockDataDir gives this process the embedded SQLite data directory: a
// second `cueapi serve` on the same directory fails with a message naming
// it and this process's pid. With DATABASE_URL nothing is locked (replicas
// share PostgreSQL). The returned func releases the lock.
func lockDataDir(cfg *config, log *slog.Logger) (func(), error) {
	if cfg.DatabaseURL != "" {
		return func() {}, nil
	}
	l, err := dirlock.Acquire(cfg.DataDir)
	if err != nil {
		return nil, err
	}
	return func() {
		if err := l.Release(); err != nil {
			log.Warn("data directory lock not released", "dir", cfg.DataDir, "err", err)
		}
	}, nil
}
