package scim

import (
	"net/http"
	"strings"

	"github.com/allot-dev/allot"
)

// withMembers reports whether a group's members are asked for: not when
// excludedAttributes names them or attributes leaves them out (Entra ID
// reads groups with excludedAttributes=members).
func withMembers(r *http.Request) bool {
	q := r.URL.Query()
	has := func(list, name string) bool {
		for _, a := range strings.Split(list, ",") {
			if strings.EqualFold(strings.TrimSpace(a), name) {
				return true
			}
		}
		return false
	}
	if has(q.Get("excludedAttributes"), "members") {
		return false
	}
	return q.Get("attributes") == "" || has(q.Get("attributes"), "members")
}

// createGroup answers POST /Groups: a team for the group (its own name or
// scim.group_to_team's), its members moved to it.
func (s *Server) createGroup(w http.ResponseWriter, r *http.Request) error {
	in, members, err := readGroup(r)
	if err != nil {
		return err
	}
	g := allot.Group{DisplayName: in.DisplayName, ExternalID: in.ExternalID, Team: s.team(in.DisplayName), Members: members}
	if err := g.Check(); err != nil {
		return &Error{Err: allot.ErrorOf(err), SCIMType: typeInvalidValue}
	}
	g, err = s.opts.Store.CreateGroup(r.Context(), g)
	if err != nil {
		return err
	}
	s.audit(r.Context(), "scim.group.create", g.DisplayName, "team "+g.Team)
	res := groupOf(g, s.base(r), true)
	return writeCreated(w, res.Meta.Location, res)
}

// readGroup decodes a group in a request body and its member ids.
func readGroup(r *http.Request) (groupInput, []string, error) {
	var in groupInput
	if err := decode(r, &in); err != nil {
		return in, nil, err
	}
	members, err := readMembers(in.Members)
	return in, members, err
}

// listGroups answers GET /Groups, with filter=displayName eq "…".
func (s *Server) listGroups(w http.ResponseWriter, r *http.Request) error {
	flt, ok, err := queryFilter(r)
	if err != nil {
		return err
	}
	name := ""
	if ok {
		if flt.attr != "displayname" || flt.value == "" {
			return invalid(typeInvalidFilter, "Groups can be filtered by displayName only")
		}
		name = flt.value
	}
	base, members := s.base(r), withMembers(r)
	return list(w, r, name, func(p allot.Page) ([]allot.Group, int, error) { return s.opts.Store.Groups(r.Context(), p) },
		func(g allot.Group) any { return groupOf(g, base, members) })
}

func (s *Server) getGroup(w http.ResponseWriter, r *http.Request) error {
	g, err := s.opts.Store.Group(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, groupOf(g, s.base(r), withMembers(r)))
	return nil
}

// replaceGroup answers PUT /Groups/{id}: name, external id and members.
func (s *Server) replaceGroup(w http.ResponseWriter, r *http.Request) error {
	in, members, err := readGroup(r)
	if err != nil {
		return err
	}
	c := allot.GroupChange{DisplayName: in.DisplayName, Team: s.team(in.DisplayName), ExternalID: &in.ExternalID,
		SetMembers: true, Members: members, Unassigned: s.opts.Unassigned}
	if in.DisplayName == "" {
		return invalid(typeInvalidValue, "a group needs a displayName")
	}
	g, err := s.change(r, c)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, groupOf(g, s.base(r), true))
	return nil
}

// patchGroup answers PATCH /Groups/{id}: members added and removed (with
// a members[value eq "…"] path or the members as value), replaced, or
// the group renamed; 204 as Okta and Entra ID expect.
func (s *Server) patchGroup(w http.ResponseWriter, r *http.Request) error {
	ops, err := readPatch(r)
	if err != nil {
		return err
	}
	p, err := applyGroup(ops)
	if err != nil {
		return err
	}
	c := allot.GroupChange{ExternalID: p.externalID, SetMembers: p.set, Members: p.add, Add: p.add, Remove: p.remove, Unassigned: s.opts.Unassigned}
	if p.set {
		c.Add = nil
	} else {
		c.Members = nil
	}
	if p.displayName != nil {
		if *p.displayName == "" {
			return invalid(typeInvalidValue, "a group needs a displayName")
		}
		c.DisplayName, c.Team = *p.displayName, s.team(*p.displayName)
	}
	if _, err := s.change(r, c); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// change applies c to the group of the request and audits it.
func (s *Server) change(r *http.Request, c allot.GroupChange) (allot.Group, error) {
	if err := c.Check(); err != nil {
		return allot.Group{}, &Error{Err: allot.ErrorOf(err), SCIMType: typeInvalidValue}
	}
	g, err := s.opts.Store.UpdateGroup(r.Context(), r.PathValue("id"), c)
	if err != nil {
		return allot.Group{}, err
	}
	var what []string
	if c.DisplayName != "" {
		what = append(what, "named "+c.DisplayName+", team "+c.Team)
	}
	if c.SetMembers {
		what = append(what, "members set")
	}
	if n := len(c.Add); n > 0 {
		what = append(what, "members added")
	}
	if n := len(c.Remove); n > 0 {
		what = append(what, "members removed")
	}
	if len(what) > 0 {
		s.audit(r.Context(), "scim.group.update", g.DisplayName, strings.Join(what, "; "))
	}
	return g, nil
}

// deleteGroup answers DELETE /Groups/{id}: its members move to their
// other groups' team, or the unassigned team.
func (s *Server) deleteGroup(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	g, err := s.opts.Store.Group(r.Context(), id)
	if err != nil {
		return err
	}
	if err := s.opts.Store.DeleteGroup(r.Context(), id, s.opts.Unassigned); err != nil {
		return err
	}
	s.audit(r.Context(), "scim.group.delete", g.DisplayName, "")
	w.WriteHeader(http.StatusNoContent)
	return nil
}
