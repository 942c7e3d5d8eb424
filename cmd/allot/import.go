package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"

	"github.com/spf13/cobra"

	"github.com/allot-dev/allot"
	"github.com/allot-dev/allot/config"
	"github.com/allot-dev/allot/ingest"
	"github.com/allot-dev/allot/ingest/claudecode"
	"github.com/allot-dev/allot/ingest/codex"
	"github.com/allot-dev/allot/ingest/csvimport"
	"github.com/allot-dev/allot/ingest/usagereport"
	"github.com/allot-dev/allot/pricing"
	"github.com/allot-dev/allot/sqlite"
)

// importEnv is what every import needs: the database, the price catalog
// and the people events are attributed to.
type importEnv struct {
	cfg     config.Config
	db      allot.Store
	catalog *pricing.Catalog
	people  *ingest.People
	org     orgFile // the org file, if one was found
	hasOrg  bool
}

// openImport opens the database and reads the org: its name and provider
// ids from the org file (--org, else the config's org, else ./org.yaml when
// present), its users from the database.
func openImport(ctx context.Context, g *globals, orgPath string) (*importEnv, error) {
	cfg, db, err := g.createStore(ctx)
	if err != nil {
		return nil, err
	}
	env := &importEnv{cfg: cfg, db: db}
	if orgPath == "" {
		orgPath = cfg.Org
	}
	explicit := orgPath != ""
	if orgPath == "" {
		orgPath = "org.yaml"
	}
	if f, err := readOrgFile(orgPath); err == nil {
		env.org, env.hasOrg = f, true
	} else if explicit || !errors.Is(err, fs.ErrNotExist) {
		db.Close()
		return nil, err
	}
	if env.catalog, err = loadCatalog(ctx, cfg, db); err != nil {
		db.Close()
		return nil, err
	}
	users, err := db.Users(ctx)
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("list users: %w", err)
	}
	name := sqlite.DefaultOrg
	if env.hasOrg {
		name = env.org.Name
	}
	env.people = ingest.NewPeople(name, users)
	return env, nil
}

// principal is the allot user named by --user.
func (env *importEnv) principal(user string) (allot.Principal, error) {
	if user == "" {
		return allot.Principal{}, allot.Errorf(allot.EInvalid, "name the person this usage belongs to with --user NAME")
	}
	p, ok := env.people.ByName(user)
	if !ok {
		if p, ok = env.people.ByEmail(user); !ok {
			return p, allot.Errorf(allot.EInvalid, "%q is not an active allot user; add them to org.yaml and run allot apply", user)
		}
	}
	return p, nil
}

// mapping is provider id -> allot user, from the org file's provider_ids,
// else from what the last `allot apply` stored.
func (env *importEnv) mapping(ctx context.Context) (usagereport.Mapping, error) {
	ids := map[string]map[string]string{}
	if env.hasOrg {
		for _, u := range env.org.Users {
			if len(u.ProviderIDs) > 0 {
				ids[u.Name] = u.ProviderIDs
			}
		}
	} else {
		b, err := env.db.Setting(ctx, providerIDsSetting)
		if err != nil {
			return nil, fmt.Errorf("read stored provider ids: %w", err)
		}
		if b != nil {
			if err := json.Unmarshal(b, &ids); err != nil {
				return nil, fmt.Errorf("stored provider ids: %w", err)
			}
		}
	}
	if len(ids) == 0 {
		return nil, allot.Errorf(allot.EInvalid, "no user has provider_ids; add them to org.yaml, e.g. provider_ids: {openai_api_key: key_…, openai_user: user-…, anthropic_api_key: apikey_…}, and pass --org org.yaml")
	}
	return usagereport.MappingFromUsers(ids), nil
}

// printSummary writes an import's counts and its first problems.
func printSummary(w io.Writer, what string, s ingest.Summary) {
	fmt.Fprintf(w, "%s: %s\n", what, s)
	for _, p := range s.Problems {
		fmt.Fprintf(w, "  %s\n", p)
	}
	if n := s.MoreProblems(); n > 0 {
		fmt.Fprintf(w, "  … and %d more problems\n", n)
	}
}

func newImportCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "import",
		Short: "Import usage that did not go through allot: tool session logs, provider usage reports, CSV",
		Long: `Import usage that did not go through allot. Every import is idempotent:
importing the same logs or files again stores nothing new. Do not import
usage that also went through the gateway (it would count twice).`,
	}
	var orgPath string
	cmd.PersistentFlags().StringVar(&orgPath, "org", "", "org file with the users' provider_ids (default: the config's org, else ./org.yaml)")

	logImport := func(name, short, defDir string, run func(ctx context.Context, l ingest.Appender, dir string, who allot.Principal, p allot.Pricer) (ingest.Summary, error)) *cobra.Command {
		var user string
		c := &cobra.Command{
			Use:   name + " [DIR] --user NAME",
			Short: short,
			Args:  cobra.MaximumNArgs(1),
			RunE: func(cmd *cobra.Command, args []string) error {
				dir := defDir
				if len(args) == 1 {
					dir = args[0]
				}
				env, err := openImport(cmd.Context(), g, orgPath)
				if err != nil {
					return err
				}
				defer env.db.Close()
				who, err := env.principal(user)
				if err != nil {
					return err
				}
				prog := newProgress(cmd.ErrOrStderr(), name+" "+dir)
				sum, err := run(cmd.Context(), prog.appender(env.db), dir, who, env.catalog)
				prog.finish()
				printSummary(cmd.OutOrStdout(), name+" "+dir, sum)
				return err
			},
		}
		c.Flags().StringVar(&user, "user", "", "the allot user (name or e-mail) the logs belong to")
		return c
	}
	claude := logImport("claude-code", "Import Claude Code's local session logs (default "+claudecode.DefaultDir()+")", claudecode.DefaultDir(), claudecode.Import)
	codexCmd := logImport("codex", "Import Codex CLI's local session logs (default "+codex.DefaultDir()+")", codex.DefaultDir(), codex.Import)

	report := func(provider, name, short string) *cobra.Command {
		return &cobra.Command{
			Use:   name + " FILE",
			Short: short,
			Long: short + `.
FILE holds the JSON pages the provider's API returned (one page, an array of
pages, or pages one after another). Results are attributed through the users'
provider_ids in org.yaml; results no one claims are skipped, since allot's own
gateway traffic appears in the report too. Import one bucket width (1d) only.`,
			Args: cobra.ExactArgs(1),
			RunE: func(cmd *cobra.Command, args []string) error {
				env, err := openImport(cmd.Context(), g, orgPath)
				if err != nil {
					return err
				}
				defer env.db.Close()
				m, err := env.mapping(cmd.Context())
				if err != nil {
					return err
				}
				f, err := os.Open(args[0])
				if err != nil {
					return fmt.Errorf("open report: %w", err)
				}
				defer f.Close()
				prog := newProgress(cmd.ErrOrStderr(), name+" "+args[0])
				sum, err := usagereport.Import(cmd.Context(), prog.appender(env.db), provider, args[0], prog.reader(f, fileSize(f)), m, env.people, env.catalog)
				prog.finish()
				printSummary(cmd.OutOrStdout(), name+" "+args[0], sum)
				return err
			},
		}
	}

	var csvUser string
	csvCmd := &cobra.Command{
		Use:   "csv FILE [--user NAME]",
		Short: "Import usage rows from a CSV file with allot's header (docs/import-csv.md)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			env, err := openImport(cmd.Context(), g, orgPath)
			if err != nil {
				return err
			}
			defer env.db.Close()
			if csvUser != "" {
				if _, err := env.principal(csvUser); err != nil {
					return err
				}
			}
			f, err := os.Open(args[0])
			if err != nil {
				return fmt.Errorf("open csv: %w", err)
			}
			defer f.Close()
			prog := newProgress(cmd.ErrOrStderr(), "csv "+args[0])
			sum, err := csvimport.Import(cmd.Context(), prog.appender(env.db), args[0], prog.reader(f, fileSize(f)),
				csvimport.Options{People: env.people, DefaultUser: csvUser, Pricer: env.catalog})
			prog.finish()
			printSummary(cmd.OutOrStdout(), "csv "+args[0], sum)
			return err
		},
	}
	csvCmd.Flags().StringVar(&csvUser, "user", "", "user of rows without a user column or value")

	cmd.AddCommand(claude, codexCmd,
		report("openai", "openai-usage", "Import an OpenAI organization usage report (/v1/organization/usage/completions)"),
		report("anthropic", "anthropic-usage", "Import an Anthropic organization usage report (/v1/organizations/usage_report/messages)"),
		csvCmd)
	return cmd
}
