package oidc

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// tokenIssuer is a provider whose ID tokens each test shapes, to check
// that allot refuses the bad ones. (The flow against a real provider is
// tested in cmd/allot, TestSSOSignInThroughARealProvider.)
type tokenIssuer struct {
	srv *httptest.Server
	mu  sync.Mutex
	key *rsa.PrivateKey
	kid string
	// shape changes the claims of the next ID token.
	shape func(claims map[string]any)
	nonce string
	forge *rsa.PrivateKey // signs instead of key, under key's id: a forged token
}

func newTokenIssuer(t *testing.T) *tokenIssuer {
	t.Helper()
	ti := &tokenIssuer{}
	ti.rotate(t, "k1")
	mux := http.NewServeMux()
	ti.srv = httptest.NewServer(mux)
	t.Cleanup(ti.srv.Close)
	mux.HandleFunc("GET /.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		_ = json.NewEncoder(w).Encode(map[string]any{"issuer": ti.srv.URL, "authorization_endpoint": ti.srv.URL + "/auth",
			"token_endpoint": ti.srv.URL + "/token", "jwks_uri": ti.srv.URL + "/jwks", "id_token_signing_alg_values_supported": []string{"RS256"}})
	})
	mux.HandleFunc("GET /jwks", func(w http.ResponseWriter, r *http.Request) {
		ti.mu.Lock()
		defer ti.mu.Unlock()
		_ = json.NewEncoder(w).Encode(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &ti.key.PublicKey, KeyID: ti.kid, Algorithm: "RS256", Use: "sig"}}})
	})
	mux.HandleFunc("POST /token", func(w http.ResponseWriter, r *http.Request) {
		if r.FormValue("code") != "good-code" || r.FormValue("code_verifier") == "" {
			w.WriteHeader(http.StatusBadRequest)
			_ = json.NewEncoder(w).Encode(map[string]string{"error": "invalid_grant"})
			return
		}
		claims := map[string]any{"iss": ti.srv.URL, "sub": "s1", "aud": "allot", "exp": time.Now().Add(time.Minute).Unix(),
			"iat": time.Now().Unix(), "nonce": ti.nonce, "email": "dana@acme.test", "groups": []string{"ai-admins", "research"}}
		ti.mu.Lock()
		if ti.shape != nil {
			ti.shape(claims)
		}
		key := ti.key
		if ti.forge != nil {
			key = ti.forge
		}
		signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: jose.JSONWebKey{Key: key, KeyID: ti.kid}}, nil)
		ti.mu.Unlock()
		if err != nil {
			t.Error(err)
			return
		}
		payload, _ := json.Marshal(claims)
		jws, _ := signer.Sign(payload)
		idt, _ := jws.CompactSerialize()
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"access_token": "at", "token_type": "Bearer", "expires_in": 60, "id_token": idt})
	})
	return ti
}

// rotate replaces the signing key, as a provider rotating its keys does.
func (ti *tokenIssuer) rotate(t *testing.T, kid string) {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	ti.mu.Lock()
	ti.key, ti.kid = k, kid
	ti.mu.Unlock()
}

func TestFinishRefusesBadTokens(t *testing.T) {
	t.Parallel()
	ti := newTokenIssuer(t)
	other := newTokenIssuer(t) // a foreign issuer, with its own keys
	c := New(Config{Issuer: ti.srv.URL, ClientID: "allot", RedirectURL: "http://allot.test/auth/callback",
		Mapping: Mapping{AdminGroups: []string{"ai-admins"}}})
	ctx := context.Background()
	tests := []struct {
		name  string
		shape func(map[string]any)
		sign  *tokenIssuer // whose key signs (default ti)
		code  string
		nonce string // the Pending's nonce (default: the token's)
		want  string // in the error; "" = signs in
	}{
		{name: "a good token signs in"},
		{name: "another audience", shape: func(c map[string]any) { c["aud"] = "someone-else" }, want: "audience"},
		{name: "expired", shape: func(c map[string]any) { c["exp"] = time.Now().Add(-time.Minute).Unix() }, want: "expired"},
		{name: "a foreign issuer", shape: func(c map[string]any) { c["iss"] = other.srv.URL }, want: "different provider"},
		{name: "signed by a foreign key", sign: other, want: "signature"},
		{name: "another sign-in's nonce", nonce: "not-this-one", want: "nonce"},
		{name: "a code the provider refuses", code: "replayed-code", want: "authorization code"},
	}
	for _, tt := range tests {
		u, p, err := c.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if q, _ := url.Parse(u); q.Query().Get("code_challenge_method") != "S256" || q.Query().Get("state") != p.State || q.Query().Get("nonce") != p.Nonce {
			t.Fatalf("the authorization URL %s lacks PKCE S256, the state or the nonce", u)
		}
		ti.mu.Lock()
		ti.nonce, ti.shape = p.Nonce, tt.shape
		ti.forge = nil
		if tt.sign != nil {
			ti.forge = tt.sign.key
		}
		ti.mu.Unlock()
		if tt.nonce != "" {
			p.Nonce = tt.nonce
		}
		code := "good-code"
		if tt.code != "" {
			code = tt.code
		}
		id, err := c.Finish(ctx, p, code)
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("%s: %v", tt.name, err)
		case tt.want == "" && (id.Email != "dana@acme.test" || id.Role != "admin" || id.Team != "research"):
			t.Errorf("%s: identity %+v", tt.name, id)
		case tt.want != "" && (err == nil || !errors.Is(err, ErrRefused) || !strings.Contains(err.Error(), tt.want)):
			t.Errorf("%s: error %v, want a refusal naming %q", tt.name, err, tt.want)
		}
	}
}

// TestFinishPicksUpRotatedKeys: after the provider rotates its signing
// key, a token signed with the new key is accepted (the JWKS is fetched
// again for a key id not seen before).
func TestFinishPicksUpRotatedKeys(t *testing.T) {
	t.Parallel()
	ti := newTokenIssuer(t)
	c := New(Config{Issuer: ti.srv.URL, ClientID: "allot", RedirectURL: "http://allot.test/auth/callback"})
	ctx := context.Background()
	for _, kid := range []string{"k1", "k2", "k3"} {
		if kid != "k1" {
			ti.rotate(t, kid)
		}
		_, p, err := c.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		ti.mu.Lock()
		ti.nonce = p.Nonce
		ti.mu.Unlock()
		if _, err := c.Finish(ctx, p, "good-code"); err != nil {
			t.Errorf("signed with %s: %v", kid, err)
		}
	}
}
