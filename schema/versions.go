package schema

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"

	"github.com/signoff/signoff/storage"
)

// carryOverVersion is the Go migration that follows 00011_campaign_versions.sql. Its hash must be the
// one the application computes (storage.FrozenFields.Hash, in Go), so it is a Go migration that calls
// storage.CarryOverVersions: every request and launch of the release before versions then points at a
// real version. Once they all do, the request's content_hash is required and both pins are foreign keys.
const carryOverVersion = 12

// goMigrations are the migrations written in Go, beside the SQL files of migrations/.
func goMigrations() []*goose.Migration {
	return []*goose.Migration{
		goose.NewGoMigration(carryOverVersion,
			&goose.GoFunc{RunDB: func(ctx context.Context, db *sql.DB) error { return inPgxTx(ctx, db, carryOverUp) }},
			&goose.GoFunc{RunDB: func(ctx context.Context, db *sql.DB) error { return inPgxTx(ctx, db, carryOverDown) }}),
	}
}

func carryOverUp(ctx context.Context, tx pgx.Tx) error {
	if err := storage.CarryOverVersions(ctx, tx); err != nil {
		return err
	}
	_, err := tx.Exec(ctx, `
		ALTER TABLE approval_requests ALTER COLUMN content_hash SET NOT NULL,
		    ADD CONSTRAINT approval_requests_version_fkey FOREIGN KEY (campaign_id, campaign_version)
		        REFERENCES campaign_versions (campaign_id, version);
		ALTER TABLE campaign_launches ADD CONSTRAINT campaign_launches_version_fkey FOREIGN KEY (campaign_id, version)
		    REFERENCES campaign_versions (campaign_id, version)`)
	return err
}

// carryOverDown keeps the carried-over versions (they are never deleted) and drops the constraints.
func carryOverDown(ctx context.Context, tx pgx.Tx) error {
	_, err := tx.Exec(ctx, `
		ALTER TABLE campaign_launches DROP CONSTRAINT campaign_launches_version_fkey;
		ALTER TABLE approval_requests DROP CONSTRAINT approval_requests_version_fkey,
		    ALTER COLUMN content_hash DROP NOT NULL`)
	return err
}

// inPgxTx runs fn in one pgx transaction on a connection of db (opened over pgx's stdlib driver), so
// the migration can use the store's pgx functions.
func inPgxTx(ctx context.Context, db *sql.DB, fn func(context.Context, pgx.Tx) error) error {
	conn, err := db.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	return conn.Raw(func(driverConn any) error {
		c, ok := driverConn.(*stdlib.Conn)
		if !ok {
			return fmt.Errorf("schema: a pgx connection is needed, got %T", driverConn)
		}
		return pgx.BeginFunc(ctx, c.Conn(), func(tx pgx.Tx) error { return fn(ctx, tx) })
	})
}
