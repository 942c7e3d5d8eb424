package scim

import (
	"net/http"
	"strings"
)

// What allot's SCIM server supports, for identity providers that ask
// (RFC 7643 sections 5 to 7).

func (s *Server) serviceProviderConfig(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{
		"schemas":          []string{schemaSPConfig},
		"documentationUri": "https://github.com/allot-dev/allot/blob/main/docs/sso.md",
		"patch":            map[string]bool{"supported": true},
		"bulk":             map[string]any{"supported": false, "maxOperations": 0, "maxPayloadSize": 0},
		"filter":           map[string]any{"supported": true, "maxResults": maxCount},
		"changePassword":   map[string]bool{"supported": false},
		"sort":             map[string]bool{"supported": false},
		"etag":             map[string]bool{"supported": false},
		"authenticationSchemes": []map[string]any{{
			"type": "oauthbearertoken", "name": "Bearer token", "primary": true,
			"description": "The token in the environment variable scim.token_env names, as Authorization: Bearer",
		}},
		"meta": meta{ResourceType: "ServiceProviderConfig", Location: s.base(r) + "/ServiceProviderConfig"},
	})
}

// resourceTypes are the two resource types.
func resourceTypes(base string) []map[string]any {
	return []map[string]any{
		{"schemas": []string{schemaResType}, "id": "User", "name": "User", "endpoint": "/Users", "schema": schemaUser,
			"description": "A person; userName is their email",
			"meta":        meta{ResourceType: "ResourceType", Location: base + "/ResourceTypes/User"}},
		{"schemas": []string{schemaResType}, "id": "Group", "name": "Group", "endpoint": "/Groups", "schema": schemaGroup,
			"description": "A group; its members are in the team it maps to",
			"meta":        meta{ResourceType: "ResourceType", Location: base + "/ResourceTypes/Group"}},
	}
}

func (s *Server) resourceTypes(w http.ResponseWriter, r *http.Request) {
	list := resourceTypes(s.base(r))
	if id := r.PathValue("id"); id != "" {
		for _, t := range list {
			if t["id"] == id {
				writeJSON(w, http.StatusOK, t)
				return
			}
		}
		writeError(w, s.logger, notFound("resource type", id))
		return
	}
	writeJSON(w, http.StatusOK, listOf(anys(list)))
}

// attribute describes one attribute of a schema.
func attribute(name, typ string, required bool, mutability, uniqueness string, sub ...map[string]any) map[string]any {
	a := map[string]any{"name": name, "type": typ, "multiValued": false, "required": required, "caseExact": false,
		"mutability": mutability, "returned": "default", "uniqueness": uniqueness}
	if len(sub) > 0 {
		a["subAttributes"] = sub
	}
	return a
}

// schemas are the attributes allot keeps of Users and Groups.
func schemas(base string) []map[string]any {
	emails := attribute("emails", "complex", false, "readWrite", "none",
		attribute("value", "string", false, "readWrite", "none"), attribute("type", "string", false, "readWrite", "none"),
		attribute("primary", "boolean", false, "readWrite", "none"))
	emails["multiValued"] = true
	members := attribute("members", "complex", false, "readWrite", "none",
		attribute("value", "string", false, "immutable", "none"), attribute("$ref", "reference", false, "immutable", "none"))
	members["multiValued"] = true
	return []map[string]any{
		{"schemas": []string{schemaSchema}, "id": schemaUser, "name": "User", "description": "A person",
			"attributes": []map[string]any{
				attribute("userName", "string", true, "readWrite", "server"),
				attribute("externalId", "string", false, "readWrite", "none"),
				attribute("displayName", "string", false, "readWrite", "none"),
				attribute("name", "complex", false, "readWrite", "none",
					attribute("givenName", "string", false, "readWrite", "none"), attribute("familyName", "string", false, "readWrite", "none"),
					attribute("formatted", "string", false, "readOnly", "none")),
				emails,
				attribute("active", "boolean", false, "readWrite", "none"),
			},
			"meta": meta{ResourceType: "Schema", Location: base + "/Schemas/" + schemaUser}},
		{"schemas": []string{schemaSchema}, "id": schemaGroup, "name": "Group", "description": "A group of people: a team",
			"attributes": []map[string]any{
				attribute("displayName", "string", true, "readWrite", "server"),
				attribute("externalId", "string", false, "readWrite", "none"),
				members,
			},
			"meta": meta{ResourceType: "Schema", Location: base + "/Schemas/" + schemaGroup}},
	}
}

func (s *Server) schemas(w http.ResponseWriter, r *http.Request) {
	list := schemas(s.base(r))
	if id := r.PathValue("id"); id != "" {
		for _, sc := range list {
			if strings.EqualFold(sc["id"].(string), id) {
				writeJSON(w, http.StatusOK, sc)
				return
			}
		}
		writeError(w, s.logger, notFound("schema", id))
		return
	}
	writeJSON(w, http.StatusOK, listOf(anys(list)))
}

// listOf is a whole list as one page.
func listOf(items []any) listResponse {
	return listResponse{Schemas: []string{schemaList}, TotalResults: len(items), StartIndex: 1, ItemsPerPage: len(items), Resources: items}
}

func anys[T any](items []T) []any {
	out := make([]any, len(items))
	for i, it := range items {
		out[i] = it
	}
	return out
}
