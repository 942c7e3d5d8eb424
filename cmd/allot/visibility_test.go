package main

import (
	"context"
	"errors"
	"net/http"
	"path/filepath"
	"testing"

	"github.com/allot-dev/allot"
	"github.com/allot-dev/allot/config"
)

// storedVisibility is a settings store holding only peer_visibility.
type storedVisibility struct {
	value []byte
	err   error
}

func (s storedVisibility) Setting(_ context.Context, name string) ([]byte, error) {
	if name != peerVisibilitySetting {
		return nil, nil
	}
	return s.value, s.err
}

// TestPeerVisibility: org.yaml's peer_visibility (as apply stores it) and
// the config's insights.peer_visibility make one policy for every view;
// named in either names, anything else is anonymous.
func TestPeerVisibility(t *testing.T) {
	t.Parallel()
	cases := []struct {
		stored, configured, want string
	}{
		{"", "", allot.PeerAnonymous},
		{"anonymous", "", allot.PeerAnonymous},
		{"named", "", allot.PeerNamed},
		{"anonymous", "named", allot.PeerNamed},
		{"", "anonymous", allot.PeerAnonymous},
		{"NAMED", "", allot.PeerAnonymous},
	}
	for _, c := range cases {
		var cfg config.Config
		cfg.Insights.PeerVisibility = c.configured
		got, err := peerVisibility(context.Background(), cfg, storedVisibility{value: []byte(c.stored)})
		if err != nil || got != c.want {
			t.Errorf("stored %q, configured %q: %q, %v; want %q", c.stored, c.configured, got, err, c.want)
		}
	}
	if _, err := peerVisibility(context.Background(), config.Config{}, storedVisibility{err: errors.New("disk gone")}); err == nil {
		t.Error("a store that cannot be read gives a policy")
	}
}

// TestServeAppliesOneVisibility: as `allot serve` wires it, a lead of a
// team of two (testdata/org.yaml: carol leads bob) sees their member by
// name through no endpoint, even with insights.peer_visibility: named in
// the config; the admin does.
func TestServeAppliesOneVisibility(t *testing.T) {
	t.Parallel()
	cfg := testServerConfig(t, "http://127.0.0.1:1", filepath.Join(t.TempDir(), "allot.db"), "testdata/org.yaml")
	cfg.Insights.PeerVisibility = allot.PeerNamed
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	srv, err := startServer(ctx, cfg, serverOptions{})
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.wait(ctx) }()
	keys := map[string]string{}
	for _, user := range []string{"alice", "carol"} {
		if keys[user], _, err = srv.db.CreateKey(ctx, user, "test"); err != nil {
			t.Fatal(err)
		}
	}
	for _, path := range []string{"/api/v1/overview?user=bob", "/api/v1/peers?user=bob", "/api/v1/requests?user=bob", "/api/v1/insights?user=bob"} {
		for user, want := range map[string]int{"carol": http.StatusForbidden, "alice": http.StatusOK} {
			req, _ := http.NewRequest(http.MethodGet, "http://"+srv.addr+path, nil)
			req.Header.Set("Authorization", "Bearer "+keys[user])
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != want {
				t.Errorf("%s GET %s: %d, want %d", user, path, resp.StatusCode, want)
			}
		}
	}
}
