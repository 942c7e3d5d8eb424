package anthropic

import (
	"encoding/json"

	"github.com/allot-dev/allot"
	"github.com/allot-dev/allot/provider/internal/jsonwalk"
)

// RewriteRequest returns the body to send upstream:
//   - "model" set to model when it differs from the requested one
//     (a downgrade or an alias);
//   - metadata.task removed: it is allot's tag, and Anthropic rejects any
//     metadata key but user_id ("Extra inputs are not permitted"); metadata
//     left empty is removed with it.
//
// Anthropic streams report usage unasked, so streams need no change. When
// nothing needs changing it returns body itself. Otherwise the top level
// is rebuilt with every other member copied byte for byte.
func (Protocol) RewriteRequest(route allot.Route, body []byte, info allot.RequestInfo, model string) ([]byte, error) {
	setModel := model != "" && model != info.Model
	dropTask := info.Task != ""
	if !setModel && !dropTask {
		return body, nil
	}
	if problem := jsonwalk.ObjectProblem(body); problem != "" {
		return nil, invalid("", "the request body %s; send a JSON object such as %s", problem, example(route))
	}
	var modelJSON []byte
	if setModel {
		var err error
		if modelJSON, err = json.Marshal(model); err != nil {
			return nil, &allot.Error{Code: allot.EInternal, Message: "could not set the served model in the request", Err: err}
		}
	}
	out := jsonwalk.NewObjectBuilder(make([]byte, 0, len(body)+len(modelJSON)+16))
	sawModel := false
	var scratch [16]byte
	it := jsonwalk.Members(body)
	for m, ok := it.Next(); ok; m, ok = it.Next() {
		switch name := string(m.Name(scratch[:0])); {
		case setModel && name == "model":
			out.Add(m.Key, modelJSON)
			sawModel = true
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
	return out.Bytes(), nil
}
