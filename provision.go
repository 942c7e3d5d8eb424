package allot

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"strings"
	"time"
)

// Where a person comes from (the users' source column): it decides who
// may deactivate them. org.yaml (ApplyOrg) deactivates only the people
// it brought (SourceOrg) when it stops listing them; SCIM decides
// whether the people it provisioned (SourceSCIM) are active; people who
// first signed in through single sign-on (SourceSSO) stay until an admin
// or SCIM deactivates them. docs/sso.md says which source wins for what.
const (
	SourceOrg  = "org"
	SourceSCIM = "scim"
	SourceSSO  = "sso"
)

// Bounds on provisioning, one place for both stores and the SCIM server.
const (
	// MaxPageSize is the most accounts or groups one listing returns.
	MaxPageSize = 1000
	// MaxGroupChange is the most members one group change adds, removes
	// or sets (a SCIM PATCH of a large group is sent in pages of 100 or
	// so by identity providers).
	MaxGroupChange = 10000
)

// Account is a person as an identity provider provisions them (SCIM):
// the allot user it stands for, plus what the provider keeps about them.
type Account struct {
	ID         string `json:"id"`          // assigned by allot at creation, stable
	ExternalID string `json:"external_id"` // the provider's own id for the person
	// UserName is the person's sign-in name, an email: their User.Email.
	UserName string `json:"user_name"`
	// User is the allot user (User.Name) the account provisions: the
	// UserName it was created with, or the existing user with that email
	// it adopted. It never changes, so history stays attributed.
	User        string    `json:"user"`
	DisplayName string    `json:"display_name"`
	GivenName   string    `json:"given_name"`
	FamilyName  string    `json:"family_name"`
	Team        string    `json:"team"` // the person's team: set by groups, read-only here
	Active      bool      `json:"active"`
	Created     time.Time `json:"created"`
	Modified    time.Time `json:"modified"`
}

// Check caps an account's strings and requires a UserName that looks
// like an email; problems are EInvalid.
func (a Account) Check() error {
	if err := checkEmail(a.UserName); err != nil {
		return err
	}
	for _, s := range []string{a.ExternalID, a.DisplayName, a.GivenName, a.FamilyName, a.Team} {
		if len(s) > MaxLabelBytes {
			return Errorf(EInvalid, "a name or id of %d bytes is too long; at most %d", len(s), MaxLabelBytes)
		}
	}
	return nil
}

// checkEmail requires a non-empty, capped string with an @ in it.
func checkEmail(email string) error {
	if len(email) > MaxLabelBytes {
		return Errorf(EInvalid, "an email of %d bytes is too long; at most %d", len(email), MaxLabelBytes)
	}
	local, domain, ok := strings.Cut(email, "@")
	if !ok || local == "" || domain == "" || strings.TrimSpace(email) != email {
		return Errorf(EInvalid, "%q is not an email; the user name must be the person's email", email)
	}
	return nil
}

// Group is a group of people as an identity provider provisions it: its
// members are in Team (the group's own name, or what scim.group_to_team
// maps it to).
type Group struct {
	ID          string    `json:"id"` // assigned by allot at creation, stable
	ExternalID  string    `json:"external_id"`
	DisplayName string    `json:"display_name"`
	Team        string    `json:"team"`
	Members     []string  `json:"members"` // account ids, sorted
	Created     time.Time `json:"created"`
	Modified    time.Time `json:"modified"`
}

// Check caps a group's strings and its members; problems are EInvalid.
func (g Group) Check() error {
	if strings.TrimSpace(g.DisplayName) == "" || strings.TrimSpace(g.Team) == "" {
		return Errorf(EInvalid, "a group needs a displayName")
	}
	for _, s := range []string{g.ExternalID, g.DisplayName, g.Team} {
		if len(s) > MaxLabelBytes {
			return Errorf(EInvalid, "a name or id of %d bytes is too long; at most %d", len(s), MaxLabelBytes)
		}
	}
	if len(g.Members) > MaxGroupChange {
		return Errorf(EInvalid, "%d members in one request; send at most %d at a time", len(g.Members), MaxGroupChange)
	}
	return nil
}

// GroupChange is what one update of a group changes. A person's team is
// the team of the group they joined last among the groups they are in;
// in none, Unassigned.
type GroupChange struct {
	// DisplayName and Team rename the group when DisplayName is not "".
	DisplayName, Team string
	ExternalID        *string  // replaces the external id when not nil
	SetMembers        bool     // Members replaces every member
	Members           []string // account ids, with SetMembers
	Add, Remove       []string // account ids joining and leaving
	// Unassigned is the team of people who leave their last group.
	Unassigned string
}

