package config

import (
	"slices"
	"testing"
	"time"
)

// Correlation is on by default (service, 30m); labels: [] turns it off.
func TestLoad_Correlation(t *testing.T) {
	for _, tc := range []struct {
		name, yaml string
		labels     []string
		window     time.Duration
	}{
		{"default", "", []string{"service"}, 30 * time.Minute},
		{"given", "correlation: {labels: [service, env], window: 1h}\n", []string{"service", "env"}, time.Hour},
		{"off", "correlation: {labels: []}\n", []string{}, 30 * time.Minute},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Load([]byte("teams: [{name: payments}]\nroutes: [{team: payments}]\n"+tc.yaml), noEnv)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(c.Correlation.Labels, tc.labels) || c.Correlation.Window.D() != tc.window {
				t.Fatalf("correlation %v %s, want %v %s", c.Correlation.Labels, c.Correlation.Window, tc.labels, tc.window)
			}
		})
	}
}
