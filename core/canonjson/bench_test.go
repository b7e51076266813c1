package canonjson_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/cueapi/cueapi/core/canonjson"
)

func BenchmarkCanonical(b *testing.B) {
	small := []byte(`{"execution_id":"00000000-0000-4000-8000-000000000001","cue_id":"cue_abc123def456","name":"daily-report",` +
		`"scheduled_for":"2026-04-18T09:00:00+00:00","attempt":1,"payload":{"task":"report","note":"héllo","n":[1,2.5,null,true]}}`)
	var sb strings.Builder
	sb.WriteString(`{"items":[`)
	for i := 0; sb.Len() < 64<<10; i++ {
		if i > 0 {
			sb.WriteByte(',')
		}
		fmt.Fprintf(&sb, `{"id":%d,"name":"item-%d","price":%d.25,"tags":["a","b","ü"],"ok":true}`, i, i, i)
	}
	sb.WriteString(`]}`)
	large := []byte(sb.String())

	for _, bc := range []struct {
		name string
		in   []byte
	}{
		{name: "small", in: small},
		{name: "64KiB", in: large},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(bc.in)))
			for b.Loop() {
				if _, err := canonjson.Canonical(bc.in); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
