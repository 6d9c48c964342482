package api_test

import (
	"context"
	"encoding/base64"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/signoff/signoff/errs"
	"github.com/signoff/signoff/storage"
)

// fullContent is campaign content using every part, in the order the API reads it back.
func fullContent() map[string]any {
	return map[string]any{
		"segments": []any{
			map[string]any{"name": "Europe", "filters": fullFilters()},
			map[string]any{"name": "Everyone", "filters": map[string]any{"titles": []any{}, "industries": []any{},
				"countries": []any{}, "company_size_min": nil, "company_size_max": nil, "keywords": []any{}}},
		},
		"prompts": []any{map[string]any{"name": "tone", "text": "Friendly and short."}},
		"ai_model_configs": []any{
			map[string]any{"step": "qualify", "provider": "local", "model": "rules-v1", "temperature": float64(0)},
			map[string]any{"step": "rewrite", "provider": "openai", "model": "gpt-4o-mini", "temperature": 0.7},
		},
		"sequences": []any{map[string]any{"name": "Main", "steps": []any{
			map[string]any{"subject": "Hi {{first_name}}", "body": "First paragraph.\n\nSecond paragraph.", "delay_days": float64(0)},
			map[string]any{"subject": "Following up", "body": "Any thoughts?", "delay_days": float64(3)},
		}}},
		"tracking_links": []any{map[string]any{"url": "https://acme.example/demo?utm=1", "label": "Demo"}},
	}
}

// otherContent differs from fullContent in every part and has fewer items.
func otherContent() map[string]any {
	return map[string]any{
		"segments": []any{map[string]any{"name": "US", "filters": map[string]any{"titles": []any{"CEO"}, "industries": []any{},
			"countries": []any{"US"}, "company_size_min": float64(1), "company_size_max": float64(1), "keywords": []any{}}}},
		"prompts":          []any{},
		"ai_model_configs": []any{map[string]any{"step": "personalise", "provider": "local", "model": "tmpl", "temperature": float64(2)}},
		"sequences": []any{
			map[string]any{"name": "A", "steps": []any{map[string]any{"subject": "S", "body": "B", "delay_days": float64(365)}}},
			map[string]any{"name": "B", "steps": []any{map[string]any{"subject": "S2", "body": "B2", "delay_days": float64(1)}}},
		},
		"tracking_links": []any{},
	}
}

func emptyContent() map[string]any {
	return map[string]any{"segments": []any{}, "prompts": []any{}, "ai_model_configs": []any{}, "sequences": []any{}, "tracking_links": []any{}}
}

// campaignState is everything stored about a campaign: its row and its content.
func campaignState(t *testing.T, e *env, accountID, id string) (string, storage.Campaign) {
	t.Helper()
	c, err := e.store.Campaign(context.Background(), accountID, id)
	require.NoError(t, err)
	return rowJSON(t, e.pool, "campaigns", id), c
}

func requireCampaignUnchanged(t *testing.T, e *env, accountID, id, wantRow string, want storage.Campaign) {
	t.Helper()
	row, c := campaignState(t, e, accountID, id)
	require.Equal(t, wantRow, row, "the campaign row must be unchanged")
	require.Equal(t, want, c, "the campaign and its content must be unchanged")
}

