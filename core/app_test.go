package core_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cueapi/cueapi/core"
)

// TestNewApplicationRefusesMissingPorts: a port left out is an error at
// construction, not a nil dereference on the first request.
func TestNewApplicationRefusesMissingPorts(t *testing.T) {
	t.Parallel()
	app, err := core.NewApplication(core.ApplicationConfig{}, core.Ports{Log: nopLog{}})
	require.Nil(t, app)
	require.EqualError(t, err, "core.NewApplication: missing ports: AuthCache, Box, Clock, Deliverer, Guard, Limiter, Store")
}
