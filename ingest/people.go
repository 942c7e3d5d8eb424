package ingest

import (
	"strings"

	"github.com/allot-dev/allot"
)

// People resolves allot user names and e-mail addresses to the principal
// events are attributed to, for importers that name people rather than
// present a key.
type People struct {
	byName  map[string]allot.Principal
	byEmail map[string]allot.Principal
}

// NewPeople indexes users of org (their teams and roles as stored).
// Imported events carry no key: their KeyID and KeyLabel stay empty
// unless the caller sets them.
func NewPeople(org string, users []allot.User) *People {
	p := &People{byName: make(map[string]allot.Principal, len(users)), byEmail: make(map[string]allot.Principal, len(users))}
	for _, u := range users {
		pr := allot.Principal{Org: org, Team: u.Team, User: u.Name, Role: u.Role}
		p.byName[u.Name] = pr
		if u.Email != "" {
			p.byEmail[strings.ToLower(strings.TrimSpace(u.Email))] = pr
		}
	}
	return p
}

// ByName returns the principal of the user called name.
func (p *People) ByName(name string) (allot.Principal, bool) {
	if p == nil {
		return allot.Principal{}, false
	}
	pr, ok := p.byName[name]
	return pr, ok
}

// ByEmail returns the principal of the user with e-mail address email
// (compared without case).
func (p *People) ByEmail(email string) (allot.Principal, bool) {
	if p == nil {
		return allot.Principal{}, false
	}
	pr, ok := p.byEmail[strings.ToLower(strings.TrimSpace(email))]
	return pr, ok
}

// Attribute sets each event's principal to p and turns its source key
// (the ID the parser set) into the stable id ID(p.User, key), then prices
// it with pricer. Parsers leave the source key in Event.ID so that the same
// events can be pushed to a server, which attributes them itself.
func Attribute(events []allot.Event, p allot.Principal, pricer allot.Pricer) {
	for i := range events {
		e := &events[i]
		e.Principal = p
		e.ID = ID(p.User, e.ID)
		Price(pricer, e)
	}
}
