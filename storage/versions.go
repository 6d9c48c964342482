package storage

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// FrozenFields are the fields of a campaign a version freezes (R-VER-1): an approval approves exactly
// these, and only a change to them drops it (R-VER-5).
type FrozenFields struct {
	Name    string
	Kind    string
	Mode    string
	StartAt *time.Time
	EndAt   *time.Time
	Content CampaignContent
}

// FrozenOf is the frozen part of campaign c, whose Content must be loaded.
func FrozenOf(c Campaign) FrozenFields {
	f := FrozenFields{Name: c.Name, Kind: c.Kind, Mode: c.Mode, StartAt: c.StartAt, EndAt: c.EndAt}
	if c.Content != nil {
		f.Content = *c.Content
	}
	return f
}

// frozenDoc is the JSON document whose canonical form is hashed. Times are UTC RFC 3339 (fractional
// seconds only when present; Postgres keeps microseconds).
type frozenDoc struct {
	Name    string          `json:"name"`
	Kind    string          `json:"kind"`
	Mode    string          `json:"mode"`
	StartAt *string         `json:"start_at"`
	EndAt   *string         `json:"end_at"`
	Content CampaignContent `json:"content"`
}

func rfc3339(t *time.Time) *string {
	if t == nil {
		return nil
	}
	s := t.UTC().Truncate(time.Microsecond).Format(time.RFC3339Nano)
	return &s
}

// Hash is content_hash: the SHA-256 hex of the canonical JSON of f (JSON).
func (f FrozenFields) Hash() string {
	sum := sha256.Sum256(f.JSON())
	return hex.EncodeToString(sum[:])
}

// JSON is the canonical JSON (CanonicalJSON) of f's document {name, kind, mode, start_at, end_at,
// content}: what Hash hashes, and what the changes of a request compare (R-VER-6).
func (f FrozenFields) JSON() []byte {
	raw, err := marshalNoEscape(frozenDoc{Name: f.Name, Kind: f.Kind, Mode: f.Mode, StartAt: rfc3339(f.StartAt),
		EndAt: rfc3339(f.EndAt), Content: f.Content})
	if err != nil {
		// Every field is a string, a number, a bool or a list or object of them.
		panic(fmt.Sprintf("storage: frozen fields: %v", err))
	}
	c, err := CanonicalJSON(raw)
	if err != nil {
		panic(fmt.Sprintf("storage: frozen fields: %v", err))
	}
	return c
}

// HashJSON is the SHA-256 hex of the canonical JSON of the JSON document raw; it panics on invalid JSON.
func HashJSON(raw []byte) string {
	c, err := CanonicalJSON(raw)
	if err != nil {
		panic(fmt.Sprintf("storage: hash: %v", err))
	}
	sum := sha256.Sum256(c)
	return hex.EncodeToString(sum[:])
}

// CanonicalJSON is raw in canonical form: object keys sorted (by their UTF-8 bytes), no insignificant
// whitespace, numbers as Go writes a float64 (0.70 and 0.7 are one number), strings escaped only where
// JSON requires it (no HTML escaping).
func CanonicalJSON(raw []byte) ([]byte, error) {
	var v any
	dec := json.NewDecoder(bytes.NewReader(raw))
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("canonical json: %w", err)
	}
	if dec.More() {
		return nil, errors.New("canonical json: more than one value")
	}
	// encoding/json writes map keys sorted and adds no whitespace.
	return marshalNoEscape(v)
}

