package gateway

import (
	"bytes"
	"regexp"
)

// redacted replaces a secret in a provider's error body.
const redacted = "[redacted by allot]"

// secretLike matches tokens shaped like provider keys: OpenAI's sk-…,
// sk-proj-…, and Anthropic's sk-ant-…, including the masked forms
// providers quote back ("sk-abc1****wxyz").
var secretLike = regexp.MustCompile(`\bsk-[A-Za-z0-9_\-]{4,}[A-Za-z0-9_\-*.]*`)

// minKeyLen is the shortest provider key redacted by its exact value;
// shorter values (a misconfiguration) would match ordinary words.
const minKeyLen = 8

// scrubSecrets returns body with the provider's key, and every token that
// looks like a provider key, replaced by a marker. Providers quote the
// key they were sent in some error messages (a 400 for a malformed key,
// a 429 naming the key's organisation, a 500 echoing the request), and
// those bodies are relayed to callers, who must never see allot's
// provider key (design invariant 8). body is returned as is, without
// copying, when there is nothing to scrub.
func scrubSecrets(body []byte, key string) []byte {
	if len(key) >= minKeyLen && bytes.Contains(body, []byte(key)) {
		body = bytes.ReplaceAll(body, []byte(key), []byte(redacted))
	}
	if secretLike.Match(body) {
		body = secretLike.ReplaceAll(body, []byte(redacted))
	}
	return body
}
