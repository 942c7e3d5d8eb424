package main

import (
	"context"
	"fmt"

	"github.com/allot-dev/allot"
	"github.com/allot-dev/allot/config"
)

// settingReader reads a stored setting.
type settingReader interface {
	Setting(ctx context.Context, name string) ([]byte, error)
}

// peerVisibility is the org's one peer visibility policy, which every view
// (API, dashboard, insight commands) applies through allot.CanSee:
// allot.PeerNamed when org.yaml (the stored setting) or the config's
// insights section says named, else allot.PeerAnonymous.
func peerVisibility(ctx context.Context, cfg config.Config, settings settingReader) (string, error) {
	stored, err := settings.Setting(ctx, peerVisibilitySetting)
	if err != nil {
		return "", fmt.Errorf("read peer visibility: %w", err)
	}
	if string(stored) == allot.PeerNamed || cfg.Insights.PeerVisibility == allot.PeerNamed {
		return allot.PeerNamed, nil
	}
	return allot.PeerAnonymous, nil
}
