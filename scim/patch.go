package scim

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"

	"github.com/allot-dev/allot"
)

// maxOperations bounds the operations of one PATCH.
const maxOperations = 1000

// patchRequest is a PATCH body (RFC 7644 section 3.5.2). Field names
// match case-insensitively, so Entra ID's "Operations" and others'
// "operations" both read.
type patchRequest struct {
	Schemas    []string  `json:"schemas"`
	Operations []patchOp `json:"Operations"`
}

// patchOp is one operation as sent: op in any case ("replace",
// "Replace"), path optional, value anything.
type patchOp struct {
	Op    string          `json:"op"`
	Path  string          `json:"path"`
	Value json.RawMessage `json:"value"`
}

// op is one operation, read: op in lower case, path parsed.
type op struct {
	op    string // add, replace, remove
	path  path   // attr "" when the op has no path: value is an object of attributes
	value json.RawMessage
}

// readPatch reads and parses a PATCH request's body.
func readPatch(r *http.Request) ([]op, error) {
	body, err := readBody(r)
	if err != nil {
		return nil, err
	}
	return parsePatch(body)
}

// parsePatch reads a PATCH body into operations. An op without a path
// whose value is an object becomes one op per attribute of the object
// (Okta's {"op":"replace","value":{"active":false}}); attribute names
// may be paths themselves (Entra ID's {"name.givenName": "…"}).
func parsePatch(body []byte) ([]op, error) {
	var req patchRequest
	if err := json.Unmarshal(body, &req); err != nil {
		return nil, invalid(typeInvalidSyntax, "the PATCH body is not a SCIM PatchOp: %v", err)
	}
	if len(req.Operations) == 0 {
		return nil, invalid(typeInvalidSyntax, "the PATCH has no Operations")
	}
	if len(req.Operations) > maxOperations {
		return nil, invalid(typeTooMany, "the PATCH has %d operations; at most %d", len(req.Operations), maxOperations)
	}
	var out []op
	for _, raw := range req.Operations {
		name := strings.ToLower(strings.TrimSpace(raw.Op))
		if name != "add" && name != "replace" && name != "remove" {
			return nil, invalid(typeInvalidSyntax, "op %q: use add, replace or remove", allot.CapLabel(raw.Op))
		}
		if strings.TrimSpace(raw.Path) != "" {
			p, err := parsePath(raw.Path)
			if err != nil {
				return nil, err
			}
			out = append(out, op{op: name, path: p, value: raw.Value})
			continue
		}
		if name == "remove" {
			return nil, invalid(typeNoTarget, "a remove needs a path")
		}
		var attrs map[string]json.RawMessage
		if err := json.Unmarshal(raw.Value, &attrs); err != nil || attrs == nil {
			return nil, invalid(typeInvalidValue, "an %s without a path needs an object of attributes as its value", name)
		}
		if len(out)+len(attrs) > maxOperations {
			return nil, invalid(typeTooMany, "the PATCH changes more than %d attributes", maxOperations)
		}
		for _, k := range sortedKeys(attrs) {
			p, err := parsePath(k)
			if err != nil {
				return nil, err
			}
			if isURN(k) && p.sub == "" && bytes.HasPrefix(bytes.TrimSpace(attrs[k]), []byte("{")) {
				continue // an extension's attributes (enterprise user): not kept
			}
			out = append(out, op{op: name, path: p, value: attrs[k]})
		}
	}
	return out, nil
}

// typeNoTarget is RFC 7644's scimType for a remove without a path.
const typeNoTarget = "noTarget"

// isURN reports whether an attribute name is a schema URN.
func isURN(s string) bool { return strings.HasPrefix(strings.ToLower(s), "urn:") }

// sortedKeys returns m's keys in order, so ops apply the same way each time.
func sortedKeys(m map[string]json.RawMessage) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	for i := 1; i < len(keys); i++ {
		for j := i; j > 0 && keys[j] < keys[j-1]; j-- {
			keys[j], keys[j-1] = keys[j-1], keys[j]
		}
	}
	return keys
}

// readBool reads active: a JSON bool, or the strings "true" and "false"
// in any case (Entra ID sends "False").
func readBool(v json.RawMessage) (bool, error) {
	var b bool
	if json.Unmarshal(v, &b) == nil {
		return b, nil
	}
	var s string
	if json.Unmarshal(v, &s) == nil {
		switch strings.ToLower(strings.TrimSpace(s)) {
		case "true":
			return true, nil
		case "false":
			return false, nil
		}
	}
	return false, invalid(typeInvalidValue, "active must be true or false, not %s", allot.CapLabel(string(v)))
}

// readString reads a string value (null reads as "").
func readString(attr string, v json.RawMessage) (string, error) {
	var s *string
	if err := json.Unmarshal(v, &s); err != nil {
		return "", invalid(typeInvalidValue, "%s must be a string", attr)
	}
	if s == nil {
		return "", nil
	}
	return *s, nil
}

// userName is the name sub-attribute of a User.
type userName struct {
	Formatted  string `json:"formatted,omitempty"`
	GivenName  string `json:"givenName,omitempty"`
	FamilyName string `json:"familyName,omitempty"`
}

// applyUser applies ops to a. It changes only what allot keeps of a
// person (userName, externalId, displayName, name, active); emails are
// checked and left to userName (the email), other attributes are
// accepted and not kept.
func applyUser(a *allot.Account, ops []op) error {
	for _, o := range ops {
		if err := applyUserOp(a, o); err != nil {
			return err
		}
	}
	return nil
}

