package main

import "testing"

func TestProcStatusKB(t *testing.T) {
	status := []byte("Name:\tcueapi\nVmPeak:\t 1300000 kB\nVmHWM:\t   61234 kB\nVmRSS:\t   52000 kB\nThreads:\t12\nVmRSSx:\t1 kB\n")
	for _, tc := range []struct {
		field string
		want  int64
		ok    bool
	}{
		{"VmRSS", 52000, true},
		{"VmHWM", 61234, true},
		{"VmPeak", 1300000, true},
		{"Threads", 0, false}, // no kB unit
		{"VmSwap", 0, false},  // absent
		{"VmRS", 0, false},    // a prefix of a field is not the field
	} {
		got, ok := procStatusKB(status, tc.field)
		if got != tc.want || ok != tc.ok {
			t.Errorf("procStatusKB(%s) = %d, %v; want %d, %v", tc.field, got, ok, tc.want, tc.ok)
		}
	}
	if _, ok := procStatusKB([]byte("VmRSS:\tlots kB\n"), "VmRSS"); ok {
		t.Error("a non-numeric value parsed")
	}
}
