package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"go.uber.org/zap"

	"github.com/signoff/signoff/config"
	"github.com/signoff/signoff/demodata"
	"github.com/signoff/signoff/localenv"
	"github.com/signoff/signoff/schema"
	"github.com/signoff/signoff/storage"
)

// demoUsers are the users `signoff dev` makes, one per role; the admin is the bootstrap admin.
var demoUsers = []storage.NewUser{
	{Email: "editor@signoff.local", Name: "Eddie Editor", Role: storage.RoleEditor, CanApprove: true},
	{Email: "collaborator@signoff.local", Name: "Cara Collaborator", Role: storage.RoleCollaborator},
	{Email: "approver@signoff.local", Name: "Avery Approver", Role: storage.RoleApprover},
	{Email: "csm@signoff.local", Name: "Sam CSM", Role: storage.RoleCSM},
}

// devContactCount is the size of the demo people directory.
const devContactCount = 5000

// devSecrets are the credentials `signoff dev` keeps under the data directory so a second run
// prints the same tokens.
type devSecrets struct {
	BootstrapToken string            `json:"bootstrap_token"`
	OperatorToken  string            `json:"operator_token"`
	SecretKey      string            `json:"secret_key"`
	DemoTokens     map[string]string `json:"demo_tokens"`
}

func loadSecrets(path string) (devSecrets, error) {
	var s devSecrets
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return devSecrets{DemoTokens: map[string]string{}}, nil
	}
	if err != nil {
		return s, err
	}
	if err := json.Unmarshal(b, &s); err != nil {
		return s, fmt.Errorf("%s: %w", path, err)
	}
	if s.DemoTokens == nil {
		s.DemoTokens = map[string]string{}
	}
	return s, nil
}

func saveSecrets(path string, s devSecrets) error {
	b, _ := json.MarshalIndent(s, "", "  ")
	return os.WriteFile(path, b, 0o600)
}

