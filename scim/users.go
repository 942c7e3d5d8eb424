package scim

import (
	"encoding/json"
	"net/http"
	"strings"

	"github.com/allot-dev/allot"
)

// decode reads a bounded JSON body into v.
func decode(r *http.Request, v any) error {
	b, err := readBody(r)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return invalid(typeInvalidSyntax, "the body is not a SCIM resource in JSON: %v", err)
	}
	return nil
}

// createUser provisions a person (POST /Users): a new user in the
// unassigned team, or the existing user with that email adopted.
func (s *Server) createUser(w http.ResponseWriter, r *http.Request) error {
	var in userInput
	if err := decode(r, &in); err != nil {
		return err
	}
	a, err := in.account(allot.Account{Active: true, Team: s.opts.Unassigned})
	if err != nil {
		return err
	}
	if err := a.Check(); err != nil {
		return &Error{Err: allot.ErrorOf(err), SCIMType: typeInvalidValue}
	}
	a, err = s.opts.Store.CreateAccount(r.Context(), a)
	if err != nil {
		return err
	}
	s.audit(r.Context(), "scim.user.create", a.User, "provisioned as "+a.UserName+", "+activeWord(a.Active))
	u := userOf(a, s.base(r))
	return writeCreated(w, u.Meta.Location, u)
}

// listUsers answers GET /Users, with filter=userName eq "…" (also
// emails.value and emails[type eq "work"].value, which are userName).
func (s *Server) listUsers(w http.ResponseWriter, r *http.Request) error {
	flt, ok, err := queryFilter(r)
	if err != nil {
		return err
	}
	name := ""
	if ok {
		switch flt.attr {
		case "username", "emails", "emails.value":
			name = flt.value
		default:
			return invalid(typeInvalidFilter, "Users can be filtered by userName (the email) only, not %q", flt.attr)
		}
		if name == "" {
			return invalid(typeInvalidFilter, "filter on an empty userName")
		}
	}
	base := s.base(r)
	return list(w, r, name, func(p allot.Page) ([]allot.Account, int, error) { return s.opts.Store.Accounts(r.Context(), p) },
		func(a allot.Account) any { return userOf(a, base) })
}

func (s *Server) getUser(w http.ResponseWriter, r *http.Request) error {
	a, err := s.opts.Store.Account(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, userOf(a, s.base(r)))
	return nil
}

// replaceUser answers PUT /Users/{id}: userName, externalId, displayName
// and name are replaced; active too when the body has it.
func (s *Server) replaceUser(w http.ResponseWriter, r *http.Request) error {
	var in userInput
	if err := decode(r, &in); err != nil {
		return err
	}
	old, err := s.opts.Store.Account(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	a, err := in.account(old)
	if err != nil {
		return err
	}
	return s.update(w, r, old, a)
}

// patchUser answers PATCH /Users/{id} in every form docs/sso.md lists.
func (s *Server) patchUser(w http.ResponseWriter, r *http.Request) error {
	ops, err := readPatch(r)
	if err != nil {
		return err
	}
	old, err := s.opts.Store.Account(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	a := old
	if err := applyUser(&a, ops); err != nil {
		return err
	}
	return s.update(w, r, old, a)
}

// update stores a over old and answers the result.
func (s *Server) update(w http.ResponseWriter, r *http.Request, old, a allot.Account) error {
	if err := a.Check(); err != nil {
		return &Error{Err: allot.ErrorOf(err), SCIMType: typeInvalidValue}
	}
	a, err := s.opts.Store.UpdateAccount(r.Context(), a)
	if err != nil {
		return err
	}
	var changed []string
	if old.Active != a.Active {
		changed = append(changed, activeWord(a.Active))
	}
	if !strings.EqualFold(old.UserName, a.UserName) {
		changed = append(changed, "email "+a.UserName)
	}
	if len(changed) > 0 {
		s.audit(r.Context(), "scim.user.update", a.User, strings.Join(changed, "; "))
	}
	writeJSON(w, http.StatusOK, userOf(a, s.base(r)))
	return nil
}

// deleteUser answers DELETE /Users/{id}: the person is deactivated (keys
// revoked), leaves their groups and the account is forgotten; their
// history stays.
func (s *Server) deleteUser(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	a, err := s.opts.Store.Account(r.Context(), id)
	if err != nil {
		return err
	}
	if err := s.opts.Store.DeleteAccount(r.Context(), id); err != nil {
		return err
	}
	s.audit(r.Context(), "scim.user.delete", a.User, "deleted: deactivated, every key revoked, history kept")
	w.WriteHeader(http.StatusNoContent)
	return nil
}
