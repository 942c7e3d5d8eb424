package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/allot-dev/allot/config"
)

// selfSigned writes a certificate for 127.0.0.1 and its key to dir and
// returns their paths and a pool that trusts it.
func selfSigned(t *testing.T, dir string) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "allot test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return certFile, keyFile, pool
}

// startSurfaceServer starts allot on a fresh SQLite database with cfg
// adjusted by adjust and no reachable upstream, and stops it when the test
// ends.
func startSurfaceServer(t *testing.T, adjust func(*config.Config)) *server {
	t.Helper()
	return startTestServer(t, "http://127.0.0.1:1", serverOptions{}, adjust)
}

// startTestServer starts allot with opts against the upstream at simURL,
// on a fresh SQLite database of the testdata org with cfg adjusted by
// adjust (nil: none), and stops it when the test ends, failing the test
// if it did not stop cleanly.
func startTestServer(t *testing.T, simURL string, opts serverOptions, adjust func(*config.Config)) *server {
	t.Helper()
	cfg := testServerConfig(t, simURL, filepath.Join(t.TempDir(), "allot.db"), "testdata/org.yaml")
	if adjust != nil {
		adjust(&cfg)
	}
	ctx, stop := context.WithCancel(context.Background())
	srv, err := startServer(ctx, cfg, opts)
	if err != nil {
		stop()
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.wait(ctx) }()
	t.Cleanup(func() {
		stop()
		if err := <-done; err != nil {
			t.Error(err)
		}
	})
	return srv
}

// fetch GETs url with header and returns the response, body read.
func fetch(t *testing.T, client *http.Client, method, url string, header http.Header) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequest(method, url, nil)
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

// TestServeTLS serves HTTPS with tls: {cert_file, key_file}: the
// dashboard's cookies are Secure there, and plain HTTP gets no answer.
func TestServeTLS(t *testing.T) {
	t.Parallel()
	certFile, keyFile, pool := selfSigned(t, t.TempDir())
	srv := startSurfaceServer(t, func(c *config.Config) { c.TLS = config.TLS{CertFile: certFile, KeyFile: keyFile} })
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}, Timeout: 10 * time.Second}
	resp, _ := fetch(t, client, http.MethodGet, "https://"+srv.addr+"/login", nil)
	if resp.StatusCode != http.StatusOK || resp.TLS == nil {
		t.Fatalf("GET /login over TLS: %s", resp.Status)
	}
	if len(resp.Cookies()) == 0 {
		t.Fatal("no cookie")
	}
	for _, c := range resp.Cookies() {
		if !c.Secure {
			t.Errorf("cookie %s over TLS is not Secure", c.Name)
		}
	}
	plain := &http.Client{Timeout: 5 * time.Second}
	if resp, err := plain.Get("http://" + srv.addr + "/login"); err == nil {
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			t.Error("plain HTTP is served on the TLS listener")
		}
	}
}

// TestServeTLSRefusesABadCertificate: a missing certificate stops allot
// at start with a message naming the files.
func TestServeTLSRefusesABadCertificate(t *testing.T) {
	t.Parallel()
	cfg := testServerConfig(t, "http://127.0.0.1:1", filepath.Join(t.TempDir(), "allot.db"), "testdata/org.yaml")
	cfg.TLS = config.TLS{CertFile: "/nonexistent/cert.pem", KeyFile: "/nonexistent/key.pem"}
	srv, err := startServer(context.Background(), cfg, serverOptions{})
	if err == nil {
		srv.shutdown()
		t.Fatal("allot started with a missing certificate")
	}
	if !strings.Contains(err.Error(), "cert_file") {
		t.Errorf("error %q does not name cert_file", err)
	}
}

// TestTrustProxySecureCookies: with trust_proxy, a proxy's
// X-Forwarded-Proto: https makes the cookies Secure; without it, the
// same header from anyone is ignored.
func TestTrustProxySecureCookies(t *testing.T) {
	t.Parallel()
	https := http.Header{"X-Forwarded-Proto": {"https"}}
	for _, trust := range []bool{true, false} {
		srv := startSurfaceServer(t, func(c *config.Config) { c.TrustProxy = trust })
		for _, h := range []http.Header{https, nil} {
			resp, _ := fetch(t, http.DefaultClient, http.MethodGet, "http://"+srv.addr+"/login", h)
			want := trust && h != nil
			for _, c := range resp.Cookies() {
				if c.Secure != want {
					t.Errorf("trust_proxy %v, X-Forwarded-Proto %q: cookie %s Secure = %v, want %v", trust, h.Get("X-Forwarded-Proto"), c.Name, c.Secure, want)
				}
			}
		}
	}
}