func TestCreateCampaign(t *testing.T) {
	t.Parallel()
	e := newEnv(t)

	t.Run("any role, defaults", func(t *testing.T) {
		for _, role := range roles {
			status, body := e.do(t, http.MethodPost, "/v1/campaigns", e.A.Tokens[role], map[string]any{"name": "  By " + role + " "})
			require.Equal(t, http.StatusCreated, status, "%v", body)
			require.Equal(t, "By "+role, body["name"])
			require.Equal(t, "campaign", body["kind"])
			require.Equal(t, "active", body["mode"])
			require.Equal(t, "draft", body["status"])
			require.Equal(t, "none", body["approval_status"])
			require.Equal(t, float64(1), body["version"])
			require.Nil(t, body["start_at"])
			require.Nil(t, body["end_at"])
			require.Equal(t, e.A.Users[role].ID, body["created_by"])
			require.Equal(t, e.A.Account.ID, body["account_id"])
			require.Equal(t, emptyContent(), body["content"])
			_, err := uuid.Parse(body["id"].(string))
			require.NoError(t, err)
			require.True(t, strings.HasSuffix(body["created_at"].(string), "Z"), "times are RFC 3339 UTC: %v", body["created_at"])

			status, got := e.do(t, http.MethodGet, "/v1/campaigns/"+body["id"].(string), e.A.Tokens[role], nil)
			require.Equal(t, http.StatusOK, status)
			require.Equal(t, body, got)
		}
	})

	t.Run("every field", func(t *testing.T) {
		status, body := e.do(t, http.MethodPost, "/v1/campaigns", e.A.Tokens[storage.RoleCollaborator], map[string]any{
			"name": "Spring launch", "kind": "journey", "mode": "test",
			"start_at": "2030-03-01T09:00:00+02:00", "end_at": "2030-03-31T18:00:00Z",
			"content": fullContent(),
		})
		require.Equal(t, http.StatusCreated, status, "%v", body)
		require.Equal(t, "journey", body["kind"])
		require.Equal(t, "test", body["mode"])
		require.Equal(t, "draft", body["status"])
		require.Equal(t, "2030-03-01T07:00:00Z", body["start_at"], "times are answered in UTC")
		require.Equal(t, "2030-03-31T18:00:00Z", body["end_at"])
		require.Equal(t, fullContent(), body["content"])

		status, got := e.do(t, http.MethodGet, "/v1/campaigns/"+body["id"].(string), e.A.Tokens[storage.RoleApprover], nil)
		require.Equal(t, http.StatusOK, status)
		require.Equal(t, body, got)
	})

	t.Run("invalid fields write nothing", func(t *testing.T) {
		withContent := func(part string, v any) map[string]any {
			c := fullContent()
			c[part] = v
			return map[string]any{"name": "C", "content": c}
		}
		seg := func(name string, filters map[string]any) []any {
			return []any{map[string]any{"name": name, "filters": filters}}
		}
		ai := func(cfgs ...map[string]any) []any {
			out := make([]any, len(cfgs))
			for i, c := range cfgs {
				out[i] = c
			}
			return out
		}
		seq := func(steps ...any) []any { return []any{map[string]any{"name": "S", "steps": steps}} }
		step := func(subject, body string, delay int) map[string]any {
			return map[string]any{"subject": subject, "body": body, "delay_days": delay}
		}
		cases := []struct {
			name  string
			body  any
			field string
		}{
			{"no name", map[string]any{}, "name"},
			{"blank name", map[string]any{"name": "  "}, "name"},
			{"long name", map[string]any{"name": strings.Repeat("n", 201)}, "name"},
			{"status given", map[string]any{"name": "C", "status": "ready"}, "status"},
			{"bad kind", map[string]any{"name": "C", "kind": "blog"}, "kind"},
			{"bad mode", map[string]any{"name": "C", "mode": "live"}, "mode"},
			{"end before start", map[string]any{"name": "C", "start_at": "2030-01-02T00:00:00Z", "end_at": "2030-01-01T00:00:00Z"}, "end_at"},
			{"end equals start", map[string]any{"name": "C", "start_at": "2030-01-02T00:00:00Z", "end_at": "2030-01-02T00:00:00Z"}, "end_at"},
			{"segment without name", withContent("segments", seg("", map[string]any{})), "content.segments[0].name"},
			{"segment filters min > max", withContent("segments", seg("S", map[string]any{"company_size_min": 10, "company_size_max": 5})), "content.segments[0].filters.company_size_max"},
			{"empty prompt text", withContent("prompts", []any{map[string]any{"name": "p", "text": ""}}), "content.prompts[0].text"},
			{"unknown ai step", withContent("ai_model_configs", ai(map[string]any{"step": "summarise", "provider": "local", "model": "m"})), "content.ai_model_configs[0].step"},
			{"duplicate ai step", withContent("ai_model_configs", ai(map[string]any{"step": "qualify", "provider": "local", "model": "m"}, map[string]any{"step": "qualify", "provider": "local", "model": "m"})), "content.ai_model_configs[1].step"},
			{"unknown provider", withContent("ai_model_configs", ai(map[string]any{"step": "qualify", "provider": "acme-ai", "model": "m"})), "content.ai_model_configs[0].provider"},
			{"no model", withContent("ai_model_configs", ai(map[string]any{"step": "qualify", "provider": "local"})), "content.ai_model_configs[0].model"},
			{"temperature too high", withContent("ai_model_configs", ai(map[string]any{"step": "qualify", "provider": "local", "model": "m", "temperature": 2.5})), "content.ai_model_configs[0].temperature"},
			{"sequence without steps", withContent("sequences", seq()), "content.sequences[0].steps"},
			{"step without subject", withContent("sequences", seq(step("S", "B", 0), step("", "B", 0))), "content.sequences[0].steps[1].subject"},
			{"step without body", withContent("sequences", seq(step("S", " ", 0))), "content.sequences[0].steps[0].body"},
			{"negative delay", withContent("sequences", seq(step("S", "B", -1))), "content.sequences[0].steps[0].delay_days"},
			{"delay over a year", withContent("sequences", seq(step("S", "B", 366))), "content.sequences[0].steps[0].delay_days"},
			{"link not http", withContent("tracking_links", []any{map[string]any{"url": "javascript:alert(1)", "label": "x"}}), "content.tracking_links[0].url"},
			{"relative link", withContent("tracking_links", []any{map[string]any{"url": "/demo"}}), "content.tracking_links[0].url"},
		}
		before := dbState(t, e.pool)
		for _, c := range cases {
			status, body := e.do(t, http.MethodPost, "/v1/campaigns", e.A.Tokens[storage.RoleAdmin], c.body)
			require.Equalf(t, http.StatusUnprocessableEntity, status, "%s: %v", c.name, body)
			requireInvalid(t, status, body, c.field)
		}
		requireNoWrites(t, e.pool, before)
	})

	t.Run("bad times are invalid fields", func(t *testing.T) {
		before := dbState(t, e.pool)
		for _, b := range []string{
			`{"name": "C", "start_at": "tomorrow"}`,
			`{"name": "C", "end_at": "2030-13-01T00:00:00Z"}`,
			`{"name": "C", "start_at": "2030-01-01"}`,
		} {
			status, body := e.do(t, http.MethodPost, "/v1/campaigns", e.A.Tokens[storage.RoleAdmin], b)
			require.Equalf(t, http.StatusUnprocessableEntity, status, "%s: %v", b, body)
			requireError(t, status, body, http.StatusUnprocessableEntity, string(errs.Validation))
		}
		requireNoWrites(t, e.pool, before)
	})
}