func marshalNoEscape(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// CampaignVersion is an immutable version of a campaign (R-VER-1): its frozen fields, their hash and
// who froze them when. ApprovalStatus is the status of the latest request that pinned it ("none" when
// no request did).
type CampaignVersion struct {
	CampaignID  string
	Version     int
	ContentHash string
	FrozenFields
	CreatedAt      time.Time
	CreatedBy      *string
	ApprovalStatus string
}

const versionColumns = `v.campaign_id, v.version, v.content_hash, v.name, v.kind, v.mode, v.start_at, v.end_at,
	v.created_at, v.created_by, COALESCE((SELECT r.status FROM approval_requests r WHERE r.campaign_id = v.campaign_id
	  AND r.campaign_version = v.version ORDER BY r.created_at DESC, r.id DESC LIMIT 1), 'none')`

func versionScan(v *CampaignVersion) []any {
	return []any{&v.CampaignID, &v.Version, &v.ContentHash, &v.Name, &v.Kind, &v.Mode, &v.StartAt, &v.EndAt,
		&v.CreatedAt, &v.CreatedBy, &v.ApprovalStatus}
}

// CampaignVersions lists the versions of visible campaign campaignID of account accountID, newest
// first, without their content.
func (s *Store) CampaignVersions(ctx context.Context, accountID, campaignID string) ([]CampaignVersion, error) {
	rows, err := s.Pool.Query(ctx, `SELECT `+versionColumns+` FROM campaign_versions v
		JOIN campaigns c ON c.id = v.campaign_id
		WHERE c.account_id = $1 AND c.id = $2 AND NOT c.hidden ORDER BY v.version DESC`, accountID, campaignID)
	if err != nil {
		return nil, fmt.Errorf("storage: campaign versions: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (CampaignVersion, error) {
		var v CampaignVersion
		return v, r.Scan(versionScan(&v)...)
	})
	if err != nil {
		return nil, fmt.Errorf("storage: campaign versions: %w", err)
	}
	return out, nil
}

// CampaignVersion returns version n of visible campaign campaignID of account accountID with its
// content, or ErrNotFound.
func (s *Store) CampaignVersion(ctx context.Context, accountID, campaignID string, n int) (CampaignVersion, error) {
	var v CampaignVersion
	err := s.Pool.QueryRow(ctx, `SELECT `+versionColumns+`, v.content FROM campaign_versions v
		JOIN campaigns c ON c.id = v.campaign_id
		WHERE c.account_id = $1 AND c.id = $2 AND NOT c.hidden AND v.version = $3`, accountID, campaignID, n).
		Scan(append(versionScan(&v), &v.Content)...)
	if err != nil {
		return CampaignVersion{}, notFound("storage: campaign version", err)
	}
	return v, nil
}

// ChangeCounter counts the changes from base to pinned, two versions' canonical JSON (base nil for a
// first approval): the count approver emails and the inbox show (R-VER-6). Storage imports none of
// Signoff's packages, so the caller passes the changes package's count in.
type ChangeCounter func(base, pinned []byte) (int, error)

// VersionPair is what the changes of an approval request compare (R-VER-6): the version the request
// pins and its base, the campaign's last approved version before it (nil for a first approval).
//
// The base is the version pinned by the campaign's latest approved request submitted before this one
// (baseSQL). A campaign has at most one open request, so every request submitted before this one had
// been decided when it was submitted, and a decision never changes: a request's base, and therefore
// its changes, are the same whenever they are read, also once the request itself or a later one is
// approved. It may be the pinned version itself (an approval was dropped by an edit that was undone),
// and then there are no changes.
type VersionPair struct {
	RequestID   string
	Version     int
	Pinned      FrozenFields
	BaseVersion *int
	Base        *FrozenFields
}

// JSON is the canonical JSON of both versions, base nil for a first approval.
func (p VersionPair) JSON() (base, pinned []byte) {
	if p.Base != nil {
		base = p.Base.JSON()
	}
	return base, p.Pinned.JSON()
}

// changesSentence tells approvers how many changes request requestID brings (R-VER-6), for the
// emails asking them to decide; "" when count is nil.
func changesSentence(ctx context.Context, q queryer, accountID, requestID string, count ChangeCounter) (string, error) {
	if count == nil {
		return "", nil
	}
	pairs, err := versionPairs(ctx, q, accountID, []string{requestID})
	if err != nil {
		return "", err
	}
	p, ok := pairs[requestID]
	if !ok {
		return "", pgx.ErrNoRows
	}
	n, err := count(p.JSON())
	if err != nil {
		return "", err
	}
	return countSentence(p.Version, p.BaseVersion, n), nil
}

// countSentence says what version version brings against base (nil: a first approval): "Version 3:
// 2 changes since the last approved version (version 1)." or "Version 1: the first approval of this
// campaign."
func countSentence(version int, base *int, n int) string {
	switch {
	case base == nil:
		return fmt.Sprintf("Version %d: the first approval of this campaign.", version)
	case n == 0:
		return fmt.Sprintf("Version %d: no changes since the last approved version (version %d).", version, *base)
	case n == 1:
		return fmt.Sprintf("Version %d: 1 change since the last approved version (version %d).", version, *base)
	}
	return fmt.Sprintf("Version %d: %d changes since the last approved version (version %d).", version, n, *base)
}

// baseSQL is the base version of request r (see VersionPair), NULL when no earlier request of its
// campaign was approved. The index approval_requests_campaign serves it.
const baseSQL = `(SELECT b.campaign_version FROM approval_requests b WHERE b.campaign_id = r.campaign_id
	AND b.status = 'approved' AND b.id <> r.id AND b.created_at < r.created_at ORDER BY b.created_at DESC, b.id DESC LIMIT 1)`

// VersionPairs answers the version pairs of the requests ids of account accountID, keyed by request
// id; requests that do not exist there are left out.
func (s *Store) VersionPairs(ctx context.Context, accountID string, ids []string) (map[string]VersionPair, error) {
	out, err := versionPairs(ctx, s.Pool, accountID, ids)
	if err != nil {
		return nil, fmt.Errorf("storage: version pairs: %w", err)
	}
	return out, nil
}

func versionPairs(ctx context.Context, q queryer, accountID string, ids []string) (map[string]VersionPair, error) {
	rows, err := q.Query(ctx, `SELECT r.id, p.version, p.name, p.kind, p.mode, p.start_at, p.end_at, p.content,
		  b.version, b.name, b.kind, b.mode, b.start_at, b.end_at, b.content
		FROM approval_requests r
		JOIN campaign_versions p ON p.campaign_id = r.campaign_id AND p.version = r.campaign_version
		LEFT JOIN campaign_versions b ON b.campaign_id = r.campaign_id AND b.version = `+baseSQL+`
		WHERE r.account_id = $1 AND r.id = ANY($2::uuid[])`, accountID, ids)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]VersionPair{}
	for rows.Next() {
		var p VersionPair
		var baseVersion *int
		var baseName, baseKind, baseMode *string
		var baseStart, baseEnd *time.Time
		var baseContent []byte
		if err := rows.Scan(&p.RequestID, &p.Version, &p.Pinned.Name, &p.Pinned.Kind, &p.Pinned.Mode, &p.Pinned.StartAt,
			&p.Pinned.EndAt, &p.Pinned.Content, &baseVersion, &baseName, &baseKind, &baseMode, &baseStart, &baseEnd, &baseContent); err != nil {
			return nil, err
		}
		if baseVersion != nil {
			b := FrozenFields{Name: *baseName, Kind: *baseKind, Mode: *baseMode, StartAt: baseStart, EndAt: baseEnd}
			if err := json.Unmarshal(baseContent, &b.Content); err != nil {
				return nil, err
			}
			p.BaseVersion, p.Base = baseVersion, &b
		}
		out[p.RequestID] = p
	}
	return out, rows.Err()
}

