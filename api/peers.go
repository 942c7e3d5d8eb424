package api

import (
	"fmt"
	"math"
	"net/http"
	"slices"
	"time"

	"github.com/allot-dev/allot"
)

// PeerBin is one bar of a spend distribution: how many people spent in
// [lo_usd, hi_usd) (the last bar includes hi_usd).
type PeerBin struct {
	LoUSD allot.Money `json:"lo_usd"`
	HiUSD allot.Money `json:"hi_usd"`
	Count int         `json:"count"`
}

// PeerGroup is the anonymized spend distribution of a group (a team or
// the org) and where one person stands in it; no one else is named.
type PeerGroup struct {
	Group      string      `json:"group"` // "team" or "org"
	Name       string      `json:"name"`  // the team's name; "" for the org
	People     int         `json:"people"`
	MedianUSD  allot.Money `json:"median_usd"`
	P75USD     allot.Money `json:"p75_usd"`
	P90USD     allot.Money `json:"p90_usd"`
	Percentile float64     `json:"percentile"` // share of the others who spent less, 0..100
	Histogram  []PeerBin   `json:"histogram"`
	YouBin     int         `json:"you_bin"` // the bar the person is in
}

// Peers is GET /api/v1/peers: a person's spend in a range and their
// standing in their team and the org. Groups smaller than allot.MinPeerGroup are
// left out (null) because they could identify someone.
type Peers struct {
	User        string            `json:"user"`
	Team        string            `json:"team"`
	From        time.Time         `json:"from"`
	To          time.Time         `json:"to"`
	Filter      map[string]string `json:"filter"`
	YouUSD      allot.Money       `json:"you_usd"`
	YouRequests int64             `json:"you_requests"`
	TeamGroup   *PeerGroup        `json:"team_group"`
	OrgGroup    *PeerGroup        `json:"org_group"`
	Note        string            `json:"note,omitempty"`
}

// peerBins is the number of bars of a distribution.
const peerBins = 10

// peers answers GET /api/v1/peers?user=&from=&to=&model=&task=&app=&provider=.
func (u *Server) peers(w http.ResponseWriter, r *http.Request, p allot.Principal) error {
	q := r.URL.Query()
	ctx := r.Context()
	from, to, err := ParseRange(q.Get("from"), q.Get("to"), u.now())
	if err != nil {
		return err
	}
	roster, err := u.roster(ctx)
	if err != nil {
		return err
	}
	s, err := u.resolve(p, roster, ScopeUser, q.Get("user"), "")
	if err != nil {
		return err
	}
	filter := s.filter(r)
	delete(filter, allot.DimUser)
	out := Peers{User: s.user, Team: s.team, From: from, To: to, Filter: map[string]string{}}
	for d, v := range filter {
		out.Filter[string(d)] = v
	}
	rows, err := u.Reports.Report(ctx, allot.ReportQuery{By: []allot.Dimension{allot.DimUser, allot.DimTeam}, From: from, To: to, Filter: filter})
	if err != nil {
		return fmt.Errorf("peers: %w", err)
	}
	spend := map[string]allot.Money{}
	teamOf := map[string]string{}
	for _, row := range rows {
		spend[row.Dims[0]] = spend[row.Dims[0]].Plus(row.Cost)
		if _, ok := teamOf[row.Dims[0]]; !ok {
			teamOf[row.Dims[0]] = row.Dims[1]
		}
		if row.Dims[0] == s.user {
			out.YouRequests = allot.SatAdd(out.YouRequests, row.Requests)
		}
	}
	if u.People != nil { // everyone active counts, spenders or not, in their current team
		users, err := u.People.Users(ctx)
		if err != nil {
			return fmt.Errorf("peers: %w", err)
		}
		for _, x := range users {
			teamOf[x.Name] = x.Team
			if _, ok := spend[x.Name]; !ok {
				spend[x.Name] = 0
			}
		}
	}
	if s.team == "" {
		s.team = teamOf[s.user]
		out.Team = s.team
	}
	if _, ok := spend[s.user]; !ok {
		spend[s.user] = 0
	}
	out.YouUSD = spend[s.user]
	var org, team []allot.Money
	for name, v := range spend {
		org = append(org, v)
		if teamOf[name] == s.team && s.team != "" {
			team = append(team, v)
		}
	}
	out.OrgGroup = peerGroup("org", "", org, out.YouUSD)
	out.TeamGroup = peerGroup("team", s.team, team, out.YouUSD)
	if out.TeamGroup == nil || out.OrgGroup == nil {
		out.Note = fmt.Sprintf("groups of fewer than %d people are not shown, so no one can be identified", allot.MinPeerGroup)
	}
	writeJSON(w, out)
	return nil
}

// peerGroup builds a group's distribution from everyone's spend (you
// included), or nil for groups smaller than allot.MinPeerGroup.
func peerGroup(group, name string, spend []allot.Money, you allot.Money) *PeerGroup {
	n := len(spend)
	if n < allot.MinPeerGroup {
		return nil
	}
	slices.Sort(spend)
	g := &PeerGroup{Group: group, Name: name, People: n,
		MedianUSD: quantile(spend, 0.5), P75USD: quantile(spend, 0.75), P90USD: quantile(spend, 0.9)}
	below := 0
	for _, v := range spend {
		if v < you {
			below++
		}
	}
	g.Percentile = math.Round(1000*float64(below)/float64(n-1)) / 10
	top := spend[n-1]
	width := (top + peerBins - 1) / peerBins
	if width <= 0 {
		width = 1
	}
	g.Histogram = make([]PeerBin, peerBins)
	for i := range g.Histogram {
		g.Histogram[i] = PeerBin{LoUSD: width * allot.Money(i), HiUSD: width * allot.Money(i+1)}
	}
	bin := func(v allot.Money) int { return min(int(v/width), peerBins-1) }
	for _, v := range spend {
		g.Histogram[bin(v)].Count++
	}
	g.YouBin = bin(you)
	return g
}

// quantile is the nearest-rank q-quantile of sorted values.
func quantile(sorted []allot.Money, q float64) allot.Money {
	k := int(math.Ceil(q*float64(len(sorted)))) - 1
	return sorted[max(0, min(k, len(sorted)-1))]
}