func TestGetCampaign(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	a := e.newCampaign(t, e.A, storage.RoleCollaborator, "Mine")
	b := e.newCampaign(t, e.B, storage.RoleAdmin, "Theirs")

	for _, role := range roles {
		var got storage.Campaign
		e.doJSON(t, http.StatusOK, http.MethodGet, "/v1/campaigns/"+a.ID, e.A.Tokens[role], nil, &got)
		require.Equal(t, a.ID, got.ID)
		require.Equal(t, "Mine", got.Name)
		require.NotNil(t, got.Content)
		require.Equal(t, a.Content.Segments, got.Content.Segments)
		require.Equal(t, a.Content.Sequences, got.Content.Sequences)
	}
	for _, id := range []string{b.ID, uuid.NewString(), "not-a-uuid", "1"} {
		status, body := e.do(t, http.MethodGet, "/v1/campaigns/"+id, e.A.Tokens[storage.RoleAdmin], nil)
		requireError(t, status, body, http.StatusNotFound, string(errs.NotFound))
	}
}

type campaignPage struct {
	Items      []storage.Campaign `json:"items"`
	NextCursor *string            `json:"next_cursor"`
}

func TestListCampaignsPagination(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	created := map[string]bool{}
	for i := 0; i < 25; i++ {
		created[e.newCampaign(t, e.A, roles[i%len(roles)], "C"+strconv.Itoa(i)).ID] = true
	}
	for i := 0; i < 3; i++ {
		e.newCampaign(t, e.B, storage.RoleAdmin, "B"+strconv.Itoa(i))
	}
	var wantOrder []string
	rows, err := e.pool.Query(ctx, `SELECT id::text FROM campaigns WHERE account_id = $1 ORDER BY created_at DESC, id DESC`, e.A.Account.ID)
	require.NoError(t, err)
	for rows.Next() {
		var id string
		require.NoError(t, rows.Scan(&id))
		wantOrder = append(wantOrder, id)
	}
	require.NoError(t, rows.Err())
	require.Len(t, wantOrder, 25)

	tok := e.A.Tokens[storage.RoleApprover]
	t.Run("limit 10 follows the cursor: 10, 10, 5", func(t *testing.T) {
		var got []string
		var sizes []int
		seen := map[string]bool{}
		var last time.Time
		p := "/v1/campaigns?limit=10"
		for page := 0; ; page++ {
			require.Less(t, page, 5, "pagination must end")
			var out campaignPage
			e.doJSON(t, http.StatusOK, http.MethodGet, p, tok, nil, &out)
			sizes = append(sizes, len(out.Items))
			for _, c := range out.Items {
				require.False(t, seen[c.ID], "duplicate %s", c.ID)
				seen[c.ID] = true
				require.True(t, created[c.ID], "campaign %s is not account A's", c.ID)
				if !last.IsZero() {
					require.False(t, c.CreatedAt.After(last), "newest first")
				}
				last = c.CreatedAt
				got = append(got, c.ID)
			}
			if out.NextCursor == nil {
				break
			}
			require.NotEmpty(t, *out.NextCursor)
			p = "/v1/campaigns?limit=10&cursor=" + *out.NextCursor
		}
		require.Equal(t, []int{10, 10, 5}, sizes)
		require.Equal(t, wantOrder, got)
	})

	t.Run("the newest comes first", func(t *testing.T) {
		newest := e.newCampaign(t, e.A, storage.RoleAdmin, "Newest")
		t.Cleanup(func() { _ = e.store.DeleteCampaign(ctx, e.A.Account.ID, newest.ID) })
		var out campaignPage
		e.doJSON(t, http.StatusOK, http.MethodGet, "/v1/campaigns?limit=1", tok, nil, &out)
		require.Len(t, out.Items, 1)
		require.Equal(t, newest.ID, out.Items[0].ID)
	})

	t.Run("default limit is 20", func(t *testing.T) {
		var out campaignPage
		e.doJSON(t, http.StatusOK, http.MethodGet, "/v1/campaigns", tok, nil, &out)
		require.Len(t, out.Items, 20)
		require.NotNil(t, out.NextCursor)
		var rest campaignPage
		e.doJSON(t, http.StatusOK, http.MethodGet, "/v1/campaigns?cursor="+*out.NextCursor, tok, nil, &rest)
		require.Len(t, rest.Items, 5)
		require.Nil(t, rest.NextCursor)
	})

	t.Run("an exact fit has no next page", func(t *testing.T) {
		rec := e.request(t, http.MethodGet, "/v1/campaigns?limit=25", tok, nil)
		require.Equal(t, http.StatusOK, rec.Code)
		body := decodeObject(t, rec)
		require.Contains(t, body, "next_cursor")
		require.Nil(t, body["next_cursor"])
		require.Len(t, body["items"], 25)

		var out campaignPage
		e.doJSON(t, http.StatusOK, http.MethodGet, "/v1/campaigns?limit=24", tok, nil, &out)
		require.Len(t, out.Items, 24)
		require.NotNil(t, out.NextCursor)
		e.doJSON(t, http.StatusOK, http.MethodGet, "/v1/campaigns?limit=24&cursor="+*out.NextCursor, tok, nil, &out)
		require.Len(t, out.Items, 1)
		require.Equal(t, wantOrder[24], out.Items[0].ID)
		require.Nil(t, out.NextCursor)
	})

	t.Run("account B sees only its own", func(t *testing.T) {
		var out campaignPage
		e.doJSON(t, http.StatusOK, http.MethodGet, "/v1/campaigns?limit=100", e.B.Tokens[storage.RoleCSM], nil, &out)
		require.Len(t, out.Items, 3)
		for _, c := range out.Items {
			require.Equal(t, e.B.Account.ID, c.AccountID)
		}
	})

	t.Run("bad limit and cursor", func(t *testing.T) {
		for _, q := range []string{"limit=0", "limit=-1", "limit=101", "limit=abc", "limit=1.5"} {
			status, body := e.do(t, http.MethodGet, "/v1/campaigns?"+q, tok, nil)
			requireInvalid(t, status, body, "limit")
		}
		enc := func(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }
		for _, cur := range []string{"!!!", "abc", enc("no separator"), enc("yesterday|" + uuid.NewString()),
			enc(time.Now().UTC().Format(time.RFC3339Nano) + "|not-a-uuid"), "%00"} {
			status, body := e.do(t, http.MethodGet, "/v1/campaigns?limit=10&cursor="+cur, tok, nil)
			requireInvalid(t, status, body, "cursor")
		}
	})
}

