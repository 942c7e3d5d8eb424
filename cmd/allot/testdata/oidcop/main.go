// Command oidcop is the OpenID provider of allot's single sign-on test:
// zitadel/oidc's certified OP with its example in-memory storage and
// login page, plus a "groups" claim per user (the example has none). It
// listens on 127.0.0.1 at a free port and prints its issuer on stdout.
//
// Usage: oidcop -users users.json -groups groups.json -redirect URL
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"log/slog"
	"net"
	"net/http"
	"os"

	"github.com/zitadel/oidc/v3/example/server/exampleop"
	"github.com/zitadel/oidc/v3/example/server/storage"
	"github.com/zitadel/oidc/v3/pkg/oidc"
)

// withGroups is the example storage that also asserts each user's groups.
type withGroups struct {
	*storage.Storage
	groups map[string][]string // by user id
}

func (s withGroups) SetUserinfoFromScopes(ctx context.Context, ui *oidc.UserInfo, userID, clientID string, scopes []string) error {
	if err := s.Storage.SetUserinfoFromScopes(ctx, ui, userID, clientID, scopes); err != nil {
		return err
	}
	ui.AppendClaims("groups", s.groups[userID])
	return nil
}

func (s withGroups) SetUserinfoFromToken(ctx context.Context, ui *oidc.UserInfo, tokenID, subject, origin string) error {
	if err := s.Storage.SetUserinfoFromToken(ctx, ui, tokenID, subject, origin); err != nil {
		return err
	}
	ui.AppendClaims("groups", s.groups[ui.Subject])
	return nil
}

func main() {
	users := flag.String("users", "", "users JSON (the example storage's format)")
	groups := flag.String("groups", "", "groups JSON: user id -> group names")
	redirect := flag.String("redirect", "", "allowed redirect URI of client web (secret: secret)")
	flag.Parse()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	issuer := fmt.Sprintf("http://localhost:%d/", ln.Addr().(*net.TCPAddr).Port)
	storage.RegisterClients(storage.WebClient("web", "secret", *redirect))
	us, err := storage.StoreFromFile(*users)
	if err != nil {
		log.Fatal(err)
	}
	g := map[string][]string{}
	if b, err := os.ReadFile(*groups); err != nil || json.Unmarshal(b, &g) != nil {
		log.Fatalf("read groups %s: %v", *groups, err)
	}
	st := withGroups{Storage: storage.NewStorage(us), groups: g}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	router := exampleop.SetupServer(issuer, st, logger, false)
	fmt.Println(issuer)
	log.Fatal(http.Serve(ln, router))
}
