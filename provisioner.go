package allot

import (
	"context"
	"slices"
	"time"
)

// ProvisionTx is one store transaction's provisioning statements. Each
// method runs the store's SQL for one step; Provisioner decides which
// steps run and in what order, the same for every store, so the rules of
// provisioning (who is adopted, who moves to which team, which team
// goes) live in one place.
type ProvisionTx interface {
	// FindUser finds the user whose email (case-insensitively) or name
	// is email, active ones first; found is false when there is none,
	// provisioned true when they have an account.
	FindUser(ctx context.Context, email string) (name string, provisioned, found bool, err error)
	// AddUser creates the active member name with email in team (which
	// exists), from SourceSCIM.
	AddUser(ctx context.Context, name, email, team string) error
	// AdoptUser gives the user name email, activates them and makes
	// SourceSCIM their source.
	AdoptUser(ctx context.Context, name, email string) error
	// SetActive is SetUserActive inside the transaction.
	SetActive(ctx context.Context, name string, active bool) error
	// InsertAccount stores account a of the user a.User.
	InsertAccount(ctx context.Context, a Account, now time.Time) error
	// AccountUser returns the user account id provisions and whether
	// they are active; NoAccount when there is no such account.
	AccountUser(ctx context.Context, id string) (name string, active bool, err error)
	// EmailTaken says whether a user other than name has email
	// (case-insensitively).
	EmailTaken(ctx context.Context, email, name string) (bool, error)
	// SetEmail sets the email of the user name.
	SetEmail(ctx context.Context, name, email string) error
	// UpdateAccount replaces account a.ID's external id and names.
	UpdateAccount(ctx context.Context, a Account, now time.Time) error
	// DeleteAccount forgets account id.
	DeleteAccount(ctx context.Context, id string) error

	// GroupTeam returns group id's team; NoGroup when there is none.
	GroupTeam(ctx context.Context, id string) (string, error)
	// GroupNamed says whether a group other than id is named name.
	GroupNamed(ctx context.Context, name, id string) (bool, error)
	// EnsureTeam creates team unless it exists.
	EnsureTeam(ctx context.Context, team string) error
	// InsertGroup stores group g (without its members).
	InsertGroup(ctx context.Context, g Group, now time.Time) error
	// RenameGroup sets group id's displayName and team.
	RenameGroup(ctx context.Context, id, name, team string) error
	// SetGroupExternalID sets group id's external id.
	SetGroupExternalID(ctx context.Context, id, externalID string) error
	// TouchGroup sets group id's modified time.
	TouchGroup(ctx context.Context, id string, now time.Time) error
	// Members lists the account ids in group id.
	Members(ctx context.Context, id string) ([]string, error)
	// ClearMembers takes every member out of group id.
	ClearMembers(ctx context.Context, id string) error
	// RemoveMembers takes accounts out of group id.
	RemoveMembers(ctx context.Context, id string, accounts []string) error
	// AddMember adds account to group id as its newest member; an
	// unknown account is skipped, a member keeps their place.
	AddMember(ctx context.Context, id, account string) error
	// PlaceAccounts sets the team of each account's person: the team of
	// the group they joined last, or unassigned (which exists) in none.
	PlaceAccounts(ctx context.Context, accounts []string, unassigned string) error
	// DeleteGroup forgets group id (its members are out already).
	DeleteGroup(ctx context.Context, id string) error
	// DropTeamIfUnused removes team when no active person is in it and
	// no group maps to it.
	DropTeamIfUnused(ctx context.Context, team string) error
}

// ProvisionStore is what a store gives Provisioner: provisioning
// transactions and the reads that answer a change.
type ProvisionStore interface {
	// InProvisionTx runs fn in one write transaction; what names the
	// change in errors that are not *Error.
	InProvisionTx(ctx context.Context, what string, fn func(ProvisionTx) error) error
	Account(ctx context.Context, id string) (Account, error)
	Group(ctx context.Context, id string) (Group, error)
}