func TestHiddenCampaigns(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	visible1 := e.newCampaign(t, e.A, storage.RoleAdmin, "Visible 1")
	hidden := e.hiddenCopy(t, e.A, visible1)
	visible2 := e.newCampaign(t, e.A, storage.RoleAdmin, "Visible 2")
	tok := e.A.Tokens[storage.RoleAdmin]

	var out campaignPage
	e.doJSON(t, http.StatusOK, http.MethodGet, "/v1/campaigns", tok, nil, &out)
	require.Len(t, out.Items, 2)
	require.Equal(t, []string{visible2.ID, visible1.ID}, []string{out.Items[0].ID, out.Items[1].ID})

	// Page by page too.
	var ids []string
	p := "/v1/campaigns?limit=1"
	for i := 0; i < 4; i++ {
		var page campaignPage
		e.doJSON(t, http.StatusOK, http.MethodGet, p, tok, nil, &page)
		for _, c := range page.Items {
			ids = append(ids, c.ID)
		}
		if page.NextCursor == nil {
			break
		}
		p = "/v1/campaigns?limit=1&cursor=" + *page.NextCursor
	}
	require.Equal(t, []string{visible2.ID, visible1.ID}, ids)

	status, body := e.do(t, http.MethodGet, "/v1/campaigns/"+hidden, tok, nil)
	requireError(t, status, body, http.StatusNotFound, string(errs.NotFound))

	row, state := campaignState(t, e, e.A.Account.ID, hidden)
	before := dbState(t, e.pool)
	status, body = e.do(t, http.MethodPatch, "/v1/campaigns/"+hidden, tok, map[string]any{"name": "Renamed", "content": otherContent()})
	requireError(t, status, body, http.StatusNotFound, string(errs.NotFound))
	status, body = e.do(t, http.MethodDelete, "/v1/campaigns/"+hidden, tok, nil)
	requireError(t, status, body, http.StatusNotFound, string(errs.NotFound))
	requireNoWrites(t, e.pool, before)
	requireCampaignUnchanged(t, e, e.A.Account.ID, hidden, row, state)
}

