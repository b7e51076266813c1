package webhook

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cueapi/cueapi/core"
)

func TestParseRetryAfter(t *testing.T) {
	t.Parallel()

	now := time.Date(2026, 3, 20, 16, 0, 0, 0, time.UTC)
	tests := []struct {
		name  string
		value string
		want  time.Duration
	}{
		{name: "Absent", value: "", want: 0},
		{name: "Seconds", value: "120", want: 120 * time.Second},
		{name: "SecondsWithSpaces", value: " 7 ", want: 7 * time.Second},
		{name: "ZeroSeconds", value: "0", want: 0},
		{name: "SecondsCappedAtADay", value: "86401", want: MaxRetryAfter},
		{name: "SecondsOverflowCapped", value: "99999999999999999999999", want: MaxRetryAfter},
		{name: "NegativeIgnored", value: "-5", want: 0},
		{name: "FractionIgnored", value: "1.5", want: 0},
		{name: "SignedIgnored", value: "+5", want: 0},
		{name: "GarbageIgnored", value: "soon", want: 0},
		{name: "IMFDate", value: "Fri, 20 Mar 2026 16:02:00 GMT", want: 2 * time.Minute},
		{name: "RFC850Date", value: "Friday, 20-Mar-26 16:00:30 GMT", want: 30 * time.Second},
		{name: "ANSICDate", value: "Fri Mar 20 17:00:00 2026", want: time.Hour},
		{name: "PastDateIgnored", value: "Fri, 20 Mar 2026 15:59:59 GMT", want: 0},
		{name: "NowDateIgnored", value: "Fri, 20 Mar 2026 16:00:00 GMT", want: 0},
		{name: "FarDateCapped", value: "Sun, 22 Mar 2026 16:00:00 GMT", want: MaxRetryAfter},
		{name: "MalformedDateIgnored", value: "Fri, 32 Mar 2026 16:00:00 GMT", want: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tt.want, parseRetryAfter(tt.value, now))
		})
	}
}

func TestClassify(t *testing.T) {
	t.Parallel()

	canceled, cancel := context.WithCancel(context.Background())
	cancel()
	expired, cancelExpired := context.WithDeadline(context.Background(), time.Unix(0, 0))
	defer cancelExpired()

	urlErr := func(err error) error {
		return &url.Error{Op: "Post", URL: "https://secret.example/hook?token=x", Err: err}
	}
	dialErr := func(err error) error { return &net.OpError{Op: "dial", Net: "tcp", Err: err} }

	tests := []struct {
		name     string
		parent   context.Context
		err      error
		wantKind core.DeliveryErrorKind
		wantMsg  string
	}{
		{name: "BlockedByGuard", err: urlErr(fmt.Errorf("%w: cannot resolve host", core.ErrDestinationBlocked)), wantKind: core.DeliveryBlocked, wantMsg: MsgBlocked},
		{name: "BlockedByControlHook", err: urlErr(dialErr(core.ErrDestinationBlocked)), wantKind: core.DeliveryBlocked, wantMsg: MsgBlocked},
		{name: "DeadlineExceeded", err: urlErr(context.DeadlineExceeded), wantKind: core.DeliveryTimeout, wantMsg: MsgTimeout},
		{name: "DialTimeout", err: urlErr(dialErr(os.ErrDeadlineExceeded)), wantKind: core.DeliveryTimeout, wantMsg: MsgTimeout},
		{name: "ParentDeadlineIsTimeout", parent: expired, err: urlErr(context.DeadlineExceeded), wantKind: core.DeliveryTimeout, wantMsg: MsgTimeout},
		{name: "ConnectionRefused", err: urlErr(dialErr(os.NewSyscallError("connect", syscall.ECONNREFUSED))), wantKind: core.DeliveryConnect, wantMsg: MsgConnect},
		{name: "NetworkUnreachable", err: urlErr(dialErr(os.NewSyscallError("connect", syscall.ENETUNREACH))), wantKind: core.DeliveryConnect, wantMsg: MsgConnect},
		{name: "NoSuchHost", err: urlErr(&net.DNSError{Err: "no such host", Name: "x.test", IsNotFound: true}), wantKind: core.DeliveryConnect, wantMsg: MsgConnect},
		{name: "UnknownAuthority", err: urlErr(x509.UnknownAuthorityError{}), wantKind: core.DeliveryConnect, wantMsg: MsgConnect},
		{name: "UntypedTLSError", err: urlErr(errors.New("tls: handshake failure")), wantKind: core.DeliveryConnect, wantMsg: MsgConnect},
		{name: "ResetWhileReading", err: urlErr(&net.OpError{Op: "read", Net: "tcp", Err: syscall.ECONNRESET}), wantKind: core.DeliveryOther, wantMsg: MsgOther},
		{name: "UnexpectedEOF", err: io.ErrUnexpectedEOF, wantKind: core.DeliveryOther, wantMsg: MsgOther},
		{name: "ParentCanceled", parent: canceled, err: urlErr(context.Canceled), wantKind: core.DeliveryOther, wantMsg: MsgOther},
		{name: "ParentCanceledDuringDial", parent: canceled, err: urlErr(dialErr(errors.New("operation was canceled"))), wantKind: core.DeliveryOther, wantMsg: MsgOther},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			parent := tt.parent
			if parent == nil {
				parent = context.Background()
			}
			de := (&Deliverer{}).classify(parent, tt.err)
			require.Equal(t, tt.wantKind, de.Kind)
			require.Equal(t, tt.wantMsg, de.Message)
			require.ErrorIs(t, de, tt.err, "the underlying error is kept for logs")
			if tt.parent == canceled {
				require.ErrorIs(t, de, context.Canceled)
			}
		})
	}
}