func applyUserOp(a *allot.Account, o op) error {
	remove := o.op == "remove"
	str := func(dst *string) error {
		if remove {
			*dst = ""
			return nil
		}
		s, err := readString(o.path.attr, o.value)
		*dst = s
		return err
	}
	switch o.path.attr {
	case "active":
		if remove {
			return invalid(typeMutability, "active cannot be removed; replace it with false")
		}
		b, err := readBool(o.value)
		a.Active = b
		return err
	case "username":
		if remove {
			return invalid(typeMutability, "userName cannot be removed")
		}
		return str(&a.UserName)
	case "externalid":
		return str(&a.ExternalID)
	case "displayname":
		return str(&a.DisplayName)
	case "name":
		switch o.path.sub {
		case "givenname":
			return str(&a.GivenName)
		case "familyname":
			return str(&a.FamilyName)
		case "formatted", "middlename", "honorificprefix", "honorificsuffix":
			return nil
		case "":
			if remove {
				a.GivenName, a.FamilyName = "", ""
				return nil
			}
			var n userName
			if err := json.Unmarshal(o.value, &n); err != nil {
				return invalid(typeInvalidValue, "name must be an object")
			}
			if o.op == "replace" {
				a.GivenName, a.FamilyName = n.GivenName, n.FamilyName
				return nil
			}
			if n.GivenName != "" {
				a.GivenName = n.GivenName
			}
			if n.FamilyName != "" {
				a.FamilyName = n.FamilyName
			}
			return nil
		}
		return invalid(typeInvalidPath, "name has no sub-attribute %q", o.path.sub)
	case "emails":
		if remove || o.path.sub != "" || o.path.filter != nil {
			if !remove {
				_, err := readString("emails value", o.value)
				return err
			}
			return nil
		}
		_, err := readEmails(o.value)
		return err
	case "id", "schemas", "meta", "groups":
		return nil // read-only, or set through Groups
	}
	return nil // attributes allot does not keep (title, phoneNumbers, extensions…)
}

// email is one of a User's emails.
type email struct {
	Value   string `json:"value"`
	Type    string `json:"type,omitempty"`
	Primary bool   `json:"primary,omitempty"`
}

// readEmails reads emails as an array, or one object.
func readEmails(v json.RawMessage) ([]email, error) {
	var list []email
	if json.Unmarshal(v, &list) == nil {
		return list, nil
	}
	var one email
	if json.Unmarshal(v, &one) == nil {
		return []email{one}, nil
	}
	return nil, invalid(typeInvalidValue, "emails must be an array of {value, type, primary}")
}

// member is one member of a group as sent.
type member struct {
	Value string `json:"value"`
}

// readMembers reads members as an array or one object (some clients send
// a single member unwrapped).
func readMembers(v json.RawMessage) ([]string, error) {
	if len(bytes.TrimSpace(v)) == 0 || string(bytes.TrimSpace(v)) == "null" {
		return nil, nil
	}
	var list []member
	if err := json.Unmarshal(v, &list); err != nil {
		var one member
		if json.Unmarshal(v, &one) != nil {
			return nil, invalid(typeInvalidValue, "members must be an array of {\"value\": id}")
		}
		list = []member{one}
	}
	if len(list) > allot.MaxGroupChange {
		return nil, invalid(typeTooMany, "%d members in one operation; at most %d", len(list), allot.MaxGroupChange)
	}
	ids := make([]string, 0, len(list))
	for _, m := range list {
		if m.Value == "" || len(m.Value) > allot.MaxLabelBytes {
			return nil, invalid(typeInvalidValue, "a member needs a value: the id of a User")
		}
		ids = append(ids, m.Value)
	}
	return ids, nil
}

// groupPatch is what a group's PATCH changes.
type groupPatch struct {
	displayName *string
	externalID  *string
	set         bool // members replaced by add
	add, remove []string
}

// applyGroup reads ops on a group.
func applyGroup(ops []op) (groupPatch, error) {
	var g groupPatch
	for _, o := range ops {
		switch o.path.attr {
		case "displayname":
			if o.op == "remove" {
				return g, invalid(typeMutability, "displayName cannot be removed")
			}
			s, err := readString("displayName", o.value)
			if err != nil {
				return g, err
			}
			g.displayName = &s
		case "externalid":
			s := ""
			if o.op != "remove" {
				var err error
				if s, err = readString("externalId", o.value); err != nil {
					return g, err
				}
			}
			g.externalID = &s
		case "members":
			if o.path.filter != nil { // members[value eq "id"]
				if o.op != "remove" || o.path.filter.attr != "value" {
					return g, invalid(typeInvalidPath, `a members filter is for remove, as in members[value eq "id"]`)
				}
				g.remove = append(g.remove, o.path.filter.value)
				continue
			}
			ids, err := readMembers(o.value)
			if err != nil {
				return g, err
			}
			switch {
			case o.op == "add":
				g.add = append(g.add, ids...)
			case o.op == "replace":
				g.set, g.add, g.remove = true, ids, nil
			case len(ids) > 0: // Entra ID: remove with the members as value
				g.remove = append(g.remove, ids...)
			default: // remove every member
				g.set, g.add, g.remove = true, nil, nil
			}
		case "id", "schemas", "meta":
		default:
			// attributes allot does not keep
		}
		if len(g.add)+len(g.remove) > allot.MaxGroupChange {
			return g, invalid(typeTooMany, "the PATCH changes more than %d members", allot.MaxGroupChange)
		}
	}
	return g, nil
}
