package notify

import (
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/allot-dev/allot"
)

// Webhook body formats.
const (
	FormatJSON  = "json"  // the notice as JSON (allot.Notice's fields)
	FormatSlack = "slack" // a Slack incoming-webhook message: {"text": ..., "blocks": [...]}
)

// Hook is one webhook notices are delivered to: `webhooks:` in allot.yaml.
type Hook struct {
	URL    string             `json:"url" yaml:"url"`
	Format string             `json:"format,omitempty" yaml:"format,omitempty"` // json (default) or slack
	Kinds  []allot.NoticeKind `json:"kinds,omitempty" yaml:"kinds,omitempty"`   // only these kinds; empty: all
}

// Validate checks the URL, format and kinds, with a message that says what
// to fix.
func (h Hook) Validate() error {
	u, err := url.Parse(h.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return allot.Errorf(allot.EInvalid, "webhook url %q must be an http:// or https:// URL", redact(h.URL))
	}
	if h.Format != "" && h.Format != FormatJSON && h.Format != FormatSlack {
		return allot.Errorf(allot.EInvalid, "webhook %s: format %q must be json or slack", redact(h.URL), h.Format)
	}
	for _, k := range h.Kinds {
		if k != allot.NoticeThreshold && k != allot.NoticeDowngrade && k != allot.NoticeRefusal {
			return allot.Errorf(allot.EInvalid, "webhook %s: kind %q must be threshold, downgrade or refusal", redact(h.URL), k)
		}
	}
	return nil
}

// accepts reports whether notices of kind k go to h.
func (h Hook) accepts(k allot.NoticeKind) bool {
	return len(h.Kinds) == 0 || slices.Contains(h.Kinds, k)
}

// body encodes n in h's format.
func (h Hook) body(n allot.Notice) ([]byte, error) {
	if h.Format == FormatSlack {
		return SlackBody(n)
	}
	return json.Marshal(n)
}

// redact shortens a webhook URL for logs and errors to its scheme and
// host: the path of a Slack webhook URL is its secret.
func redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return "(invalid url)"
	}
	if u.Path == "" || u.Path == "/" {
		return u.Scheme + "://" + u.Host
	}
	return u.Scheme + "://" + u.Host + "/…"
}

// slackTitles heads a Slack message by notice kind.
var slackTitles = map[allot.NoticeKind]string{
	allot.NoticeThreshold: ":warning: Budget alert",
	allot.NoticeDowngrade: ":arrow_down: Budget downgrading calls",
	allot.NoticeRefusal:   ":no_entry: Budget refusing calls",
}

// SlackBody renders n as a Slack incoming-webhook message: text (the
// sentence, also what notifications show) plus blocks with a title and
// the budget, scope, user and time.
func SlackBody(n allot.Notice) ([]byte, error) {
	title, ok := slackTitles[n.Kind]
	if !ok {
		title = ":bell: allot notice"
	}
	text := fmt.Sprintf("%s: %s", title, slackEscape(n.Message))
	ctx := []string{"budget *" + slackEscape(n.Budget) + "*"}
	if n.Scope != "" {
		ctx = append(ctx, slackEscape(n.Scope))
	}
	if n.User != "" {
		ctx = append(ctx, "raised by "+slackEscape(n.User))
	}
	if !n.Time.IsZero() {
		ctx = append(ctx, n.Time.UTC().Format(time.RFC3339))
	}
	msg := map[string]any{
		"text": text,
		"blocks": []any{
			map[string]any{"type": "section", "text": map[string]any{"type": "mrkdwn", "text": "*" + title + "*\n" + slackEscape(n.Message)}},
			map[string]any{"type": "context", "elements": []any{map[string]any{"type": "mrkdwn", "text": strings.Join(ctx, " · ")}}},
		},
	}
	return json.Marshal(msg)
}

// slackEscape escapes the three characters Slack's mrkdwn treats as markup.
func slackEscape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}