func TestUpdateCampaignPermissions(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	creator := e.A.Users[storage.RoleCollaborator]
	_, otherCollab := e.newUser(t, e.A.Account.ID, "collaborator-2@a.test", storage.RoleCollaborator)
	camp := e.newCampaign(t, e.A, storage.RoleCollaborator, "Collaborator's")
	require.Equal(t, creator.ID, camp.CreatedBy)

	for _, role := range []string{storage.RoleAdmin, storage.RoleEditor, storage.RoleCSM, storage.RoleCollaborator} {
		status, body := e.do(t, http.MethodPatch, "/v1/campaigns/"+camp.ID, e.A.Tokens[role], map[string]any{"name": "Renamed by " + role})
		require.Equal(t, http.StatusOK, status, "%s: %v", role, body)
		require.Equal(t, "Renamed by "+role, body["name"])
		require.Equal(t, creator.ID, body["created_by"], "editing does not change the creator")
	}

	row, state := campaignState(t, e, e.A.Account.ID, camp.ID)
	before := dbState(t, e.pool)
	for name, tok := range map[string]string{"approver": e.A.Tokens[storage.RoleApprover], "another collaborator": otherCollab} {
		status, body := e.do(t, http.MethodPatch, "/v1/campaigns/"+camp.ID, tok, map[string]any{"name": "Hijacked", "status": "ready"})
		require.Equalf(t, http.StatusForbidden, status, "%s: %v", name, body)
		requireError(t, status, body, http.StatusForbidden, string(errs.Forbidden))
	}
	requireNoWrites(t, e.pool, before)
	requireCampaignUnchanged(t, e, e.A.Account.ID, camp.ID, row, state)

	// A collaborator may not edit a campaign someone else created.
	adminCamp := e.newCampaign(t, e.A, storage.RoleAdmin, "Admin's")
	status, body := e.do(t, http.MethodPatch, "/v1/campaigns/"+adminCamp.ID, e.A.Tokens[storage.RoleCollaborator], map[string]any{"name": "Mine now"})
	requireError(t, status, body, http.StatusForbidden, string(errs.Forbidden))
}

func TestUpdateCampaignOtherAccount(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	b := e.newCampaign(t, e.B, storage.RoleAdmin, "B's campaign")
	row, state := campaignState(t, e, e.B.Account.ID, b.ID)
	before := dbState(t, e.pool)

	for _, role := range roles {
		tok := e.A.Tokens[role]
		status, body := e.do(t, http.MethodGet, "/v1/campaigns/"+b.ID, tok, nil)
		requireError(t, status, body, http.StatusNotFound, string(errs.NotFound))
		status, body = e.do(t, http.MethodPatch, "/v1/campaigns/"+b.ID, tok, map[string]any{"name": "Stolen", "content": otherContent()})
		requireError(t, status, body, http.StatusNotFound, string(errs.NotFound))
		status, body = e.do(t, http.MethodDelete, "/v1/campaigns/"+b.ID, tok, nil)
		requireError(t, status, body, http.StatusNotFound, string(errs.NotFound))
	}
	for _, id := range []string{uuid.NewString(), "not-a-uuid"} {
		status, body := e.do(t, http.MethodPatch, "/v1/campaigns/"+id, e.A.Tokens[storage.RoleAdmin], map[string]any{"name": "X"})
		requireError(t, status, body, http.StatusNotFound, string(errs.NotFound))
		status, body = e.do(t, http.MethodDelete, "/v1/campaigns/"+id, e.A.Tokens[storage.RoleAdmin], nil)
		requireError(t, status, body, http.StatusNotFound, string(errs.NotFound))
	}
	requireNoWrites(t, e.pool, before)
	requireCampaignUnchanged(t, e, e.B.Account.ID, b.ID, row, state)
}