// TestNosniffEverywhere: every kind of answer (API JSON and errors,
// gateway errors, OTLP, dashboard pages and assets, metrics) carries
// X-Content-Type-Options: nosniff.
func TestNosniffEverywhere(t *testing.T) {
	t.Parallel()
	srv := startSurfaceServer(t, func(*config.Config) {})
	for _, c := range []struct{ method, path string }{
		{http.MethodGet, "/api/v1/whoami"},
		{http.MethodGet, "/api/v1/report?by=user"},
		{http.MethodGet, "/api/v1/overview"},
		{http.MethodPost, "/v1/chat/completions"},
		{http.MethodPost, "/v1/messages"},
		{http.MethodGet, "/v1/nope"},
		{http.MethodPost, "/v1/logs"},
		{http.MethodPost, "/api/v1/usage"},
		{http.MethodGet, "/login"},
		{http.MethodGet, "/assets/app.js"},
		{http.MethodGet, "/metrics"},
		{http.MethodGet, "/no-such-page"},
	} {
		resp, _ := fetch(t, http.DefaultClient, c.method, "http://"+srv.addr+c.path, nil)
		if got := resp.Header.Get("X-Content-Type-Options"); got != "nosniff" {
			t.Errorf("%s %s (%d): X-Content-Type-Options %q, want nosniff", c.method, c.path, resp.StatusCode, got)
		}
	}
}

// TestMetricsAccess: /metrics shows spend by team, so it can be kept
// behind a bearer token (metrics.token_env) or on a listener of its own
// (metrics.listen).
func TestMetricsAccess(t *testing.T) {
	const env = "ALLOT_TEST_SURFACE_METRICS_TOKEN"
	t.Setenv(env, "s3cret-scrape")
	t.Run("token", func(t *testing.T) {
		srv := startSurfaceServer(t, func(c *config.Config) { c.Metrics.TokenEnv = env })
		url := "http://" + srv.addr + "/metrics"
		for _, c := range []struct {
			auth string
			want int
		}{
			{"", http.StatusUnauthorized},
			{"Bearer wrong", http.StatusUnauthorized},
			{"s3cret-scrape", http.StatusUnauthorized},
			{"Bearer s3cret-scrape", http.StatusOK},
		} {
			resp, body := fetch(t, http.DefaultClient, http.MethodGet, url, http.Header{"Authorization": {c.auth}})
			if resp.StatusCode != c.want {
				t.Errorf("Authorization %q: %d, want %d", c.auth, resp.StatusCode, c.want)
			}
			if c.want != http.StatusOK && strings.Contains(body, "allot_") {
				t.Errorf("Authorization %q: metrics shown: %.200s", c.auth, body)
			}
		}
	})
	t.Run("own listener", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := ln.Addr().String()
		ln.Close()
		srv := startSurfaceServer(t, func(c *config.Config) { c.Metrics.Listen = addr })
		if resp, _ := fetch(t, http.DefaultClient, http.MethodGet, "http://"+srv.addr+"/metrics", nil); resp.StatusCode == http.StatusOK {
			t.Error("the main listener still serves /metrics")
		}
		if resp, body := fetch(t, http.DefaultClient, http.MethodGet, "http://"+addr+"/metrics", nil); resp.StatusCode != http.StatusOK || !strings.Contains(body, "allot_ledger_queue_depth") {
			t.Errorf("metrics listener: %d", resp.StatusCode)
		}
	})
	t.Run("empty token variable", func(t *testing.T) {
		cfg := testServerConfig(t, "http://127.0.0.1:1", filepath.Join(t.TempDir(), "allot.db"), "testdata/org.yaml")
		cfg.Metrics.TokenEnv = "ALLOT_TEST_SURFACE_UNSET_TOKEN"
		if srv, err := startServer(context.Background(), cfg, serverOptions{}); err == nil {
			srv.shutdown()
			t.Fatal("allot started with metrics.token_env naming an empty variable")
		}
	})
}
