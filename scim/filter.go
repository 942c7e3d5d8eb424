package scim

import (
	"encoding/json"
	"net/http"
	"strings"
)

// maxFilterBytes bounds a filter; the ones identity providers send
// (userName eq "…") are far shorter.
const maxFilterBytes = 1024

// filter is the one filter form allot answers: an attribute equal to a
// string, which is what Okta and Entra ID send to find a person or a
// group before creating it (RFC 7644 section 3.4.2.2, "eq").
type filter struct {
	attr  string // lower case, e.g. "username", "displayname", "emails.value"
	value string
}

// queryFilter parses a listing's filter parameter; ok is false when the
// request has none.
func queryFilter(r *http.Request) (flt filter, ok bool, err error) {
	f := r.URL.Query().Get("filter")
	if f == "" {
		return filter{}, false, nil
	}
	flt, err = parseFilter(f)
	return flt, err == nil, err
}

// parseFilter reads `attr eq "value"`; attribute names and the operator
// are case-insensitive (RFC 7644), the value a JSON string. Anything else
// is invalidFilter.
func parseFilter(s string) (filter, error) {
	if len(s) > maxFilterBytes {
		return filter{}, invalid(typeInvalidFilter, "the filter is %d bytes; at most %d", len(s), maxFilterBytes)
	}
	s = strings.TrimSpace(s)
	end := strings.IndexByte(s, ' ')
	if lb := strings.IndexByte(s, '['); lb >= 0 && (end < 0 || lb < end) {
		// emails[type eq "work"].value eq "…": the attribute holds spaces.
		rb := strings.IndexByte(s, ']')
		if rb < lb {
			return filter{}, invalid(typeInvalidFilter, "filter %q has [ without ]", s)
		}
		end = strings.IndexByte(s[rb:], ' ')
		if end >= 0 {
			end += rb
		}
	}
	if end < 0 {
		return filter{}, invalid(typeInvalidFilter, `unsupported filter %q: use attribute eq "value"`, s)
	}
	attr, rest := s[:end], s[end+1:]
	op, value, ok := strings.Cut(strings.TrimLeft(rest, " "), " ")
	if !ok || !strings.EqualFold(op, "eq") {
		return filter{}, invalid(typeInvalidFilter, `unsupported filter %q: only eq is supported, as in userName eq "alice@example.com"`, s)
	}
	value = strings.TrimSpace(value)
	var v string
	if !strings.HasPrefix(value, `"`) || json.Unmarshal([]byte(value), &v) != nil {
		return filter{}, invalid(typeInvalidFilter, `unsupported filter %q: the value must be a quoted string`, s)
	}
	p, err := parsePath(attr)
	if err != nil {
		return filter{}, invalid(typeInvalidFilter, "unsupported filter %q: %s", s, errMessage(err))
	}
	name := p.attr
	if p.sub != "" {
		name += "." + p.sub
	}
	return filter{attr: name, value: v}, nil
}

// path is a PATCH path or filter attribute: attr, an optional value
// filter on a multi-valued attr (`members[value eq "id"]`,
// `emails[type eq "work"]`) and an optional sub-attribute; names in
// lower case, a schema URN prefix dropped.
type path struct {
	attr, sub string
	filter    *filter
}

// parsePath reads a PATCH path (RFC 7644 section 3.5.2).
func parsePath(s string) (path, error) {
	if len(s) > maxFilterBytes {
		return path{}, invalid(typeInvalidPath, "the path is %d bytes; at most %d", len(s), maxFilterBytes)
	}
	s = strings.TrimSpace(s)
	// urn:ietf:params:scim:schemas:core:2.0:User:name.givenName → name.givenName
	if strings.HasPrefix(strings.ToLower(s), "urn:") {
		before, after, ok := strings.Cut(s, "[")
		i := strings.LastIndex(before, ":")
		if ok {
			after = "[" + after
		}
		s = before[i+1:] + after
	}
	var p path
	head, rest, hasFilter := strings.Cut(s, "[")
	if hasFilter {
		inner, tail, ok := strings.Cut(rest, "]")
		if !ok {
			return path{}, invalid(typeInvalidPath, "path %q has [ without ]", s)
		}
		f, err := parseFilter(inner)
		if err != nil {
			return path{}, invalid(typeInvalidPath, "path %q: %s", s, errMessage(err))
		}
		p.filter = &f
		if tail != "" {
			if !strings.HasPrefix(tail, ".") {
				return path{}, invalid(typeInvalidPath, "path %q: expected .subAttribute after ]", s)
			}
			p.sub = tail[1:]
		}
		p.attr = head
	} else {
		p.attr, p.sub, _ = strings.Cut(head, ".")
	}
	p.attr, p.sub = strings.ToLower(p.attr), strings.ToLower(p.sub)
	if !validName(p.attr) || p.sub != "" && !validName(p.sub) {
		return path{}, invalid(typeInvalidPath, "path %q is not an attribute path", s)
	}
	return p, nil
}

// validName reports whether s is an attribute name (RFC 7643 ATTRNAME).
func validName(s string) bool {
	if s == "" {
		return false
	}
	for i, c := range s {
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || i > 0 && (c >= '0' && c <= '9' || c == '_' || c == '-' || c == '$')
		if !ok {
			return false
		}
	}
	return true
}

// errMessage is err's message for people.
func errMessage(err error) string {
	if se, ok := err.(*Error); ok {
		return se.Err.Message
	}
	return err.Error()
}
