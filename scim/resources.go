package scim

import (
	"encoding/json"
	"time"

	"github.com/allot-dev/allot"
)

// meta is a resource's metadata (RFC 7643 section 3.1).
type meta struct {
	ResourceType string `json:"resourceType"`
	Created      string `json:"created,omitempty"`
	LastModified string `json:"lastModified,omitempty"`
	Location     string `json:"location,omitempty"`
}

func stamp(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

// userResource is a User as allot answers it. The email is userName;
// emails repeats it as the primary work email.
type userResource struct {
	Schemas     []string  `json:"schemas"`
	ID          string    `json:"id"`
	ExternalID  string    `json:"externalId,omitempty"`
	UserName    string    `json:"userName"`
	Name        *userName `json:"name,omitempty"`
	DisplayName string    `json:"displayName,omitempty"`
	Emails      []email   `json:"emails"`
	Active      bool      `json:"active"`
	Meta        meta      `json:"meta"`
}

func userOf(a allot.Account, base string) userResource {
	u := userResource{
		Schemas: []string{schemaUser}, ID: a.ID, ExternalID: a.ExternalID, UserName: a.UserName,
		DisplayName: a.DisplayName, Active: a.Active,
		Emails: []email{{Value: a.UserName, Type: "work", Primary: true}},
		Meta:   meta{ResourceType: "User", Created: stamp(a.Created), LastModified: stamp(a.Modified), Location: base + "/Users/" + a.ID},
	}
	if a.GivenName != "" || a.FamilyName != "" {
		u.Name = &userName{GivenName: a.GivenName, FamilyName: a.FamilyName}
		switch {
		case a.GivenName == "":
			u.Name.Formatted = a.FamilyName
		case a.FamilyName == "":
			u.Name.Formatted = a.GivenName
		default:
			u.Name.Formatted = a.GivenName + " " + a.FamilyName
		}
	}
	return u
}

// userInput is a User as POST and PUT send it; what allot does not keep
// is ignored (Entra ID's enterprise extension, Okta's password and
// locale).
type userInput struct {
	UserName    string          `json:"userName"`
	ExternalID  string          `json:"externalId"`
	DisplayName string          `json:"displayName"`
	Name        userName        `json:"name"`
	Emails      json.RawMessage `json:"emails"`
	Active      json.RawMessage `json:"active"`
}

// account reads in over a (a's id and times kept): active stays as it
// is when the input leaves it out.
func (in userInput) account(a allot.Account) (allot.Account, error) {
	if len(in.Active) > 0 && string(in.Active) != "null" {
		b, err := readBool(in.Active)
		if err != nil {
			return a, err
		}
		a.Active = b
	}
	if len(in.Emails) > 0 && string(in.Emails) != "null" {
		if _, err := readEmails(in.Emails); err != nil {
			return a, err
		}
	}
	a.UserName, a.ExternalID, a.DisplayName = in.UserName, in.ExternalID, in.DisplayName
	a.GivenName, a.FamilyName = in.Name.GivenName, in.Name.FamilyName
	return a, nil
}

// memberRef is a member of a group as allot answers it.
type memberRef struct {
	Value string `json:"value"`
	Ref   string `json:"$ref"`
}

// groupResource is a Group as allot answers it.
type groupResource struct {
	Schemas     []string     `json:"schemas"`
	ID          string       `json:"id"`
	ExternalID  string       `json:"externalId,omitempty"`
	DisplayName string       `json:"displayName"`
	Members     *[]memberRef `json:"members,omitempty"`
	Meta        meta         `json:"meta"`
}

func groupOf(g allot.Group, base string, withMembers bool) groupResource {
	r := groupResource{Schemas: []string{schemaGroup}, ID: g.ID, ExternalID: g.ExternalID, DisplayName: g.DisplayName,
		Meta: meta{ResourceType: "Group", Created: stamp(g.Created), LastModified: stamp(g.Modified), Location: base + "/Groups/" + g.ID}}
	if withMembers {
		ms := make([]memberRef, 0, len(g.Members))
		for _, id := range g.Members {
			ms = append(ms, memberRef{Value: id, Ref: base + "/Users/" + id})
		}
		r.Members = &ms
	}
	return r
}

// groupInput is a Group as POST and PUT send it.
type groupInput struct {
	DisplayName string          `json:"displayName"`
	ExternalID  string          `json:"externalId"`
	Members     json.RawMessage `json:"members"`
}

// listResponse is a page of resources (RFC 7644 section 3.4.2).
type listResponse struct {
	Schemas      []string `json:"schemas"`
	TotalResults int      `json:"totalResults"`
	StartIndex   int      `json:"startIndex"`
	ItemsPerPage int      `json:"itemsPerPage"`
	Resources    []any    `json:"Resources"`
}
