package allot_test

import (
	"testing"

	"github.com/allot-dev/allot"
)

// visibilityOrg: team big has exactly MinPeerGroup people, team small
// three; the admin is alone in ops.
var visibilityOrg = []allot.User{
	{Name: "lena", Team: "big", Role: allot.RoleLead}, {Name: "bob", Team: "big"}, {Name: "cara", Team: "big"},
	{Name: "dave", Team: "big"}, {Name: "erin", Team: "big"},
	{Name: "sam", Team: "small", Role: allot.RoleLead}, {Name: "tia", Team: "small"}, {Name: "uma", Team: "small"},
	{Name: "ada", Team: "ops", Role: allot.RoleAdmin},
}

func visibilityViewer(name string) allot.Principal {
	for _, u := range visibilityOrg {
		if u.Name == name {
			return allot.Principal{User: u.Name, Team: u.Team, Role: u.Role}
		}
	}
	panic("no user " + name)
}

// TestCanSee is the rule of who may see whom by name.
func TestCanSee(t *testing.T) {
	t.Parallel()
	if len(visibilityOrg)-4 != allot.MinPeerGroup {
		t.Fatalf("team big must have exactly MinPeerGroup (%d) people", allot.MinPeerGroup)
	}
	roster := allot.NewRoster(visibilityOrg)
	const anon, named = allot.PeerAnonymous, allot.PeerNamed
	cases := []struct {
		name             string
		viewer, subject  string
		anonymous, named bool // may see by name under each policy
	}{
		{"a member sees themselves", "bob", "bob", true, true},
		{"a member never sees a teammate", "bob", "cara", false, false},
		{"a member never sees their lead", "bob", "lena", false, false},
		{"a member never sees another team", "bob", "tia", false, false},
		{"a lead sees themselves", "lena", "lena", true, true},
		{"a lead sees a member of a big enough team only under named", "lena", "bob", false, true},
		{"a lead never sees another team's member", "lena", "tia", false, false},
		{"a lead never sees another lead", "lena", "sam", false, false},
		{"a lead never sees an admin of another team", "lena", "ada", false, false},
		{"a lead of a small team never sees its members", "sam", "tia", false, false},
		{"a lead of a small team sees themselves", "sam", "sam", true, true},
		{"a lead never sees someone the directory does not know", "lena", "ghost", false, false},
		{"an admin sees a member", "ada", "bob", true, true},
		{"an admin sees a member of a small team", "ada", "uma", true, true},
		{"an admin sees a lead", "ada", "sam", true, true},
		{"an admin sees someone the directory does not know", "ada", "ghost", true, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			v, s := visibilityViewer(c.viewer), roster.Subject(c.subject)
			if got := allot.CanSee(v, s, anon); got != c.anonymous {
				t.Errorf("anonymous: CanSee(%s, %s) = %v, want %v", c.viewer, c.subject, got, c.anonymous)
			}
			if got := allot.CanSee(v, s, named); got != c.named {
				t.Errorf("named: CanSee(%s, %s) = %v, want %v", c.viewer, c.subject, got, c.named)
			}
			if got := allot.CanSee(v, s, ""); got != c.anonymous {
				t.Errorf("unset policy: CanSee(%s, %s) = %v, want the anonymous answer %v", c.viewer, c.subject, got, c.anonymous)
			}
		})
	}

	// A team's members as a whole: what a team view may name.
	members := []struct {
		viewer, team     string
		anonymous, named bool
	}{
		{"lena", "big", false, true},
		{"sam", "small", false, false},
		{"lena", "small", false, false},
		{"bob", "big", false, false},
		{"ada", "small", true, true},
	}
	for _, c := range members {
		v, s := visibilityViewer(c.viewer), roster.Members(c.team)
		if got := allot.CanSee(v, s, anon); got != c.anonymous {
			t.Errorf("anonymous: %s sees team %s's members by name: %v, want %v", c.viewer, c.team, got, c.anonymous)
		}
		if got := allot.CanSee(v, s, named); got != c.named {
			t.Errorf("named: %s sees team %s's members by name: %v, want %v", c.viewer, c.team, got, c.named)
		}
	}

	// Someone without a name is no one's self.
	if allot.CanSee(allot.Principal{Role: allot.RoleMember}, allot.Subject{}, named) {
		t.Error("an unnamed member sees an unnamed subject")
	}
}

// TestCanSeeTeam: a team as a whole is seen by its lead and by admins.
func TestCanSeeTeam(t *testing.T) {
	t.Parallel()
	cases := []struct {
		viewer, team string
		want         bool
	}{
		{"lena", "big", true},
		{"sam", "small", true},
		{"lena", "small", false},
		{"bob", "big", false},
		{"ada", "big", true},
		{"ada", "small", true},
		{"lena", "", false},
	}
	for _, c := range cases {
		if got := allot.CanSeeTeam(visibilityViewer(c.viewer), c.team); got != c.want {
			t.Errorf("CanSeeTeam(%s, %q) = %v, want %v", c.viewer, c.team, got, c.want)
		}
	}
}
