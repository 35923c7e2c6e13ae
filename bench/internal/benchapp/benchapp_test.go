package benchapp

import (
	"slices"
	"testing"
	"time"
)

func TestPercentile(t *testing.T) {
	hundred := make([]time.Duration, 100) // 100…1 ms, unsorted
	for i := range hundred {
		hundred[i] = time.Duration(100-i) * time.Millisecond
	}
	tests := []struct {
		name string
		d    []time.Duration
		p    float64
		want time.Duration
	}{
		{"one value", []time.Duration{7}, 0.99, 7},
		{"the minimum", []time.Duration{3, 1, 2}, 0, 1},
		{"the maximum", []time.Duration{3, 1, 2}, 1, 3},
		{"the median of an odd count", []time.Duration{5, 1, 4, 2, 3}, 0.5, 3},
		{"the median of an even count rounds down", []time.Duration{4, 1, 3, 2}, 0.5, 2},
		{"p50 of 100", hundred, 0.5, 50 * time.Millisecond},
		{"p99 of 100", hundred, 0.99, 99 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := slices.Clone(tt.d)
			if got := Percentile(tt.d, tt.p); got != tt.want {
				t.Errorf("Percentile(%v, %v): got %v, want %v", tt.d, tt.p, got, tt.want)
			}
			if !slices.Equal(tt.d, before) {
				t.Errorf("Percentile sorted its argument: got %v, want %v", tt.d, before)
			}
		})
	}
}
