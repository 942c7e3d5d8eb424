package api

import (
	"context"
	"net/http"
	"strings"
	"time"

	"github.com/allot-dev/allot"
)

// Leaving deactivates and reactivates people (allot.Directory has it):
// deactivating revokes every key of theirs at once, so they lose the
// gateway, the API and the dashboard on every replica within seconds
// (docs/sso.md, "Leaving is immediate").
type Leaving interface {
	SetUserActive(ctx context.Context, name string, active bool) error
	UserByEmail(ctx context.Context, email string) (allot.User, error)
}

// setActive answers POST /api/v1/users/{user}/deactivate and
// /reactivate (admins): the person is named by user name or email.
func (s *Server) setActive(active bool) handler {
	return func(w http.ResponseWriter, r *http.Request, p allot.Principal) error {
		if s.Leaving == nil {
			return allot.Errorf(allot.EUnavailable, "deactivating people is not available on this server")
		}
		who := allot.CapLabel(r.PathValue("user"))
		name := who
		if !active && name == p.User {
			return allot.Errorf(allot.EInvalid, "you cannot deactivate yourself; ask another admin")
		}
		err := s.Leaving.SetUserActive(r.Context(), name, active)
		if allot.CodeOf(err) == allot.ENotFound && strings.Contains(who, "@") {
			u, uerr := s.Leaving.UserByEmail(r.Context(), who)
			if uerr != nil && (allot.CodeOf(uerr) != allot.EForbidden || u.Name == "") { // EForbidden: found, but deactivated
				return uerr
			}
			name = u.Name
			if name == p.User && !active {
				return allot.Errorf(allot.EInvalid, "you cannot deactivate yourself; ask another admin")
			}
			err = s.Leaving.SetUserActive(r.Context(), name, active)
		}
		if err != nil {
			return err
		}
		action, detail := "user.reactivate", "reactivated (no old key comes back)"
		if !active {
			action, detail = "user.deactivate", "deactivated: every key revoked"
		}
		if s.Audit != nil {
			now := time.Now
			if s.Now != nil {
				now = s.Now
			}
			e := allot.AuditEntry{Time: now().UTC(), Actor: p.User, Action: action, Target: name, Detail: detail}
			if aerr := s.Audit.Audit(context.WithoutCancel(r.Context()), e); aerr != nil && s.Logger != nil {
				s.Logger.Warn("change not audited", "action", action, "target", name, "err", aerr)
			}
		}
		writeJSON(w, map[string]any{"user": name, "active": active})
		return nil
	}
}
