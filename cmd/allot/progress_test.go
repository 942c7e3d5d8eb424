package main

import (
	"bytes"
	"io"
	"strings"
	"testing"
	"time"
)

// TestProgress: on a terminal the line is redrawn with rows, rate and the
// percentage (of the rows expected, else of the input read); off a
// terminal only the one summary line is written.
func TestProgress(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 12, 8, 3, 0, 0, 0, time.UTC)
	tests := []struct {
		name    string
		tty     bool
		total   int64
		size    int64
		want    []string
		notWant []string
	}{
		{"terminal, total known", true, 24_690, 0, []string{"\rcsv usage.csv: 12,345 rows, 1,234 rows/s, 50%", "csv usage.csv: 24,690 rows in 20s (1,234 rows/s)\n"}, nil},
		{"terminal, size known", true, 0, 1000, []string{"rows/s, 25%"}, nil},
		{"terminal, nothing known", true, 0, 0, []string{"12,345 rows, 1,234 rows/s\r"}, []string{"%"}},
		{"not a terminal", false, 24_690, 0, []string{"csv usage.csv: 24,690 rows in 20s (1,234 rows/s)\n"}, []string{"\r", "50%"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var out bytes.Buffer
			now := t0
			p := &progress{w: &out, tty: tc.tty, what: "csv usage.csv", start: t0, now: func() time.Time { return now }}
			p.setTotal(tc.total)
			if tc.size > 0 {
				_, _ = io.ReadAll(p.reader(strings.NewReader(strings.Repeat("x", int(tc.size/4))), tc.size))
			}
			now = now.Add(10 * time.Second)
			p.addRows(12_345)
			now = now.Add(10 * time.Second)
			p.addRows(12_345)
			p.finish()
			got := out.String()
			for _, w := range tc.want {
				if !strings.Contains(got, w) {
					t.Errorf("progress lacks %q:\n%q", w, got)
				}
			}
			for _, w := range tc.notWant {
				if strings.Contains(got, w) {
					t.Errorf("progress has %q:\n%q", w, got)
				}
			}
		})
	}
}
