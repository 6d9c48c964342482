package storage

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// Contact is a person in an account's people directory.
type Contact struct {
	ID          string    `json:"id"`
	FirstName   string    `json:"first_name"`
	LastName    string    `json:"last_name"`
	Email       string    `json:"email"`
	Title       string    `json:"title"`
	CompanyName string    `json:"company_name"`
	Domain      string    `json:"domain"`
	Industry    string    `json:"industry"`
	Country     string    `json:"country"`
	CompanySize *int      `json:"company_size"`
	CreatedAt   time.Time `json:"created_at"`
}

// InsertContacts adds contacts to account accountID in one statement and returns how many were inserted;
// a contact whose email is already in the directory is skipped.
func (s *Store) InsertContacts(ctx context.Context, accountID string, cs []Contact) (int, error) {
	if len(cs) == 0 {
		return 0, nil
	}
	cols := make([][]string, 9)
	sizes := make([]*int32, len(cs))
	for i := range cols {
		cols[i] = make([]string, len(cs))
	}
	for i, c := range cs {
		for j, v := range []string{c.FirstName, c.LastName, c.Email, c.Title, c.CompanyName, c.Domain, c.Industry, c.Country} {
			cols[j][i] = v
		}
		if c.CompanySize != nil {
			v := int32(*c.CompanySize)
			sizes[i] = &v
		}
	}
	tag, err := s.Pool.Exec(ctx, `
		INSERT INTO contacts (account_id, first_name, last_name, email, title, company_name, domain, industry, country, company_size)
		SELECT $1, t.* FROM unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[], $10::int[]) AS t
		ON CONFLICT (account_id, lower(email)) WHERE email <> '' DO NOTHING`,
		accountID, cols[0], cols[1], cols[2], cols[3], cols[4], cols[5], cols[6], cols[7], sizes)
	if err != nil {
		return 0, fmt.Errorf("storage: insert contacts: %w", err)
	}
	return int(tag.RowsAffected()), nil
}

// CountContacts counts the contacts of account accountID.
func (s *Store) CountContacts(ctx context.Context, accountID string) (int, error) {
	var n int
	if err := s.Pool.QueryRow(ctx, `SELECT count(*) FROM contacts WHERE account_id = $1`, accountID).Scan(&n); err != nil {
		return 0, fmt.Errorf("storage: count contacts: %w", err)
	}
	return n, nil
}

// SearchContacts pages through the contacts of account accountID that match f, ordered by id,
// after afterID ("" for the first page). Lists match case-insensitively and exactly; keywords
// must each appear in the name, title, company, domain or industry.
func (s *Store) SearchContacts(ctx context.Context, accountID string, f SearchFilters, afterID string, limit int) ([]Contact, error) {
	if afterID == "" {
		afterID = "00000000-0000-0000-0000-000000000000"
	}
	where, args := f.where(3)
	rows, err := s.Pool.Query(ctx, `
		SELECT id, first_name, last_name, email, title, company_name, domain, industry, country, company_size, created_at
		FROM contacts
		WHERE account_id = $1 AND id > $2 AND `+where+`
		ORDER BY id LIMIT $9`, append([]any{accountID, afterID}, append(args, limit)...)...)
	if err != nil {
		return nil, fmt.Errorf("storage: search contacts: %w", err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowToStructByPos[Contact])
	if err != nil {
		return nil, fmt.Errorf("storage: search contacts: %w", err)
	}
	return out, nil
}

// where is the condition of f over the contacts table, its arguments numbered from $first (six of
// them), and those arguments: the one filter SQL of the directory search and the audience count.
func (f SearchFilters) where(first int) (string, []any) {
	n := func(i int) string { return fmt.Sprintf("$%d", first+i) }
	sql := `(cardinality(` + n(0) + `::text[]) = 0 OR lower(title) = ANY(` + n(0) + `))
		  AND (cardinality(` + n(1) + `::text[]) = 0 OR lower(industry) = ANY(` + n(1) + `))
		  AND (cardinality(` + n(2) + `::text[]) = 0 OR lower(country) = ANY(` + n(2) + `))
		  AND (` + n(3) + `::int IS NULL OR company_size >= ` + n(3) + `)
		  AND (` + n(4) + `::int IS NULL OR company_size <= ` + n(4) + `)
		  AND NOT EXISTS (SELECT 1 FROM unnest(` + n(5) + `::text[]) kw WHERE position(kw IN
		        lower(first_name || ' ' || last_name || ' ' || title || ' ' || company_name || ' ' || domain || ' ' || industry)) = 0)`
	return sql, []any{lowerAll(f.Titles), lowerAll(f.Industries), lowerAll(f.Countries), f.CompanySizeMin, f.CompanySizeMax,
		lowerAll(f.Keywords)}
}

func lowerAll(vs []string) []string {
	out := make([]string, len(vs))
	for i, v := range vs {
		out[i] = strings.ToLower(strings.TrimSpace(v))
	}
	return out
}
