package web_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/allot-dev/allot/web"
)

// signInCookies signs in with the good key, sending header with every
// request, and returns the cookies the sign-in form and the sign-in set.
func signInCookies(t *testing.T, client *http.Client, base string, header http.Header) []*http.Cookie {
	t.Helper()
	do := func(req *http.Request) (*http.Response, string) {
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
	req, _ := http.NewRequest(http.MethodGet, base+"/login", nil)
	form, page := do(req)
	m := tokenRE.FindStringSubmatch(page)
	if m == nil || len(form.Cookies()) == 0 {
		t.Fatalf("sign-in form without token or cookie: %s", form.Status)
	}
	req, _ = http.NewRequest(http.MethodPost, base+"/login", strings.NewReader(url.Values{"csrf": {m[1]}, "key": {"ak-good"}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for _, c := range form.Cookies() {
		req.AddCookie(&http.Cookie{Name: c.Name, Value: c.Value})
	}
	signed, _ := do(req)
	if signed.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign-in: %s", signed.Status)
	}
	return append(form.Cookies(), signed.Cookies()...)
}

// TestSecureCookies: the session and sign-in cookies are Secure over TLS,
// and behind a proxy only when trust_proxy is set and the proxy says
// X-Forwarded-Proto: https; a client's own X-Forwarded-Proto is ignored
// otherwise.
func TestSecureCookies(t *testing.T) {
	t.Parallel()
	https := http.Header{"X-Forwarded-Proto": {"https"}}
	for _, c := range []struct {
		name       string
		tls, trust bool
		header     http.Header
		secure     bool
	}{
		{"plain http", false, false, nil, false},
		{"over TLS", true, false, nil, true},
		{"trusted proxy says https", false, true, https, true},
		{"trusted proxy says https, http", false, true, http.Header{"X-Forwarded-Proto": {"HTTPS, http"}}, true},
		{"trusted proxy says http", false, true, http.Header{"X-Forwarded-Proto": {"http"}}, false},
		{"trusted proxy, no header", false, true, nil, false},
		{"untrusted header", false, false, https, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			d := web.New(web.Options{Keys: &fakeKeys{}, TrustProxy: c.trust})
			mux := http.NewServeMux()
			d.Routes(mux)
			srv := httptest.NewUnstartedServer(mux)
			if c.tls {
				srv.StartTLS()
			} else {
				srv.Start()
			}
			defer srv.Close()
			client := srv.Client()
			client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
			cookies := signInCookies(t, client, srv.URL, c.header)
			session := false
			for _, ck := range cookies {
				session = session || ck.Name == "allot_session" && ck.Value != ""
				if ck.Secure != c.secure {
					t.Errorf("cookie %s: Secure = %v, want %v", ck.Name, ck.Secure, c.secure)
				}
			}
			if !session {
				t.Errorf("no session cookie among %v", cookies)
			}
		})
	}
}

// TestAssetsListNoDirectory: /assets/ serves its files and lists no
// directory.
func TestAssetsListNoDirectory(t *testing.T) {
	t.Parallel()
	d := web.New(web.Options{Keys: &fakeKeys{}})
	mux := http.NewServeMux()
	d.Routes(mux)
	for path, want := range map[string]int{"/assets/": 404, "/assets/app.js": 200, "/assets/nope.js": 404, "/assets/app.js/": 404} {
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
		if rec.Code != want {
			t.Errorf("GET %s: %d, want %d", path, rec.Code, want)
		}
		if strings.Contains(rec.Body.String(), `<a href="app.js">`) {
			t.Errorf("GET %s lists the directory", path)
		}
	}
}