func TestUpdateCampaignFields(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	tok := e.A.Tokens[storage.RoleEditor]
	status, created := e.do(t, http.MethodPost, "/v1/campaigns", tok, map[string]any{"name": "Editable", "content": fullContent()})
	require.Equal(t, http.StatusCreated, status, "%v", created)
	id := created["id"].(string)
	p := "/v1/campaigns/" + id

	t.Run("status draft, ready, error", func(t *testing.T) {
		for _, st := range []string{"ready", "error", "draft"} {
			status, body := e.do(t, http.MethodPatch, p, tok, map[string]any{"status": st})
			require.Equal(t, http.StatusOK, status, "%v", body)
			require.Equal(t, st, body["status"])
		}
	})

	t.Run("other statuses are refused", func(t *testing.T) {
		row, state := campaignState(t, e, e.A.Account.ID, id)
		before := dbState(t, e.pool)
		for _, st := range []string{"scheduled", "live", "ended", "Draft", "", "approved"} {
			status, body := e.do(t, http.MethodPatch, p, e.A.Tokens[storage.RoleAdmin], map[string]any{"status": st, "name": "Sneaky"})
			requireInvalid(t, status, body, "status")
		}
		requireNoWrites(t, e.pool, before)
		requireCampaignUnchanged(t, e, e.A.Account.ID, id, row, state)
	})

	t.Run("name, kind and mode", func(t *testing.T) {
		status, body := e.do(t, http.MethodPatch, p, tok, map[string]any{"name": " New name ", "kind": "journey", "mode": "passive"})
		require.Equal(t, http.StatusOK, status, "%v", body)
		require.Equal(t, "New name", body["name"])
		require.Equal(t, "journey", body["kind"])
		require.Equal(t, "passive", body["mode"])
		require.Equal(t, fullContent(), body["content"], "content not sent is unchanged")
	})

	t.Run("start_at and end_at", func(t *testing.T) {
		status, body := e.do(t, http.MethodPatch, p, tok, map[string]any{"start_at": "2030-05-01T08:00:00Z", "end_at": "2030-05-10T08:00:00Z"})
		require.Equal(t, http.StatusOK, status, "%v", body)
		require.Equal(t, "2030-05-01T08:00:00Z", body["start_at"])
		require.Equal(t, "2030-05-10T08:00:00Z", body["end_at"])

		// Omitting start_at leaves it unchanged.
		status, body = e.do(t, http.MethodPatch, p, tok, map[string]any{"end_at": "2030-06-01T00:00:00Z"})
		require.Equal(t, http.StatusOK, status, "%v", body)
		require.Equal(t, "2030-05-01T08:00:00Z", body["start_at"])
		require.Equal(t, "2030-06-01T00:00:00Z", body["end_at"])
		status, body = e.do(t, http.MethodPatch, p, tok, map[string]any{"name": "Still scheduled"})
		require.Equal(t, http.StatusOK, status, "%v", body)
		require.Equal(t, "2030-05-01T08:00:00Z", body["start_at"])

		// Windows that end before they start are refused, against the stored values too.
		row, state := campaignState(t, e, e.A.Account.ID, id)
		before := dbState(t, e.pool)
		for _, b := range []map[string]any{
			{"end_at": "2030-04-30T00:00:00Z"},
			{"end_at": "2030-05-01T08:00:00Z"},
			{"start_at": "2030-07-01T00:00:00Z"},
			{"start_at": "2030-05-02T00:00:00Z", "end_at": "2030-05-01T00:00:00Z"},
			{"start_at": "2030-05-02T00:00:00Z", "end_at": "2030-05-01T00:00:00Z", "name": "Also not renamed"},
		} {
			status, body := e.do(t, http.MethodPatch, p, tok, b)
			requireInvalid(t, status, body, "end_at")
		}
		requireNoWrites(t, e.pool, before)
		requireCampaignUnchanged(t, e, e.A.Account.ID, id, row, state)

		// start_at: null clears it (meaning "now"); end_at stays.
		status, body = e.do(t, http.MethodPatch, p, tok, map[string]any{"start_at": nil})
		require.Equal(t, http.StatusOK, status, "%v", body)
		require.Contains(t, body, "start_at")
		require.Nil(t, body["start_at"])
		require.Equal(t, "2030-06-01T00:00:00Z", body["end_at"])
		status, body = e.do(t, http.MethodGet, p, tok, nil)
		require.Equal(t, http.StatusOK, status)
		require.Nil(t, body["start_at"])
		require.Equal(t, "2030-06-01T00:00:00Z", body["end_at"])

		status, body = e.do(t, http.MethodPatch, p, tok, map[string]any{"end_at": nil})
		require.Equal(t, http.StatusOK, status, "%v", body)
		require.Nil(t, body["end_at"])
	})

	t.Run("content is replaced wholesale", func(t *testing.T) {
		status, body := e.do(t, http.MethodPatch, p, tok, map[string]any{"content": otherContent()})
		require.Equal(t, http.StatusOK, status, "%v", body)
		require.Equal(t, otherContent(), body["content"])
		status, got := e.do(t, http.MethodGet, p, e.A.Tokens[storage.RoleApprover], nil)
		require.Equal(t, http.StatusOK, status)
		require.Equal(t, otherContent(), got["content"])

		ctx := context.Background()
		var segments, prompts, ais, seqs, steps, links int
		require.NoError(t, e.pool.QueryRow(ctx, `SELECT
			(SELECT count(*) FROM campaign_segments WHERE campaign_id = $1),
			(SELECT count(*) FROM campaign_prompts WHERE campaign_id = $1),
			(SELECT count(*) FROM campaign_ai_model_configs WHERE campaign_id = $1),
			(SELECT count(*) FROM campaign_sequences WHERE campaign_id = $1),
			(SELECT count(*) FROM campaign_sequence_steps st JOIN campaign_sequences s ON s.id = st.sequence_id WHERE s.campaign_id = $1),
			(SELECT count(*) FROM campaign_tracking_links WHERE campaign_id = $1)`, id).
			Scan(&segments, &prompts, &ais, &seqs, &steps, &links))
		require.Equal(t, []int{1, 0, 1, 2, 2, 0}, []int{segments, prompts, ais, seqs, steps, links}, "no leftovers of the old content")

		// An empty object clears every part.
		status, body = e.do(t, http.MethodPatch, p, tok, map[string]any{"content": map[string]any{}})
		require.Equal(t, http.StatusOK, status, "%v", body)
		require.Equal(t, emptyContent(), body["content"])

		// And back to the full content.
		status, body = e.do(t, http.MethodPatch, p, tok, map[string]any{"content": fullContent()})
		require.Equal(t, http.StatusOK, status, "%v", body)
		require.Equal(t, fullContent(), body["content"])
		status, got = e.do(t, http.MethodGet, p, tok, nil)
		require.Equal(t, http.StatusOK, status)
		require.Equal(t, fullContent(), got["content"])
	})

	t.Run("invalid edits change nothing", func(t *testing.T) {
		bad := otherContent()
		bad["tracking_links"] = []any{map[string]any{"url": "ftp://acme.example/x"}}
		badSeg := otherContent()
		badSeg["segments"] = []any{map[string]any{"name": "S", "filters": map[string]any{"company_size_min": -3}}}
		row, state := campaignState(t, e, e.A.Account.ID, id)
		before := dbState(t, e.pool)
		for _, c := range []struct {
			body  any
			field string
		}{
			{map[string]any{"name": ""}, "name"},
			{map[string]any{"name": strings.Repeat("x", 201)}, "name"},
			{map[string]any{"kind": "newsletter"}, "kind"},
			{map[string]any{"mode": "loud", "name": "Renamed"}, "mode"},
			{map[string]any{"content": bad}, "content.tracking_links[0].url"},
			{map[string]any{"content": badSeg, "name": "Renamed"}, "content.segments[0].filters.company_size_min"},
			{map[string]any{"version": 7}, "version"},
			{map[string]any{"approval_status": "approved"}, "approval_status"},
		} {
			status, body := e.do(t, http.MethodPatch, p, tok, c.body)
			requireInvalid(t, status, body, c.field)
		}
		requireNoWrites(t, e.pool, before)
		requireCampaignUnchanged(t, e, e.A.Account.ID, id, row, state)
	})
}

