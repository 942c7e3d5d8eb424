package oidc

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	gooidc "github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

// Config is one provider as allot.yaml's oidc: section names it.
type Config struct {
	Issuer       string
	ClientID     string
	ClientSecret string // "" for a public client (PKCE alone)
	RedirectURL  string
	Scopes       []string // beside openid, email and profile
	Mapping      Mapping
	// HTTPClient talks to the provider (default: 10 s timeout per request).
	HTTPClient *http.Client
	Now        func() time.Time // the clock tokens are checked against
}

// Client runs sign-ins against one provider. Discovery happens on first
// use, so allot starts (and serves keys) while the provider is down.
type Client struct {
	cfg Config

	mu       sync.Mutex
	provider *gooidc.Provider
	verifier *gooidc.IDTokenVerifier
	oauth    *oauth2.Config
}

// New returns a client for cfg; nothing is fetched yet.
func New(cfg Config) *Client {
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: 10 * time.Second}
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Client{cfg: cfg}
}

// Pending is a sign-in under way: what the browser's return must match.
// It never leaves the server (web keeps it by State, once).
type Pending struct {
	State    string // sent to the provider, must come back unchanged
	Nonce    string // must be in the ID token
	Verifier string // PKCE code verifier; the provider got its S256 challenge
	Created  time.Time
}

// Begin starts a sign-in: the provider URL to send the browser to, and the
// Pending to keep until it returns.
func (c *Client) Begin(ctx context.Context) (string, Pending, error) {
	if err := c.discover(ctx); err != nil {
		return "", Pending{}, err
	}
	p := Pending{State: random(), Nonce: random(), Verifier: oauth2.GenerateVerifier(), Created: c.cfg.Now()}
	u := c.oauth.AuthCodeURL(p.State, gooidc.Nonce(p.Nonce), oauth2.S256ChallengeOption(p.Verifier))
	return u, p, nil
}

// ErrRefused is wrapped by every error that is the provider's or the
// token's fault, as opposed to allot's (a network failure is neither).
var ErrRefused = errors.New("sign-in refused")

func refused(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrRefused, fmt.Sprintf(format, args...))
}

// Finish completes the sign-in p with the code the provider returned:
// the code is exchanged (with the PKCE verifier), the ID token verified
// (signature through the JWKS, issuer, audience, expiry, nonce) and the
// claims, merged over the userinfo endpoint's, read by the Mapping.
func (c *Client) Finish(ctx context.Context, p Pending, code string) (Identity, error) {
	if err := c.discover(ctx); err != nil {
		return Identity{}, err
	}
	if code == "" || len(code) > 4096 {
		return Identity{}, refused("the provider returned no usable authorization code")
	}
	ctx = gooidc.ClientContext(ctx, c.cfg.HTTPClient)
	tok, err := c.oauth.Exchange(ctx, code, oauth2.VerifierOption(p.Verifier))
	if err != nil {
		var re *oauth2.RetrieveError
		if errors.As(err, &re) {
			return Identity{}, refused("the provider refused the authorization code (used already, expired, or not for allot): %s", re.ErrorCode)
		}
		return Identity{}, fmt.Errorf("exchange the authorization code: %w", err)
	}
	raw, _ := tok.Extra("id_token").(string)
	if raw == "" {
		return Identity{}, refused("the provider's answer has no ID token; is the openid scope allowed for this client?")
	}
	idt, err := c.verifier.Verify(ctx, raw)
	if err != nil {
		return Identity{}, refused("the ID token is not valid for allot: %v", err)
	}
	if idt.Nonce == "" || idt.Nonce != p.Nonce {
		return Identity{}, refused("the ID token's nonce does not match this sign-in")
	}
	claims := map[string]json.RawMessage{}
	if c.provider.UserInfoEndpoint() != "" {
		ui, err := c.provider.UserInfo(ctx, oauth2.StaticTokenSource(tok))
		if err != nil {
			return Identity{}, fmt.Errorf("read the userinfo endpoint: %w", err)
		}
		if ui.Subject != idt.Subject {
			return Identity{}, refused("the userinfo endpoint names another subject than the ID token")
		}
		if err := ui.Claims(&claims); err != nil {
			return Identity{}, refused("the userinfo answer is not a JSON object: %v", err)
		}
	}
	var fromToken map[string]json.RawMessage
	if err := idt.Claims(&fromToken); err != nil {
		return Identity{}, refused("the ID token's claims are not a JSON object: %v", err)
	}
	for k, v := range fromToken { // the signed token wins
		claims[k] = v
	}
	merged, err := json.Marshal(claims)
	if err != nil {
		return Identity{}, fmt.Errorf("merge claims: %w", err)
	}
	id, err := c.cfg.Mapping.Identify(merged)
	if err != nil {
		return Identity{}, refused("%v", err)
	}
	return id, nil
}

// discover fetches the provider's discovery document once it answers.
func (c *Client) discover(ctx context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.provider != nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	// The provider outlives this request: its key set fetches with the
	// client, not the request's context.
	prov, err := gooidc.NewProvider(gooidc.ClientContext(ctx, c.cfg.HTTPClient), c.cfg.Issuer)
	if err != nil {
		return fmt.Errorf("discover the identity provider %s: %w", c.cfg.Issuer, err)
	}
	scopes := append([]string{gooidc.ScopeOpenID, "email", "profile"}, c.cfg.Scopes...)
	c.oauth = &oauth2.Config{ClientID: c.cfg.ClientID, ClientSecret: c.cfg.ClientSecret, RedirectURL: c.cfg.RedirectURL,
		Endpoint: prov.Endpoint(), Scopes: scopes}
	c.verifier = prov.VerifierContext(gooidc.ClientContext(context.Background(), c.cfg.HTTPClient),
		&gooidc.Config{ClientID: c.cfg.ClientID, Now: c.cfg.Now})
	c.provider = prov
	return nil
}

// random returns 32 random bytes, base64url.
func random() string {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("crypto/rand failed: " + err.Error()) // never happens on supported platforms
	}
	return base64.RawURLEncoding.EncodeToString(b[:])
}
