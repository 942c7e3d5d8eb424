package main

import (
	"net/http"
	"os"

	"github.com/allot-dev/allot/scim"
)

// mountSCIM serves SCIM provisioning at /scim/v2 when scim.token_env is
// set (docs/sso.md); the token must be in that variable.
func (s *server) mountSCIM(mux *http.ServeMux) error {
	if !s.cfg.SCIM.Enabled() {
		return nil
	}
	tok, err := s.cfg.SCIM.Token(os.Getenv)
	if err != nil {
		return err
	}
	scim.New(scim.Options{Store: s.db, Audit: s.db, Token: tok, GroupToTeam: s.cfg.SCIM.GroupToTeam,
		Unassigned: s.cfg.SCIM.Unassigned(), Logger: s.logger}).Routes(mux)
	s.logger.Info("SCIM provisioning is on", "path", scim.Prefix, "unassigned_team", s.cfg.SCIM.Unassigned())
	return nil
}
