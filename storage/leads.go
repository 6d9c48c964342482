package storage

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// Lead is a person imported into a campaign, with the AI pipeline's result once it finished.
type Lead struct {
	ID          string          `json:"id"`
	CampaignID  string          `json:"campaign_id"`
	Position    int             `json:"position"`
	SourceRef   string          `json:"source_ref,omitempty"`
	FirstName   string          `json:"first_name"`
	LastName    string          `json:"last_name"`
	Email       string          `json:"email"`
	Title       string          `json:"title"`
	CompanyName string          `json:"company_name"`
	Domain      string          `json:"domain"`
	Industry    string          `json:"industry"`
	Country     string          `json:"country"`
	CompanySize *int            `json:"company_size"`
	AI          json.RawMessage `json:"ai"`
	AIAt        *time.Time      `json:"ai_at"`
}

const leadColumns = `id, campaign_id, position, source_ref, first_name, last_name, email, title, company_name, domain,
	industry, country, company_size, ai, ai_at`

// ImportLeads adds leads to campaignID, skipping any whose SourceRef is already there, and returns
// how many leads the campaign holds afterwards.
func (s *Store) ImportLeads(ctx context.Context, accountID, campaignID string, leads []Lead) (int, error) {
	var n int
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		b := &pgx.Batch{}
		for _, l := range leads {
			b.Queue(`INSERT INTO campaign_leads (account_id, campaign_id, position, source_ref, first_name, last_name, email, title,
				company_name, domain, industry, country, company_size) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
				ON CONFLICT (campaign_id, source_ref) DO NOTHING`, accountID, campaignID, l.Position, l.SourceRef, l.FirstName, l.LastName,
				l.Email, l.Title, l.CompanyName, l.Domain, l.Industry, l.Country, l.CompanySize)
		}
		if b.Len() > 0 {
			if err := tx.SendBatch(ctx, b).Close(); err != nil {
				return err
			}
		}
		return tx.QueryRow(ctx, `SELECT count(*) FROM campaign_leads WHERE campaign_id = $1`, campaignID).Scan(&n)
	})
	if err != nil {
		return 0, fmt.Errorf("storage: import leads: %w", err)
	}
	return n, nil
}

// Leads lists the leads of campaignID in import order.
func (s *Store) Leads(ctx context.Context, accountID, campaignID string) ([]Lead, error) {
	rows, err := s.Pool.Query(ctx, `SELECT `+leadColumns+` FROM campaign_leads WHERE account_id = $1 AND campaign_id = $2
		ORDER BY position, id`, accountID, campaignID)
	if err != nil {
		return nil, fmt.Errorf("storage: leads: %w", err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowToStructByPos[Lead])
	if err != nil {
		return nil, fmt.Errorf("storage: leads: %w", err)
	}
	return out, nil
}

// Lead returns one lead.
func (s *Store) Lead(ctx context.Context, accountID, id string) (Lead, error) {
	rows, err := s.Pool.Query(ctx, `SELECT `+leadColumns+` FROM campaign_leads WHERE account_id = $1 AND id = $2`, accountID, id)
	if err != nil {
		return Lead{}, fmt.Errorf("storage: lead: %w", err)
	}
	l, err := pgx.CollectExactlyOneRow(rows, pgx.RowToStructByPos[Lead])
	if err != nil {
		return Lead{}, notFound("storage: lead", err)
	}
	return l, nil
}

// AttachAI stores a lead's pipeline result once: a lead that already has one keeps it (R-DRAFT-10).
// It reports whether this call attached it.
func (s *Store) AttachAI(ctx context.Context, leadID string, result any) (bool, error) {
	tag, err := s.Pool.Exec(ctx, `UPDATE campaign_leads SET ai = $2, ai_at = now() WHERE id = $1 AND ai IS NULL`, leadID, result)
	if err != nil {
		return false, fmt.Errorf("storage: attach ai: %w", err)
	}
	return tag.RowsAffected() == 1, nil
}

// CountLeadsWithAI counts the leads of campaignID whose pipeline finished.
func (s *Store) CountLeadsWithAI(ctx context.Context, campaignID string) (int, error) {
	var n int
	if err := s.Pool.QueryRow(ctx, `SELECT count(*) FROM campaign_leads WHERE campaign_id = $1 AND ai IS NOT NULL`, campaignID).Scan(&n); err != nil {
		return 0, fmt.Errorf("storage: count ai leads: %w", err)
	}
	return n, nil
}
