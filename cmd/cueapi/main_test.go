package main

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
)

// TestMain lets the test binary act as the cueapi binary: with
// CUEAPI_TEST_MAIN=1 it runs `cueapi <CUEAPI_TEST_ARGS>` instead of the
// tests (the crash test starts and kill -9s real server processes this way).
func TestMain(m *testing.M) {
	if os.Getenv("CUEAPI_TEST_MAIN") == "1" {
		if err := run(context.Background(), strings.Fields(os.Getenv("CUEAPI_TEST_ARGS")), os.Stdout, os.Stderr); err != nil {
			fmt.Fprintln(os.Stderr, "cueapi:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}