func TestDeleteCampaign(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	_, otherCollab := e.newUser(t, e.A.Account.ID, "collaborator-2@a.test", storage.RoleCollaborator)

	t.Run("editors of it delete", func(t *testing.T) {
		for _, role := range []string{storage.RoleAdmin, storage.RoleEditor, storage.RoleCSM, storage.RoleCollaborator} {
			c := e.newCampaign(t, e.A, storage.RoleCollaborator, "Delete me")
			rec := e.request(t, http.MethodDelete, "/v1/campaigns/"+c.ID, e.A.Tokens[role], nil)
			require.Equal(t, http.StatusNoContent, rec.Code, "%s: %s", role, rec.Body.String())
			require.Empty(t, rec.Body.String())

			status, body := e.do(t, http.MethodGet, "/v1/campaigns/"+c.ID, e.A.Tokens[role], nil)
			requireError(t, status, body, http.StatusNotFound, string(errs.NotFound))
			var n int
			require.NoError(t, e.pool.QueryRow(ctx, `SELECT
				(SELECT count(*) FROM campaigns WHERE id = $1) + (SELECT count(*) FROM campaign_segments WHERE campaign_id = $1) +
				(SELECT count(*) FROM campaign_prompts WHERE campaign_id = $1) + (SELECT count(*) FROM campaign_sequences WHERE campaign_id = $1)`,
				c.ID).Scan(&n))
			require.Zero(t, n, "the campaign and its content are gone")

			status, body = e.do(t, http.MethodDelete, "/v1/campaigns/"+c.ID, e.A.Tokens[role], nil)
			requireError(t, status, body, http.StatusNotFound, string(errs.NotFound))
		}
	})

	t.Run("others may not", func(t *testing.T) {
		c := e.newCampaign(t, e.A, storage.RoleCollaborator, "Keep me")
		row, state := campaignState(t, e, e.A.Account.ID, c.ID)
		before := dbState(t, e.pool)
		for _, tok := range []string{e.A.Tokens[storage.RoleApprover], otherCollab} {
			status, body := e.do(t, http.MethodDelete, "/v1/campaigns/"+c.ID, tok, nil)
			requireError(t, status, body, http.StatusForbidden, string(errs.Forbidden))
		}
		requireNoWrites(t, e.pool, before)
		requireCampaignUnchanged(t, e, e.A.Account.ID, c.ID, row, state)
	})

	t.Run("scheduled or live campaigns stay", func(t *testing.T) {
		for _, st := range []string{storage.CampaignStatusScheduled, storage.CampaignStatusLive} {
			c := e.newCampaign(t, e.A, storage.RoleAdmin, "Launched")
			e.fx.SetCampaignStatus(t, c.ID, st)
			before := dbState(t, e.pool)
			status, body := e.do(t, http.MethodDelete, "/v1/campaigns/"+c.ID, e.A.Tokens[storage.RoleAdmin], nil)
			requireError(t, status, body, http.StatusConflict, "campaign_launched")
			requireNoWrites(t, e.pool, before)
		}
	})
}