// Check caps a change; problems are EInvalid.
func (c GroupChange) Check() error {
	if c.DisplayName != "" {
		if err := (Group{DisplayName: c.DisplayName, Team: c.Team}).Check(); err != nil {
			return err
		}
	}
	if c.ExternalID != nil && len(*c.ExternalID) > MaxLabelBytes {
		return Errorf(EInvalid, "an externalId of %d bytes is too long; at most %d", len(*c.ExternalID), MaxLabelBytes)
	}
	if n := len(c.Members) + len(c.Add) + len(c.Remove); n > MaxGroupChange {
		return Errorf(EInvalid, "%d members in one request; send at most %d at a time", n, MaxGroupChange)
	}
	if strings.TrimSpace(c.Unassigned) == "" || len(c.Unassigned) > MaxLabelBytes {
		return Errorf(EInvalid, "the unassigned team must be a name of at most %d bytes", MaxLabelBytes)
	}
	return nil
}

// Page selects part of a listing: Offset items skipped, at most Limit
// (capped at MaxPageSize) returned, optionally only the one whose name
// (an account's UserName, compared case-insensitively, or a group's
// DisplayName) is Name.
type Page struct {
	Name          string
	Offset, Limit int
}

// Bounded returns p with Offset and Limit within bounds.
func (p Page) Bounded() Page {
	p.Offset = max(p.Offset, 0)
	if p.Limit <= 0 || p.Limit > MaxPageSize {
		p.Limit = MaxPageSize
	}
	return p
}

// Provisioning keeps the people and groups an identity provider
// provisions (SCIM). Every change is one transaction; deactivating or
// deleting an account revokes the person's keys as SetUserActive does.
type Provisioning interface {
	// CreateAccount provisions a. A new person gets an active-as-asked
	// user named a.UserName in team a.Team (source scim); an existing
	// user with that email (from org.yaml or a sign-in) is adopted: from
	// then on SCIM decides whether they are active. EConflict when the
	// email has an account already.
	CreateAccount(ctx context.Context, a Account) (Account, error)
	// Account returns one account; ENotFound when there is none.
	Account(ctx context.Context, id string) (Account, error)
	// Accounts lists accounts, oldest first, and how many match in all.
	Accounts(ctx context.Context, p Page) ([]Account, int, error)
	// UpdateAccount replaces the account a.ID's user name (the email),
	// external id, names and active state; EConflict when the new email
	// belongs to another user, ENotFound when there is no such account.
	UpdateAccount(ctx context.Context, a Account) (Account, error)
	// DeleteAccount deactivates the person (their keys revoked), takes
	// them out of every group and forgets the account; their user and
	// history stay. ENotFound when there is no such account.
	DeleteAccount(ctx context.Context, id string) error

	// CreateGroup stores g (creating its team) and moves its members to
	// its team; EConflict when its displayName is taken.
	CreateGroup(ctx context.Context, g Group) (Group, error)
	// Group returns one group; ENotFound when there is none.
	Group(ctx context.Context, id string) (Group, error)
	// Groups lists groups, oldest first, and how many match in all.
	Groups(ctx context.Context, p Page) ([]Group, int, error)
	// UpdateGroup changes group id as c says and moves the people whose
	// groups changed to their team; unknown account ids are ignored.
	UpdateGroup(ctx context.Context, id string, c GroupChange) (Group, error)
	// DeleteGroup forgets the group; its members move to the team of
	// their other groups, or unassigned. Its team goes when nobody
	// active is in it and no other group maps to it.
	DeleteGroup(ctx context.Context, id, unassigned string) error
}

// NewProvisionID returns a fresh random id for an account or a group,
// formatted as a UUID (version 4), the form identity providers expect.
func NewProvisionID() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("crypto/rand failed: " + err.Error()) // never happens on supported platforms
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// NoAccount is the ENotFound error of an account id no store has, the
// same text from every store.
func NoAccount(id string) error {
	return Errorf(ENotFound, "no account %q", CapLabel(id))
}

// NoGroup is the ENotFound error of a group id no store has.
func NoGroup(id string) error {
	return Errorf(ENotFound, "no group %q", CapLabel(id))
}

// GroupNameTaken is the EConflict error of a group displayName another
// group has.
func GroupNameTaken(name string) error {
	return Errorf(EConflict, "a group named %q exists already", name)
}

// GroupsByID reads the groups ids (one page of a listing) with group,
// in order, leaving out those deleted meanwhile: how both stores build
// a page of Groups.
func GroupsByID(ctx context.Context, ids []string, group func(context.Context, string) (Group, error)) ([]Group, error) {
	out := []Group{}
	for _, id := range ids {
		g, err := group(ctx, id)
		if CodeOf(err) == ENotFound {
			continue // deleted meanwhile
		}
		if err != nil {
			return nil, err
		}
		out = append(out, g)
	}
	return out, nil
}
