package upstreamsim

import (
	"fmt"
	"net/http"
	"strings"
	"time"
)

// model is one entry of the simulated model list.
type model struct {
	id, owner, display string
	created            time.Time
}

// catalog lists the models the simulator advertises. Any other model name is
// accepted too, unless the request sends x-sim-strict-models.
var catalog = []model{
	{"gpt-4o", "openai", "GPT-4o", time.Date(2024, 5, 10, 0, 0, 0, 0, time.UTC)},
	{"gpt-4o-mini", "openai", "GPT-4o mini", time.Date(2024, 7, 16, 0, 0, 0, 0, time.UTC)},
	{"gpt-4.1", "openai", "GPT-4.1", time.Date(2025, 4, 10, 0, 0, 0, 0, time.UTC)},
	{"gpt-5", "openai", "GPT-5", time.Date(2025, 8, 5, 0, 0, 0, 0, time.UTC)},
	{"o4-mini", "openai", "o4-mini", time.Date(2025, 4, 9, 0, 0, 0, 0, time.UTC)},
	{"text-embedding-3-small", "openai", "text-embedding-3-small", time.Date(2024, 1, 22, 0, 0, 0, 0, time.UTC)},
	{"text-embedding-3-large", "openai", "text-embedding-3-large", time.Date(2024, 1, 22, 0, 0, 0, 0, time.UTC)},
	{"claude-sonnet-4-5", "anthropic", "Claude Sonnet 4.5", time.Date(2025, 9, 29, 0, 0, 0, 0, time.UTC)},
	{"claude-haiku-4-5", "anthropic", "Claude Haiku 4.5", time.Date(2025, 10, 15, 0, 0, 0, 0, time.UTC)},
	{"claude-opus-4-1", "anthropic", "Claude Opus 4.1", time.Date(2025, 8, 5, 0, 0, 0, 0, time.UTC)},
}

// knownModel reports whether name is a listed model or a dated snapshot of
// one (gpt-4o-2024-08-06, claude-sonnet-4-5-20250929).
func knownModel(name string) bool {
	_, ok := findModel(name)
	return ok
}

func findModel(name string) (model, bool) {
	for _, m := range catalog {
		if name == m.id || strings.HasPrefix(name, m.id+"-2") {
			return m, true
		}
	}
	return model{}, false
}

// openAIModel is an entry of OpenAI's model list.
type openAIModel struct {
	ID      string `json:"id"`
	Object  string `json:"object"`
	Created int64  `json:"created"`
	OwnedBy string `json:"owned_by"`
}

// anthropicModel is an entry of Anthropic's model list.
type anthropicModel struct {
	Type        string `json:"type"`
	ID          string `json:"id"`
	DisplayName string `json:"display_name"`
	CreatedAt   string `json:"created_at"`
}

func (m model) openAI() openAIModel {
	return openAIModel{ID: m.id, Object: "model", Created: m.created.Unix(), OwnedBy: m.owner}
}

func (m model) anthropic() anthropicModel {
	return anthropicModel{Type: "model", ID: m.id, DisplayName: m.display, CreatedAt: m.created.Format(time.RFC3339)}
}

// serveModels answers GET /v1/models and GET /v1/models/{id} (rest is "" or
// "/{id}") in the shape of the client's protocol.
func (s *Server) serveModels(x *exchange, rest string) {
	if id := strings.TrimPrefix(rest, "/"); id != "" {
		m, ok := findModel(id)
		if !ok {
			x.fail(http.StatusNotFound, fmt.Sprintf("The model `%s` does not exist or you do not have access to it.", id))
			return
		}
		if x.proto == protoAnthropic {
			x.writeJSON(http.StatusOK, m.anthropic())
		} else {
			x.writeJSON(http.StatusOK, m.openAI())
		}
		return
	}
	if x.proto == protoAnthropic {
		list := struct {
			Data    []anthropicModel `json:"data"`
			HasMore bool             `json:"has_more"`
			FirstID string           `json:"first_id"`
			LastID  string           `json:"last_id"`
		}{FirstID: catalog[0].id, LastID: catalog[len(catalog)-1].id}
		for _, m := range catalog {
			list.Data = append(list.Data, m.anthropic())
		}
		x.writeJSON(http.StatusOK, list)
		return
	}
	list := struct {
		Object string        `json:"object"`
		Data   []openAIModel `json:"data"`
	}{Object: "list"}
	for _, m := range catalog {
		list.Data = append(list.Data, m.openAI())
	}
	x.writeJSON(http.StatusOK, list)
}