// TestCampaignTimesOfWrongJSONType: a start_at or end_at that is well-formed JSON of the wrong type
// (a number, a boolean, an object) is an invalid field, 422, as a wrongly typed name or content is;
// 400 is for bodies that are not JSON (SPEC §10). Nothing is written either way.
func TestCampaignTimesOfWrongJSONType(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	tok := e.A.Tokens[storage.RoleAdmin]
	camp := e.newCampaign(t, e.A, storage.RoleAdmin, "Target")
	row, state := campaignState(t, e, e.A.Account.ID, camp.ID)
	before := dbState(t, e.pool)

	// For comparison: a wrongly typed name is a 422 naming it.
	status, body := e.do(t, http.MethodPost, "/v1/campaigns", tok, `{"name": 1735689600}`)
	requireInvalid(t, status, body, "name")

	for _, c := range []struct{ method, path, body string }{
		{http.MethodPost, "/v1/campaigns", `{"name": "C", "start_at": 1735689600}`},
		{http.MethodPost, "/v1/campaigns", `{"name": "C", "end_at": true}`},
		{http.MethodPatch, "/v1/campaigns/" + camp.ID, `{"start_at": 12}`},
		{http.MethodPatch, "/v1/campaigns/" + camp.ID, `{"end_at": {"at": "2030-01-01T00:00:00Z"}}`},
	} {
		status, body := e.do(t, c.method, c.path, tok, c.body)
		if assert.Equalf(t, http.StatusUnprocessableEntity, status, "%s %s %s: %v", c.method, c.path, c.body, body) {
			requireError(t, status, body, http.StatusUnprocessableEntity, string(errs.Validation))
		}
	}
	requireNoWrites(t, e.pool, before)
	requireCampaignUnchanged(t, e, e.A.Account.ID, camp.ID, row, state)
}
