// Package oidc signs people in to the dashboard through an OpenID Connect
// provider (Okta, Microsoft Entra ID, Google Workspace, Keycloak, …): the
// authorization code flow with PKCE, state and nonce (flow.go), the ID
// token checked for issuer, audience, expiry and signature through the
// provider's JWKS, which is fetched again when a token names a key it does
// not hold, so rotated keys are picked up (flow.go, by
// github.com/coreos/go-oidc), what the claims say about a person
// (claims.go), and who that person is in allot's directory (enroll.go).
// It is the only package that imports go-oidc and golang.org/x/oauth2.
package oidc
