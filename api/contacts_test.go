package api_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/signoff/signoff/errs"
	"github.com/signoff/signoff/storage"
)

func contact(first, last, email string) map[string]any {
	return map[string]any{"first_name": first, "last_name": last, "email": email}
}

func contactsBody(items ...map[string]any) map[string]any {
	list := make([]any, len(items))
	for i, it := range items {
		list[i] = it
	}
	return map[string]any{"items": list}
}

func manyContacts(n int, prefix string) map[string]any {
	items := make([]map[string]any, n)
	for i := range items {
		items[i] = contact("First", "Last", fmt.Sprintf("%s-%d@example.com", prefix, i))
	}
	return contactsBody(items...)
}

func countContacts(t *testing.T, e *env, accountID string) int {
	t.Helper()
	n, err := e.store.CountContacts(context.Background(), accountID)
	require.NoError(t, err)
	return n
}

func TestCreateContacts(t *testing.T) {
	t.Parallel()
	e := newEnv(t)

	t.Run("admin and csm insert", func(t *testing.T) {
		size := 250
		full := map[string]any{"first_name": " Ana ", "last_name": " Lopez ", "email": " ana@acme.example ",
			"title": "CTO", "company_name": "Acme", "domain": " ACME.example ", "industry": "Software",
			"country": "ES", "company_size": size}
		status, body := e.do(t, http.MethodPost, "/v1/contacts", e.A.Tokens[storage.RoleAdmin],
			contactsBody(full, contact("Bo", "Berg", "bo@acme.example")))
		require.Equal(t, http.StatusOK, status, "%v", body)
		require.Equal(t, map[string]any{"inserted": float64(2)}, body)

		var first, last, email, domain, title string
		var gotSize *int
		require.NoError(t, e.pool.QueryRow(context.Background(), `SELECT first_name, last_name, email, domain, title, company_size
			FROM contacts WHERE account_id = $1 AND email = 'ana@acme.example'`, e.A.Account.ID).
			Scan(&first, &last, &email, &domain, &title, &gotSize))
		require.Equal(t, []string{"Ana", "Lopez", "ana@acme.example", "acme.example", "CTO"}, []string{first, last, email, domain, title})
		require.NotNil(t, gotSize)
		require.Equal(t, size, *gotSize)

		status, body = e.do(t, http.MethodPost, "/v1/contacts", e.A.Tokens[storage.RoleCSM],
			contactsBody(contact("Cy", "Chan", "cy@acme.example")))
		require.Equal(t, http.StatusOK, status, "%v", body)
		require.Equal(t, float64(1), body["inserted"])
		require.Equal(t, 3, countContacts(t, e, e.A.Account.ID))
		require.Equal(t, 0, countContacts(t, e, e.B.Account.ID))
	})

	t.Run("duplicates are skipped", func(t *testing.T) {
		before := countContacts(t, e, e.A.Account.ID)
		// bo@ exists already (in another case); dee@ twice in the same request; no-email people are never duplicates.
		status, body := e.do(t, http.MethodPost, "/v1/contacts", e.A.Tokens[storage.RoleCSM], contactsBody(
			contact("Bo", "Berg", "BO@acme.example"),
			contact("Dee", "Dunn", "dee@acme.example"),
			contact("Dee", "Dunn", "Dee@Acme.example"),
			contact("No", "Mail", ""),
			contact("No", "Mail", ""),
		))
		require.Equal(t, http.StatusOK, status, "%v", body)
		require.Equal(t, float64(3), body["inserted"])
		require.Equal(t, before+3, countContacts(t, e, e.A.Account.ID))

		// Sending the same again inserts only the people without email.
		status, body = e.do(t, http.MethodPost, "/v1/contacts", e.A.Tokens[storage.RoleCSM],
			contactsBody(contact("Dee", "Dunn", "dee@acme.example"), contact("Cy", "Chan", "cy@acme.example")))
		require.Equal(t, http.StatusOK, status, "%v", body)
		require.Equal(t, float64(0), body["inserted"])
		require.Equal(t, before+3, countContacts(t, e, e.A.Account.ID))

		// The same emails are new in account B.
		status, body = e.do(t, http.MethodPost, "/v1/contacts", e.B.Tokens[storage.RoleAdmin],
			contactsBody(contact("Dee", "Dunn", "dee@acme.example"), contact("Cy", "Chan", "cy@acme.example")))
		require.Equal(t, http.StatusOK, status, "%v", body)
		require.Equal(t, float64(2), body["inserted"])
	})

	t.Run("exactly 1000 items", func(t *testing.T) {
		status, body := e.do(t, http.MethodPost, "/v1/contacts", e.A.Tokens[storage.RoleAdmin], manyContacts(1000, "bulk"))
		require.Equal(t, http.StatusOK, status, "%v", body)
		require.Equal(t, float64(1000), body["inserted"])
	})

	t.Run("other roles are forbidden", func(t *testing.T) {
		before := dbState(t, e.pool)
		for _, role := range []string{storage.RoleEditor, storage.RoleCollaborator, storage.RoleApprover} {
			status, body := e.do(t, http.MethodPost, "/v1/contacts", e.A.Tokens[role], contactsBody(contact("X", "Y", "xy-"+role+"@acme.example")))
			requireError(t, status, body, http.StatusForbidden, string(errs.Forbidden))
		}
		requireNoWrites(t, e.pool, before)
	})

	t.Run("invalid bodies insert nothing", func(t *testing.T) {
		ok := contact("Ok", "Person", "ok-person@acme.example")
		long := strings.Repeat("x", 201)
		cases := []struct {
			name  string
			body  any
			field string
		}{
			{"no items key", map[string]any{}, "items"},
			{"null items", map[string]any{"items": nil}, "items"},
			{"zero items", map[string]any{"items": []any{}}, "items"},
			{"1001 items", manyContacts(1001, "over"), "items"},
			{"bad email at 1", contactsBody(ok, contact("A", "B", "not-an-email")), "items[1].email"},
			{"missing first name", contactsBody(ok, ok, map[string]any{"last_name": "B"}), "items[2].first_name"},
			{"blank last name", contactsBody(map[string]any{"first_name": "A", "last_name": "  "}), "items[0].last_name"},
			{"long title", contactsBody(ok, map[string]any{"first_name": "A", "last_name": "B", "title": long}), "items[1].title"},
			{"bad domain", contactsBody(map[string]any{"first_name": "A", "last_name": "B", "domain": "https://acme.example/x"}), "items[0].domain"},
			{"domain without dot", contactsBody(map[string]any{"first_name": "A", "last_name": "B", "domain": "localhost"}), "items[0].domain"},
			{"negative company size", contactsBody(ok, map[string]any{"first_name": "A", "last_name": "B", "company_size": -1}), "items[1].company_size"},
			{"unknown item field", contactsBody(map[string]any{"first_name": "A", "last_name": "B", "phone": "1"}), "phone"},
		}
		before := dbState(t, e.pool)
		for _, c := range cases {
			status, body := e.do(t, http.MethodPost, "/v1/contacts", e.A.Tokens[storage.RoleAdmin], c.body)
			require.Equalf(t, http.StatusUnprocessableEntity, status, "%s: %v", c.name, body)
			requireInvalid(t, status, body, c.field)
		}
		requireNoWrites(t, e.pool, before)
	})

	t.Run("body over 2 MiB", func(t *testing.T) {
		before := dbState(t, e.pool)
		big := `{"items":[{"first_name":"` + strings.Repeat("a", 2<<20) + `","last_name":"B"}]}`
		status, body := e.do(t, http.MethodPost, "/v1/contacts", e.A.Tokens[storage.RoleAdmin], big)
		requireError(t, status, body, http.StatusRequestEntityTooLarge, string(errs.PayloadTooLarge))

		// 1000 items, each valid (200 characters per field, 3 bytes each), adding up to more than 2 MiB.
		v := strings.Repeat("€", 200)
		items := make([]string, 0, 1000)
		for i := 0; i < 1000; i++ {
			items = append(items, fmt.Sprintf(`{"first_name":"A","last_name":"B","email":"big-%d@acme.example","title":"%s","company_name":"%s","industry":"%s","country":"%s"}`, i, v, v, v, v))
		}
		status, body = e.do(t, http.MethodPost, "/v1/contacts", e.A.Tokens[storage.RoleAdmin], `{"items":[`+strings.Join(items, ",")+`]}`)
		requireError(t, status, body, http.StatusRequestEntityTooLarge, string(errs.PayloadTooLarge))
		requireNoWrites(t, e.pool, before)
	})

	t.Run("malformed", func(t *testing.T) {
		before := dbState(t, e.pool)
		status, body := e.do(t, http.MethodPost, "/v1/contacts", e.A.Tokens[storage.RoleAdmin], `{"items":[{"first_name":"A",}]}`)
		requireError(t, status, body, http.StatusBadRequest, string(errs.MalformedJSON))
		requireNoWrites(t, e.pool, before)
	})
}