// frozenVersion is the version a freeze pinned.
type frozenVersion struct {
	Version int
	Hash    string
}

// freeze freezes the working copy of campaign campaignID, whose row the caller holds locked, as its
// next version (R-VER-1) and returns it; when the working copy equals the latest version (same hash)
// that version is reused. The new number follows the latest version and is never below the campaign's
// version counter (which an edit of a live journey moves on, R-CAMP-4); campaigns.version becomes the
// frozen number.
//
// Its reads (the campaign row, the five content tables, the latest version) go in one batch, one
// round trip; the insert of a new version and the move of campaigns.version in a second.
func freeze(ctx context.Context, tx pgx.Tx, campaignID string, actorID *string) (frozenVersion, error) {
	reads := &pgx.Batch{}
	reads.Queue(`SELECT version, name, kind, mode, start_at, end_at FROM campaigns WHERE id = $1`, campaignID)
	for _, q := range contentQueries {
		reads.Queue(q, campaignID)
	}
	reads.Queue(`SELECT version, content_hash FROM campaign_versions WHERE campaign_id = $1
		ORDER BY version DESC LIMIT 1`, campaignID)
	br := tx.SendBatch(ctx, reads)
	var current, latest int
	var latestHash string
	var f FrozenFields
	err := br.QueryRow().Scan(&current, &f.Name, &f.Kind, &f.Mode, &f.StartAt, &f.EndAt)
	if err == nil {
		f.Content, err = scanContent(func(int) (pgx.Rows, error) { return br.Query() })
	}
	if err == nil {
		err = br.QueryRow().Scan(&latest, &latestHash)
		if errors.Is(err, pgx.ErrNoRows) {
			err = nil
		}
	}
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return frozenVersion{}, err
	}
	out := frozenVersion{Hash: f.Hash()}
	writes := &pgx.Batch{}
	if latest > 0 && latestHash == out.Hash {
		out.Version = latest
	} else {
		out.Version = max(latest+1, current)
		content, err := json.Marshal(f.Content)
		if err != nil {
			return frozenVersion{}, err
		}
		writes.Queue(insertVersionSQL, campaignID, out.Version, out.Hash, f.Name, f.Kind, f.Mode, f.StartAt, f.EndAt, content, actorID, nil)
	}
	if out.Version != current {
		writes.Queue(`UPDATE campaigns SET version = $2 WHERE id = $1`, campaignID, out.Version)
	}
	if writes.Len() > 0 {
		if err := tx.SendBatch(ctx, writes).Close(); err != nil {
			return frozenVersion{}, err
		}
	}
	return out, nil
}

// SetFreezeVersions turns the freeze of the working copy at submit on or off; it is on until set.
// For the bench only (cmd/bench, to measure what the freeze costs): with it off, submits pin the
// latest version without freezing the working copy, so the request may pin content that is not the
// working copy, and a campaign without a version cannot be submitted. No configuration reaches it.
func (s *Store) SetFreezeVersions(on bool) { s.noFreeze.Store(!on) }

// errNoVersion is pinLatest's answer for a campaign that has no version yet.
var errNoVersion = errors.New("storage: freeze off (bench) and the campaign has no version to pin")

