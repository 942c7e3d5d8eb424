package gateway

import (
	"net/http"
	"strings"
)

// appRules map a User-Agent prefix (lower case) to the client app name.
var appRules = []struct{ prefix, app string }{
	{"claude-cli", "claude-cli"},
	{"claude-code", "claude-cli"},
	{"codex", "codex"},
	{"gemini-cli", "gemini-cli"},
	{"geminicli", "gemini-cli"},
	{"openai/python", "openai-python"},
	{"openai/js", "openai-node"},
	{"openai/go", "openai-go"},
	{"openai/java", "openai-java"},
	{"anthropic/python", "anthropic-python"},
	{"anthropic/js", "anthropic-node"},
	{"anthropic/go", "anthropic-go"},
	{"anthropic/java", "anthropic-java"},
	{"cursor", "cursor"},
	{"aider", "aider"},
	{"continue", "continue"},
	{"cline", "cline"},
	{"langchain", "langchain"},
	{"litellm", "litellm"},
	{"curl", "curl"},
	{"python-requests", "python-requests"},
	{"go-http-client", "go-http"},
}

// appOf names the client app: the X-Allot-App header if set, else a known
// User-Agent, else the User-Agent's first product token, else "unknown".
func appOf(h http.Header) string {
	if a := strings.TrimSpace(h.Get("X-Allot-App")); a != "" {
		return a
	}
	ua := strings.ToLower(strings.TrimSpace(h.Get("User-Agent")))
	if ua == "" {
		return "unknown"
	}
	for _, r := range appRules {
		if strings.HasPrefix(ua, r.prefix) {
			return r.app
		}
	}
	product, _, _ := strings.Cut(ua, " ")
	product, _, _ = strings.Cut(product, "/")
	if product == "" || len(product) > 40 {
		return "unknown"
	}
	return product
}