// runDev brings up everything on one machine: Postgres and the Temporal dev server when absent,
// migrations, search attributes, demo data, then worker and API until Ctrl-C.
func runDev(ctx context.Context, cfg config.Config, log *zap.Logger) error {
	if err := os.MkdirAll(cfg.DataDir, 0o755); err != nil {
		return err
	}
	secretsPath := filepath.Join(cfg.DataDir, "dev-secrets.json")
	secrets, err := loadSecrets(secretsPath)
	if err != nil {
		return err
	}
	fillSecrets(&cfg, &secrets)
	if err := saveSecrets(secretsPath, secrets); err != nil {
		return err
	}

	if cfg.DatabaseURL == "" {
		pg, err := localenv.StartPostgres(ctx, localenv.PostgresOptions{Dir: filepath.Join(cfg.DataDir, "postgres"), Durable: true}, log)
		if err != nil {
			return err
		}
		defer func() {
			if err := pg.Stop(context.Background()); err != nil {
				log.Warn("stopping postgres", zap.Error(err))
			}
		}()
		cfg.DatabaseURL = pg.URL
	}
	uiURL := temporalUIURL(cfg.TemporalAddress)
	if !localenv.Answers(cfg.TemporalAddress) {
		dbFile, _ := filepath.Abs(filepath.Join(cfg.DataDir, "temporal.db"))
		t, err := localenv.StartTemporal(ctx, localenv.TemporalOptions{
			CLI: cfg.TemporalCLI, Address: cfg.TemporalAddress, DBFile: dbFile,
			LogFile: filepath.Join(cfg.DataDir, "temporal.log"),
		}, log)
		if err != nil {
			return err
		}
		defer t.Stop()
		uiURL = t.UIURL
	}

	svc, err := connectAll(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer svc.close()
	if _, err := schema.Migrate(ctx, svc.pool); err != nil {
		return err
	}
	if err := setupTemporal(ctx, cfg, svc.temporal, log); err != nil {
		return err
	}
	if err := bootstrap(ctx, cfg, svc.store, log); err != nil {
		return err
	}
	tokens, err := seedDemo(ctx, svc.store, &secrets, log)
	if err != nil {
		return err
	}
	if err := saveSecrets(secretsPath, secrets); err != nil {
		return err
	}

	errc := make(chan error, 1)
	go func() { errc <- runBoth(ctx, cfg, svc, log) }()
	if err := waitHealthy(ctx, cfg.HTTPAddr, errc); err != nil {
		return err
	}
	tokens = append([][2]string{{"admin", cfg.BootstrapToken}}, tokens...)
	printBanner(cfg, uiURL, svc.metricsURL(), tokens)
	return <-errc
}

func temporalUIURL(address string) string {
	host, port, err := net.SplitHostPort(address)
	if err != nil {
		return ""
	}
	p, _ := strconv.Atoi(port)
	return "http://" + net.JoinHostPort(host, strconv.Itoa(p+1000))
}

func waitHealthy(ctx context.Context, addr string, errc chan error) error {
	for i := 0; i < 100; i++ {
		resp, err := http.Get("http://" + addr + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case err := <-errc:
			return err
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
	return fmt.Errorf("the API did not answer at %s", addr)
}

// seedDemo makes the demo users, directory, saved searches and campaigns once, and returns a
// usable token per demo role.
func seedDemo(ctx context.Context, store *storage.Store, secrets *devSecrets, log *zap.Logger) ([][2]string, error) {
	acct, err := store.AccountByName(ctx, "default")
	if err != nil {
		return nil, err
	}
	admin, err := store.UserByEmail(ctx, acct.ID, "admin@signoff.local")
	if err != nil {
		return nil, err
	}
	var out [][2]string
	for _, du := range demoUsers {
		u, err := store.UserByEmail(ctx, acct.ID, du.Email)
		tok := secrets.DemoTokens[du.Email]
		switch {
		case errors.Is(err, storage.ErrNotFound):
			var hash []byte
			tok, hash = storage.NewToken()
			if u, err = store.CreateUser(ctx, acct.ID, du, hash); err != nil {
				return nil, err
			}
		case err != nil:
			return nil, err
		default:
			holder, terr := store.UserByTokenHash(ctx, storage.HashToken(tok))
			if tok == "" || terr != nil || holder.ID != u.ID {
				var hash []byte
				tok, hash = storage.NewToken()
				if err := store.AddToken(ctx, acct.ID, u.ID, hash); err != nil {
					return nil, err
				}
			}
		}
		secrets.DemoTokens[du.Email] = tok
		out = append(out, [2]string{u.Role, tok})
	}
	n, err := store.CountContacts(ctx, acct.ID)
	if err != nil {
		return nil, err
	}
	if n == 0 {
		people := demodata.Contacts(devContactCount)
		for i := 0; i < len(people); i += 1000 {
			if _, err := store.InsertContacts(ctx, acct.ID, people[i:min(i+1000, len(people))]); err != nil {
				return nil, err
			}
		}
		for _, ss := range demodata.SavedSearches() {
			if _, err := store.CreateSavedSearch(ctx, acct.ID, admin.ID, ss.Name, ss.Filters); err != nil {
				return nil, err
			}
		}
		collab, err := store.UserByEmail(ctx, acct.ID, "collaborator@signoff.local")
		if err != nil {
			return nil, err
		}
		for _, c := range demodata.Campaigns(time.Now().UTC()) {
			if _, err := store.CreateCampaign(ctx, acct.ID, collab.ID, c); err != nil {
				return nil, err
			}
		}
		log.Info("demo data loaded", zap.Int("contacts", len(people)))
	}
	return out, nil
}

func printBanner(cfg config.Config, uiURL, metricsURL string, tokens [][2]string) {
	apiURL := "http://" + cfg.HTTPAddr
	fmt.Printf("\nSignoff is running. Press Ctrl-C to stop everything it started.\n\n")
	fmt.Printf("  API          %s   (OpenAPI document: %s/openapi.yaml)\n", apiURL, apiURL)
	fmt.Printf("  Metrics      %s   (and /healthz, /readyz there)\n", metricsURL)
	fmt.Printf("  Temporal UI  %s\n", uiURL)
	fmt.Printf("  Temporal     %s (namespace %s, task queue %s)\n", cfg.TemporalAddress, cfg.TemporalNamespace, cfg.TaskQueue)
	fmt.Printf("  Postgres     %s\n\n", cfg.DatabaseURL)
	fmt.Printf("  Demo tokens, account \"default\" (Authorization: Bearer <token>):\n")
	for _, t := range tokens {
		fmt.Printf("    %-13s %s\n", t[0], t[1])
	}
	fmt.Printf("    %-13s %s   (POST /v1/operator/accounts only)\n\n", "operator", cfg.OperatorToken)
	fmt.Printf("  Try:  curl -s -H 'Authorization: Bearer %s' %s/v1/campaigns\n\n", tokens[0][1], apiURL)
}
