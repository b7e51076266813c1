//go:build !unix

package workerd

import (
	"context"
	"errors"
	"log/slog"
)

// Run reports that the worker daemon needs process groups (unix).
func Run(context.Context, Config, *slog.Logger, <-chan struct{}) error {
	return errors.New("cueapi worker is not supported on this platform")
}
