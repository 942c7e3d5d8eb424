package web_test

import (
	"net/http"
	"net/url"
	"testing"

	"github.com/allot-dev/allot"
)

// TestPagesAgreeWithCanSee: every page that can be about one person opens
// exactly when allot.CanSee lets the signed-in person see them, for every
// viewer and subject of the world under both peer visibility policies.
func TestPagesAgreeWithCanSee(t *testing.T) {
	t.Parallel()
	roster := allot.NewRoster(worldOrg.Users)
	for _, vis := range []string{allot.PeerAnonymous, allot.PeerNamed} {
		t.Run(vis, func(t *testing.T) {
			t.Parallel()
			w := newWorldWith(t, vis)
			for _, viewer := range worldOrg.Users {
				b := signIn(t, w.srv.URL, w.keys[viewer.Name])
				p := allot.Principal{User: viewer.Name, Team: viewer.Team, Role: viewer.Role}
				for _, subject := range append(userNamesOf(worldOrg.Users), "ghost") {
					want := http.StatusForbidden
					if allot.CanSee(p, roster.Subject(subject), vis) {
						want = http.StatusOK
					}
					for _, page := range []string{"/", "/insights", "/requests"} {
						path := page + "?user=" + url.QueryEscape(subject)
						if resp, _ := b.do(http.MethodGet, path, nil, nil); resp.StatusCode != want {
							t.Errorf("%s opens %s: %d, want %d", viewer.Name, path, resp.StatusCode, want)
						}
					}
				}
			}
		})
	}
}

func userNamesOf(us []allot.User) []string {
	out := make([]string, len(us))
	for i, u := range us {
		out[i] = u.Name
	}
	return out
}
