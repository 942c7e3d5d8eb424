package openai

import (
	"encoding/json"

	"github.com/allot-dev/allot"
	"github.com/allot-dev/allot/provider/internal/jsonwalk"
)

var (
	includeUsage = []byte(`{"include_usage":true}`)
	jsonTrue     = []byte(`true`)
)

// RewriteRequest returns the body to send upstream:
//   - "model" set to model when it differs from the requested one
//     (a downgrade or an alias);
//   - for chat streams, stream_options.include_usage set to true (other
//     stream options kept), so the provider reports the stream's usage; the
//     tap hides the extra usage chunk from a client that did not ask for it;
//   - metadata.task removed: it is allot's tag, and OpenAI rejects chat
//     metadata unless "store" is on and embeddings accept no metadata at
//     all; metadata left empty is removed with it.
//
// When nothing needs changing it returns body itself. Otherwise the top
// level is rebuilt with every other member copied byte for byte.
func (Protocol) RewriteRequest(route allot.Route, body []byte, info allot.RequestInfo, model string) ([]byte, error) {
	setModel := model != "" && model != info.Model
	wantUsage := route == allot.RouteChat && info.Stream && !info.WantsUsage
	dropTask := info.Task != ""
	if !setModel && !wantUsage && !dropTask {
		return body, nil
	}
	if err := checkObject(body, example(route)); err != nil {
		return nil, err
	}
	var modelJSON []byte
	if setModel {
		var err error
		if modelJSON, err = json.Marshal(model); err != nil {
			return nil, &allot.Error{Code: allot.EInternal, Message: "could not set the served model in the request", Err: err}
		}
	}
	out := jsonwalk.NewObjectBuilder(make([]byte, 0, len(body)+len(modelJSON)+len(includeUsage)+24))
	sawModel, sawOptions := false, false
	var scratch [32]byte
	it := jsonwalk.Members(body)
	for m, ok := it.Next(); ok; m, ok = it.Next() {
		switch name := string(m.Name(scratch[:0])); {
		case setModel && name == "model":
			out.Add(m.Key, modelJSON)
			sawModel = true
		case wantUsage && name == "stream_options":
			out.Add(m.Key, withIncludeUsage(m.Value))
			sawOptions = true
		case dropTask && name == "metadata":
			if v, left := jsonwalk.Without(m.Value, "task"); left > 0 {
				out.Add(m.Key, v)
			}
		default:
			out.Add(m.Key, m.Value)
		}
	}
	if setModel && !sawModel {
		out.AddName("model", modelJSON)
	}
	if wantUsage && !sawOptions {
		out.AddName("stream_options", includeUsage)
	}
	return out.Bytes(), nil
}

// withIncludeUsage returns stream options with include_usage set to true.
func withIncludeUsage(options []byte) []byte {
	if len(options) == 0 || options[0] != '{' {
		return includeUsage // null: no options yet
	}
	out := jsonwalk.NewObjectBuilder(make([]byte, 0, len(options)+len(includeUsage)))
	set := false
	it := jsonwalk.Members(options)
	for m, ok := it.Next(); ok; m, ok = it.Next() {
		if m.Is("include_usage") {
			out.Add(m.Key, jsonTrue)
			set = true
			continue
		}
		out.Add(m.Key, m.Value)
	}
	if !set {
		out.AddName("include_usage", jsonTrue)
	}
	return out.Bytes()
}