// Provisioner implements the changes of Provisioning over a store:
// checks, ids and the steps of each change. A store embeds it and adds
// the reads (Account, Accounts, Group, Groups).
type Provisioner struct {
	Store ProvisionStore
}

// provisionNow is the time a change records, at the microsecond both
// stores keep.
func provisionNow() time.Time { return time.Now().UTC().Truncate(time.Microsecond) }

// CreateAccount provisions a (Provisioning.CreateAccount).
func (p Provisioner) CreateAccount(ctx context.Context, a Account) (Account, error) {
	if err := a.Check(); err != nil {
		return Account{}, err
	}
	a.ID = NewProvisionID()
	err := p.Store.InProvisionTx(ctx, "create account", func(tx ProvisionTx) error {
		name, provisioned, found, err := tx.FindUser(ctx, a.UserName)
		switch {
		case err != nil:
			return err
		case !found:
			name = a.UserName
			if err := tx.EnsureTeam(ctx, a.Team); err != nil {
				return err
			}
			err = tx.AddUser(ctx, name, a.UserName, a.Team)
		case provisioned:
			return Errorf(EConflict, "%q is provisioned already", a.UserName)
		default: // adopted: SCIM decides from now on
			err = tx.AdoptUser(ctx, name, a.UserName)
		}
		if err != nil {
			return err
		}
		if !a.Active {
			if err := tx.SetActive(ctx, name, false); err != nil {
				return err
			}
		}
		a.User = name
		return tx.InsertAccount(ctx, a, provisionNow())
	})
	if err != nil {
		return Account{}, err
	}
	return p.Store.Account(ctx, a.ID)
}

// UpdateAccount replaces an account's email, external id, names and
// active state (Provisioning.UpdateAccount).
func (p Provisioner) UpdateAccount(ctx context.Context, a Account) (Account, error) {
	if err := a.Check(); err != nil {
		return Account{}, err
	}
	err := p.Store.InProvisionTx(ctx, "update account", func(tx ProvisionTx) error {
		name, active, err := tx.AccountUser(ctx, a.ID)
		if err != nil {
			return err
		}
		taken, err := tx.EmailTaken(ctx, a.UserName, name)
		if err != nil {
			return err
		}
		if taken {
			return Errorf(EConflict, "%q is the email of another person", a.UserName)
		}
		if err := tx.SetEmail(ctx, name, a.UserName); err != nil {
			return err
		}
		if active != a.Active {
			if err := tx.SetActive(ctx, name, a.Active); err != nil {
				return err
			}
		}
		return tx.UpdateAccount(ctx, a, provisionNow())
	})
	if err != nil {
		return Account{}, err
	}
	return p.Store.Account(ctx, a.ID)
}

// DeleteAccount deactivates the person and forgets the account
// (Provisioning.DeleteAccount).
func (p Provisioner) DeleteAccount(ctx context.Context, id string) error {
	return p.Store.InProvisionTx(ctx, "delete account", func(tx ProvisionTx) error {
		name, _, err := tx.AccountUser(ctx, id)
		if err != nil {
			return err
		}
		if err := tx.SetActive(ctx, name, false); err != nil {
			return err
		}
		return tx.DeleteAccount(ctx, id)
	})
}

// CreateGroup stores g and moves its members to its team
// (Provisioning.CreateGroup).
func (p Provisioner) CreateGroup(ctx context.Context, g Group) (Group, error) {
	if err := g.Check(); err != nil {
		return Group{}, err
	}
	g.ID = NewProvisionID()
	err := p.Store.InProvisionTx(ctx, "create group", func(tx ProvisionTx) error {
		if err := checkGroupName(ctx, tx, g.DisplayName, g.ID); err != nil {
			return err
		}
		if err := tx.EnsureTeam(ctx, g.Team); err != nil {
			return err
		}
		if err := tx.InsertGroup(ctx, g, provisionNow()); err != nil {
			return err
		}
		return changeMembers(ctx, tx, g.ID, GroupChange{Add: g.Members, Unassigned: g.Team})
	})
	if err != nil {
		return Group{}, err
	}
	return p.Store.Group(ctx, g.ID)
}

