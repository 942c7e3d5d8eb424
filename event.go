package allot

import "time"

// Route names the API a call was made on; it decides the wire format.
type Route string

// The routes the gateway serves.
const (
	RouteChat        Route = "openai.chat"            // POST /v1/chat/completions
	RouteResponses   Route = "openai.responses"       // POST /v1/responses
	RouteEmbeddings  Route = "openai.embeddings"      // POST /v1/embeddings
	RouteModels      Route = "openai.models"          // GET /v1/models
	RouteMessages    Route = "anthropic.messages"     // POST /v1/messages
	RouteCountTokens Route = "anthropic.count_tokens" // POST /v1/messages/count_tokens
)

// Source says how an event reached the ledger.
type Source string

// Event sources.
const (
	SourceGateway Source = "gateway" // proxied by allot
	SourceOTLP    Source = "otlp"    // reported by a tool's telemetry
	SourceImport  Source = "import"  // imported from logs or provider reports
)

// UntaggedTask is the task of a call that named none.
const UntaggedTask = "untagged"

// StatusClientGone is the status recorded when the client left before the
// response was complete (nginx's convention).
const StatusClientGone = 499

// StatusCrashed is the status of an event recovered from a call's intent:
// allot died (kill -9, OOM, power loss) while the call was in flight, so
// the client saw its connection drop (nginx's 444: closed without a
// response). Its tokens are estimated.
const StatusCrashed = 444

// Event is one usage event: one upstream call that the provider may bill
// (design invariant 1). It holds sizes, counts and fingerprints, never
// prompt or completion text (invariant 7).
type Event struct {
	ID   string    `json:"id"`   // stable idempotency id; appending it twice stores it once
	Time time.Time `json:"time"` // when the call started; decides its price and budget period

	Principal
	Provider       string `json:"provider"`        // configured provider name, e.g. "openai"
	RequestedModel string `json:"requested_model"` // the model the client asked for
	ServedModel    string `json:"served_model"`    // the model that answered (after downgrade or provider aliasing)
	Route          Route  `json:"route"`
	Task           string `json:"task"`    // X-Allot-Task, metadata.task, or UntaggedTask
	Session        string `json:"session"` // X-Allot-Session, or the tool's session id
	App            string `json:"app"`     // client app from User-Agent: claude-cli, codex, openai-python …
	Source         Source `json:"source"`

	Status       int           `json:"status"`        // HTTP status of the call as the client saw it; StatusClientGone if it left
	Stream       bool          `json:"stream"`        // whether the response was streamed
	Latency      time.Duration `json:"latency"`       // until the last byte
	TTFT         time.Duration `json:"ttft"`          // until the first byte of the body
	RequestBytes int64         `json:"request_bytes"` // size of the request body
	MaxTokens    int64         `json:"max_tokens"`    // the output limit the client set, 0 if none
	Messages     int           `json:"messages"`      // number of input messages
	SystemFP     uint64        `json:"system_fp"`     // hash of the system prompt / instructions, 0 if none
	RequestFP    uint64        `json:"request_fp"`    // hash of the whole request body

	Tokens    Tokens `json:"tokens"`
	Cost      Money  `json:"cost_usd"`
	CostKnown bool   `json:"cost_known"` // false when the model has no price: tokens kept, cost 0
	Estimated bool   `json:"estimated"`  // tokens estimated with the offline tokenizer, not reported by the provider
}
