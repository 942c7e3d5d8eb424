package openai

import (
	"encoding/json"
	"testing"

	"github.com/allot-dev/allot"
)

func TestRewriteRequest(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		route allot.Route
		body  string
		model string // served model; "" means the requested one
		want  string // "" means the body must come back as it is, not copied
	}{
		{name: "nothing to change", route: allot.RouteChat, body: `{"model":"gpt-4o","messages":[]}`},
		{name: "a stream the client asked usage for", route: allot.RouteChat,
			body: `{"model":"gpt-4o","stream":true,"stream_options":{"include_usage":true}}`},
		{name: "responses streams report usage anyway", route: allot.RouteResponses, body: `{"model":"gpt-5","stream":true,"input":"x"}`},
		{name: "stream gets usage", route: allot.RouteChat,
			body: `{"model":"gpt-4o", "stream":true, "messages":[ {"role":"user","content":"hi"} ]}`,
			want: `{"model":"gpt-4o","stream":true,"messages":[ {"role":"user","content":"hi"} ],"stream_options":{"include_usage":true}}`},
		{name: "other stream options are kept", route: allot.RouteChat,
			body: `{"model":"gpt-4o","stream":true,"stream_options":{"include_obfuscation":false}}`,
			want: `{"model":"gpt-4o","stream":true,"stream_options":{"include_obfuscation":false,"include_usage":true}}`},
		{name: "include_usage false is turned on", route: allot.RouteChat,
			body: `{"stream_options":{"include_usage":false,"include_obfuscation":true},"model":"gpt-4o","stream":true}`,
			want: `{"stream_options":{"include_usage":true,"include_obfuscation":true},"model":"gpt-4o","stream":true}`},
		{name: "null stream options", route: allot.RouteChat,
			body: `{"model":"gpt-4o","stream":true,"stream_options":null}`,
			want: `{"model":"gpt-4o","stream":true,"stream_options":{"include_usage":true}}`},
		{name: "downgrade", route: allot.RouteChat, model: "gpt-4o-mini",
			body: `{"model":"gpt-4o","messages":[{"role":"user","content":"The \"model\":\"x\" inside text stays"}]}`,
			want: `{"model":"gpt-4o-mini","messages":[{"role":"user","content":"The \"model\":\"x\" inside text stays"}]}`},
		{name: "downgrade of an escaped key", route: allot.RouteChat, model: "gpt-4o-mini",
			body: `{"mod\u0065l":"gpt-4o"}`,
			want: `{"mod\u0065l":"gpt-4o-mini"}`},
		{name: "allot's task is removed, other metadata kept", route: allot.RouteResponses,
			body: `{"model":"gpt-5","metadata":{"task":"review","ticket":"T-1"},"input":"x"}`,
			want: `{"model":"gpt-5","metadata":{"ticket":"T-1"},"input":"x"}`},
		{name: "metadata with only the task is removed", route: allot.RouteChat,
			body: `{"model":"gpt-4o","metadata":{"task":"review"},"messages":[]}`,
			want: `{"model":"gpt-4o","messages":[]}`},
		{name: "embeddings take no metadata", route: allot.RouteEmbeddings, model: "text-embedding-3-large",
			body: `{"input":"x","metadata":{"task":"index"},"model":"text-embedding-3-small"}`,
			want: `{"input":"x","model":"text-embedding-3-large"}`},
		{name: "everything at once", route: allot.RouteChat, model: "gpt-4o-mini",
			body: "{\n  \"model\": \"gpt-4o\",\n  \"stream\": true,\n  \"metadata\": {\"task\": \"x\", \"a\": \"b\"}\n}\n",
			want: `{"model":"gpt-4o-mini","stream":true,"metadata":{"a":"b"},"stream_options":{"include_usage":true}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p := Protocol{}
			body := []byte(tt.body)
			info, err := p.ParseRequest(tt.route, body)
			if err != nil {
				t.Fatal(err)
			}
			model := tt.model
			if model == "" {
				model = info.Model
			}
			out, err := p.RewriteRequest(tt.route, body, info, model)
			if err != nil {
				t.Fatal(err)
			}
			if tt.want == "" {
				if &out[0] != &body[0] || len(out) != len(body) {
					t.Fatalf("body rewritten to %s; want it returned as it is", out)
				}
				return
			}
			if string(out) != tt.want {
				t.Fatalf("rewritten to\n%s\nwant\n%s", out, tt.want)
			}
			// The provider reads what allot meant.
			again, err := p.ParseRequest(tt.route, out)
			if err != nil {
				t.Fatal(err)
			}
			if again.Model != model || again.Task != "" || (tt.route == allot.RouteChat && info.Stream && !again.WantsUsage) {
				t.Errorf("provider would read %+v", again)
			}
		})
	}
}

func TestRewriteRequestRejectsMalformedBodies(t *testing.T) {
	t.Parallel()
	_, err := Protocol{}.RewriteRequest(allot.RouteChat, []byte(`{"model":"a"`), allot.RequestInfo{Model: "a"}, "b")
	if allot.CodeOf(err) != allot.EInvalid {
		t.Fatalf("err = %v, want %s", err, allot.EInvalid)
	}
}

func TestRewrittenBodiesAreValidJSON(t *testing.T) {
	t.Parallel()
	for _, body := range []string{`{}`, ` {"stream":true} `, `{"a":[1,{"b":"}"}],"stream":true,"metadata":{"task":"t","x":null}}`} {
		info := allot.RequestInfo{Model: "m", Stream: true, Task: "t"}
		out, err := Protocol{}.RewriteRequest(allot.RouteChat, []byte(body), info, "n")
		if err != nil || !json.Valid(out) {
			t.Errorf("RewriteRequest(%s) = %s, %v; want valid JSON", body, out, err)
		}
	}
}
