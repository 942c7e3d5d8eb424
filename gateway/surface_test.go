package gateway_test

import (
	"context"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/allot-dev/allot"
)

// capturing keeps the events the gateway records, as recorded.
type capturing struct {
	mu     sync.Mutex
	events []allot.Event
	next   allot.Recorder
}

func (c *capturing) Record(e allot.Event) {
	c.mu.Lock()
	c.events = append(c.events, e)
	c.mu.Unlock()
	c.next.Record(e)
}

// TestOverLongLabelsAreCapped sends a call whose task, session and app
// headers are 100 kB each and whose model name is 1 MB (which the
// provider echoes back): the event the gateway records carries each of
// them capped to allot.MaxLabelBytes, while the provider still got the
// model as asked.
func TestOverLongLabelsAreCapped(t *testing.T) {
	t.Parallel()
	capture := &capturing{}
	h := newHarness(t, harnessOptions{maxBody: 4 << 20, wrapRecorder: func(next allot.Recorder) allot.Recorder {
		capture.next = next
		return capture
	}})
	header := strings.Repeat("h", 100<<10)
	model := "gpt-4o-" + strings.Repeat("m", 1<<20)
	body := `{"model":"` + model + `","messages":[{"role":"user","content":"hi"}]}`
	req, _ := http.NewRequest(http.MethodPost, h.url+"/v1/chat/completions", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+h.key)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Allot-Task", "=task-"+header)
	req.Header.Set("X-Allot-Session", "session-"+header)
	req.Header.Set("X-Allot-App", "app-"+header)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d", resp.StatusCode)
	}
	if calls := h.waitSimDone(); len(calls) != 1 || calls[0].Model != model {
		t.Fatalf("the provider did not get the model as asked")
	}
	stored := h.waitEvents(1)
	capture.mu.Lock()
	recorded := append([]allot.Event{}, capture.events...)
	capture.mu.Unlock()
	if len(recorded) != 1 || !strings.HasPrefix(recorded[0].Task, "=task-hhh") || !strings.HasPrefix(recorded[0].ServedModel, "gpt-4o-mmm") {
		t.Fatalf("recorded %d events; the capped labels should keep their start", len(recorded))
	}
	for _, e := range append(recorded, stored...) {
		for field, v := range map[string]string{"task": e.Task, "session": e.Session, "app": e.App, "requested model": e.RequestedModel, "served model": e.ServedModel} {
			if len(v) > allot.MaxLabelBytes {
				t.Errorf("%s of %d bytes recorded, want at most %d", field, len(v), allot.MaxLabelBytes)
			}
		}
	}
}

// TestProviderErrorStreamsAreScrubbed has the provider answer 429 as an
// event stream whose error event quotes allot's provider key: the caller
// gets the stream without it.
func TestProviderErrorStreamsAreScrubbed(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{wrapSim: func(http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/event-stream")
			w.WriteHeader(http.StatusTooManyRequests)
			io.WriteString(w, "event: error\ndata: {\"error\":{\"message\":\"rate limited for key "+providerKey+"\"}}\n\n")
		})
	}})
	req, _ := http.NewRequest(http.MethodPost, h.url+"/v1/chat/completions", strings.NewReader(`{"model":"gpt-4o","stream":true,"messages":[{"role":"user","content":"hi"}]}`))
	req.Header.Set("Authorization", "Bearer "+h.key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusTooManyRequests || strings.Contains(string(b), providerKey) || !strings.Contains(string(b), "rate limited for key [redacted") {
		t.Errorf("%d: %s", resp.StatusCode, b)
	}
}

// TestProviderErrorBodiesAreScrubbed has the provider answer 400, 429 and
// 500 with messages quoting allot's provider key and other key-shaped
// tokens: the caller gets the provider's status and message, with every
// key replaced by a marker.
func TestProviderErrorBodiesAreScrubbed(t *testing.T) {
	t.Parallel()
	for _, status := range []int{http.StatusBadRequest, http.StatusTooManyRequests, http.StatusInternalServerError} {
		t.Run(http.StatusText(status), func(t *testing.T) {
			t.Parallel()
			leak := `{"error":{"message":"Incorrect request for key ` + providerKey + ` (org of sk-ant-api03-AbCdEf_123-xyz, masked sk-prov****0000)","type":"invalid_request_error"}}`
			h := newHarness(t, harnessOptions{wrapSim: func(http.Handler) http.Handler {
				return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					w.Header().Set("Content-Type", "application/json")
					w.WriteHeader(status)
					io.WriteString(w, leak)
				})
			}})
			_, err := h.openai().Chat.Completions.New(context.Background(), rationParams("gpt-4o"))
			if err == nil {
				t.Fatal("the provider's error came back as a success")
			}
			req, _ := http.NewRequest(http.MethodPost, h.url+"/v1/chat/completions", strings.NewReader(`{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}]}`))
			req.Header.Set("Authorization", "Bearer "+h.key)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != status {
				t.Errorf("status %d, want the provider's %d", resp.StatusCode, status)
			}
			for _, secret := range []string{providerKey, "sk-ant-api03", "sk-prov"} {
				if strings.Contains(string(b), secret) {
					t.Errorf("the caller got %q: %s", secret, b)
				}
			}
			if !strings.Contains(string(b), "Incorrect request for key") || !strings.Contains(string(b), "redacted") {
				t.Errorf("the provider's message is not relayed with markers: %s", b)
			}
			if resp.Header.Get("Content-Length") != "" && resp.ContentLength != int64(len(b)) {
				t.Errorf("Content-Length %d for a body of %d bytes", resp.ContentLength, len(b))
			}
		})
	}
}