// pinLatest is what a submit does instead of freeze when the bench turned the freeze off: one
// lookup of the latest version, nothing read of the working copy, nothing written.
func pinLatest(ctx context.Context, tx pgx.Tx, campaignID string, _ *string) (frozenVersion, error) {
	var out frozenVersion
	err := tx.QueryRow(ctx, `SELECT version, content_hash FROM campaign_versions WHERE campaign_id = $1
		ORDER BY version DESC LIMIT 1`, campaignID).Scan(&out.Version, &out.Hash)
	if errors.Is(err, pgx.ErrNoRows) {
		return frozenVersion{}, errNoVersion
	}
	return out, err
}

func insertVersion(ctx context.Context, tx pgx.Tx, campaignID string, v frozenVersion, f FrozenFields, createdBy *string, createdAt *time.Time) error {
	content, err := json.Marshal(f.Content)
	if err != nil {
		return err
	}
	_, err = tx.Exec(ctx, insertVersionSQL, campaignID, v.Version, v.Hash, f.Name, f.Kind, f.Mode, f.StartAt, f.EndAt, content, createdBy, createdAt)
	return err
}

const insertVersionSQL = `INSERT INTO campaign_versions (campaign_id, version, content_hash, name, kind, mode, start_at, end_at, content, created_by, created_at)
	VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, COALESCE($11, now()))`

// CarryOverVersions gives the campaigns of the release before versions the versions their requests and
// launches name (migration 00012): every campaign with a request or a launch gets, for each version
// number a request or launch names and for its current version, a version holding its working copy, the
// only content that release kept (and what it was sending). Each version is dated and attributed to its
// first request (else launch, else the campaign's last update and creator). The requests then pin
// their version's hash, and an approved campaign whose approved request covers its current version gets
// approved_version. It runs in the caller's transaction and skips what exists, so it may run again.
func CarryOverVersions(ctx context.Context, tx pgx.Tx) error {
	rows, err := tx.Query(ctx, `
		WITH used AS (
			SELECT campaign_id, campaign_version AS version, 1 AS rank, submitted_by AS by, created_at AS at FROM approval_requests
			UNION ALL SELECT campaign_id, version, 2, launched_by, launched_at FROM campaign_launches
			UNION ALL SELECT c.id, c.version, 3, c.created_by, c.updated_at FROM campaigns c
			  WHERE EXISTS (SELECT 1 FROM approval_requests r WHERE r.campaign_id = c.id)
			     OR EXISTS (SELECT 1 FROM campaign_launches l WHERE l.campaign_id = c.id))
		SELECT DISTINCT ON (u.campaign_id, u.version) u.campaign_id, u.version, COALESCE(u.by, c.created_by), u.at
		FROM used u JOIN campaigns c ON c.id = u.campaign_id
		WHERE NOT EXISTS (SELECT 1 FROM campaign_versions v WHERE v.campaign_id = u.campaign_id AND v.version = u.version)
		ORDER BY u.campaign_id, u.version, u.rank, u.at`)
	if err != nil {
		return fmt.Errorf("storage: carry over versions: %w", err)
	}
	type missing struct {
		campaignID string
		version    int
		by         string
		at         time.Time
	}
	list, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (missing, error) {
		var m missing
		return m, r.Scan(&m.campaignID, &m.version, &m.by, &m.at)
	})
	if err != nil {
		return fmt.Errorf("storage: carry over versions: %w", err)
	}
	frozen := map[string]FrozenFields{}
	for _, m := range list {
		f, ok := frozen[m.campaignID]
		if !ok {
			if f, err = workingCopy(ctx, tx, m.campaignID); err != nil {
				return fmt.Errorf("storage: carry over versions: %w", err)
			}
			frozen[m.campaignID] = f
		}
		by, at := m.by, m.at
		if err := insertVersion(ctx, tx, m.campaignID, frozenVersion{Version: m.version, Hash: f.Hash()}, f, &by, &at); err != nil {
			return fmt.Errorf("storage: carry over versions: %w", err)
		}
	}
	for _, q := range []string{
		`UPDATE approval_requests r SET content_hash = v.content_hash FROM campaign_versions v
			WHERE v.campaign_id = r.campaign_id AND v.version = r.campaign_version AND r.content_hash IS NULL`,
		`UPDATE campaigns c SET approved_version = c.version WHERE c.approval_status = 'approved' AND c.approved_version IS NULL
			AND EXISTS (SELECT 1 FROM approval_requests r WHERE r.campaign_id = c.id AND r.status = 'approved'
			  AND r.campaign_version = c.version)`,
	} {
		if _, err := tx.Exec(ctx, q); err != nil {
			return fmt.Errorf("storage: carry over versions: %w", err)
		}
	}
	return nil
}