// UpdateGroup changes group id as c says (Provisioning.UpdateGroup).
func (p Provisioner) UpdateGroup(ctx context.Context, id string, c GroupChange) (Group, error) {
	if err := c.Check(); err != nil {
		return Group{}, err
	}
	err := p.Store.InProvisionTx(ctx, "update group", func(tx ProvisionTx) error {
		team, err := tx.GroupTeam(ctx, id)
		if err != nil {
			return err
		}
		renamed := c.DisplayName != ""
		if renamed {
			if err := checkGroupName(ctx, tx, c.DisplayName, id); err != nil {
				return err
			}
			if err := tx.EnsureTeam(ctx, c.Team); err != nil {
				return err
			}
			if err := tx.RenameGroup(ctx, id, c.DisplayName, c.Team); err != nil {
				return err
			}
			if c.Team != team { // every member may move
				old, err := tx.Members(ctx, id)
				if err != nil {
					return err
				}
				c.Add = append(c.Add, old...)
			}
		}
		if c.ExternalID != nil {
			if err := tx.SetGroupExternalID(ctx, id, *c.ExternalID); err != nil {
				return err
			}
		}
		if err := tx.TouchGroup(ctx, id, provisionNow()); err != nil {
			return err
		}
		if err := changeMembers(ctx, tx, id, c); err != nil {
			return err
		}
		if renamed && c.Team != team {
			return tx.DropTeamIfUnused(ctx, team)
		}
		return nil
	})
	if err != nil {
		return Group{}, err
	}
	return p.Store.Group(ctx, id)
}

// DeleteGroup forgets group id; its members move to their other groups'
// team, or unassigned, and its team goes when nobody uses it
// (Provisioning.DeleteGroup).
func (p Provisioner) DeleteGroup(ctx context.Context, id, unassigned string) error {
	if err := (GroupChange{Unassigned: unassigned}).Check(); err != nil {
		return err
	}
	return p.Store.InProvisionTx(ctx, "delete group", func(tx ProvisionTx) error {
		team, err := tx.GroupTeam(ctx, id)
		if err != nil {
			return err
		}
		if err := changeMembers(ctx, tx, id, GroupChange{SetMembers: true, Unassigned: unassigned}); err != nil {
			return err
		}
		if err := tx.DeleteGroup(ctx, id); err != nil {
			return err
		}
		return tx.DropTeamIfUnused(ctx, team)
	})
}

// checkGroupName is GroupNameTaken when a group other than id is named
// name.
func checkGroupName(ctx context.Context, tx ProvisionTx, name, id string) error {
	taken, err := tx.GroupNamed(ctx, name, id)
	if err == nil && taken {
		err = GroupNameTaken(name)
	}
	return err
}

// changeMembers applies c's member changes to group id and moves every
// person whose groups changed to their team (GroupChange). Ones joining
// together join in the order given.
func changeMembers(ctx context.Context, tx ProvisionTx, id string, c GroupChange) error {
	var moved []string
	if c.SetMembers {
		old, err := tx.Members(ctx, id)
		if err != nil {
			return err
		}
		moved = append(moved, old...)
		if err := tx.ClearMembers(ctx, id); err != nil {
			return err
		}
		c.Add = c.Members
	}
	if len(c.Remove) > 0 {
		if err := tx.RemoveMembers(ctx, id, c.Remove); err != nil {
			return err
		}
		moved = append(moved, c.Remove...)
	}
	for _, a := range c.Add {
		if err := tx.AddMember(ctx, id, a); err != nil {
			return err
		}
		moved = append(moved, a)
	}
	if len(moved) == 0 {
		return nil
	}
	slices.Sort(moved)
	if err := tx.EnsureTeam(ctx, c.Unassigned); err != nil {
		return err
	}
	return tx.PlaceAccounts(ctx, slices.Compact(moved), c.Unassigned)
}
