-- +goose Up
-- The client's verdict per reviewable item: a section, a segment, a lead, an email or a paragraph (R-REVIEW-3).
CREATE TABLE review_items (
    draft_id   uuid NOT NULL REFERENCES approval_drafts (id) ON DELETE CASCADE,
    target     text NOT NULL,
    verdict    text CHECK (verdict IN ('approved', 'change_request')),
    comment    text NOT NULL DEFAULT '',
    author     text NOT NULL DEFAULT '',
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (draft_id, target)
);

-- Notes and line comments on paragraphs of the frozen email copy.
CREATE TABLE review_comments (
    id         uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    draft_id   uuid NOT NULL REFERENCES approval_drafts (id) ON DELETE CASCADE,
    target     text NOT NULL,
    kind       text NOT NULL CHECK (kind IN ('note', 'line_comment')),
    quote      text NOT NULL DEFAULT '',
    comment    text NOT NULL,
    author     text NOT NULL DEFAULT '',
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX review_comments_draft ON review_comments (draft_id, created_at);

ALTER TABLE notifications ADD COLUMN draft_id uuid REFERENCES approval_drafts (id) ON DELETE CASCADE;
ALTER TABLE outbox_emails ADD COLUMN draft_id uuid REFERENCES approval_drafts (id) ON DELETE CASCADE;

-- +goose Down
ALTER TABLE outbox_emails DROP COLUMN draft_id;
ALTER TABLE notifications DROP COLUMN draft_id;
DROP TABLE review_comments;
DROP TABLE review_items;
