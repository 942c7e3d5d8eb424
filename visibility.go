package allot

// Who may see whom. Every view that can name a person (the usage API, the
// request log, alerts, insights, the dashboard and the CLI acting for a
// key) asks CanSee, so the rule is decided here and only here:
//
//   - everyone sees themselves by name;
//   - admins see everyone by name;
//   - a lead sees a member of their own team by name only when the org
//     sets peer_visibility: named (PeerNamed) and the team has at least
//     MinPeerGroup active people: a smaller team's members would be named
//     to someone who knows them all, so the policy never applies there;
//   - anyone else is seen only inside anonymous groups (distributions,
//     "person N" ranks) of at least MinPeerGroup people, never alone and
//     never by name.
//
// Teams are seen as a whole (their totals, never their people) by their
// lead and by admins: CanSeeTeam.

// Subject is a person a view may show, as the directory knows them now.
type Subject struct {
	User     string // their name; "" for any member of Team
	Team     string // their team; "" when the directory does not know them
	TeamSize int    // how many active people Team has
}

// CanSee reports whether viewer may see subject by name: subject's own
// views (usage, peers standing, requests, insights, notices) and their
// name next to figures in a group's views. A Subject without a User asks
// whether viewer may see the members of Team by name. Everyone else is
// shown to viewer only in anonymous groups of at least MinPeerGroup.
func CanSee(viewer Principal, subject Subject, visibility string) bool {
	switch {
	case viewer.User != "" && subject.User == viewer.User:
		return true
	case viewer.Role == RoleAdmin:
		return true
	case viewer.Role == RoleLead:
		return visibility == PeerNamed && viewer.Team != "" && subject.Team == viewer.Team && subject.TeamSize >= MinPeerGroup
	}
	return false
}

// CanSeeTeam reports whether viewer may see team as a whole (its totals,
// never its people): admins every team, leads their own.
func CanSeeTeam(viewer Principal, team string) bool {
	return viewer.Role == RoleAdmin || viewer.Role == RoleLead && team != "" && team == viewer.Team
}

// Roster is the directory's active users as CanSee needs them: each
// person's team and each team's size.
type Roster struct {
	team map[string]string
	size map[string]int
}

// NewRoster indexes users (the directory's active users).
func NewRoster(users []User) Roster {
	r := Roster{team: make(map[string]string, len(users)), size: map[string]int{}}
	for _, u := range users {
		r.team[u.Name] = u.Team
		r.size[u.Team]++
	}
	return r
}

// Subject returns user as the directory knows them; a person it does not
// know has no team.
func (r Roster) Subject(user string) Subject {
	t := r.team[user]
	return Subject{User: user, Team: t, TeamSize: r.size[t]}
}

// Members returns any member of team: CanSee(viewer, r.Members(team), vis)
// reports whether viewer may see team's people by name.
func (r Roster) Members(team string) Subject {
	return Subject{Team: team, TeamSize: r.size[team]}
}

// Size returns how many active people team has.
func (r Roster) Size(team string) int { return r.size[team] }
