-- +goose Up
-- Roles as permission sets (R-AUTH-5). Every account has its roles: the five built-in ones, which
-- never change through the API, and the custom ones its admins define. A user holds one role by
-- name: users.role references (account_id, name), so renaming a custom role renames it for the users
-- who hold it (ON UPDATE CASCADE), and a role that users hold cannot be deleted.
CREATE TABLE roles (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    account_id  uuid NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    name        text NOT NULL CHECK (name = btrim(name) AND length(name) BETWEEN 1 AND 60),
    builtin     boolean NOT NULL DEFAULT false,
    -- The permissions of R-AUTH-5, in their canonical order, each once (the API checks both).
    permissions text[] NOT NULL DEFAULT '{}' CHECK (permissions <@ ARRAY['campaigns.create', 'campaigns.edit_any',
        'campaigns.launch', 'drafts.build', 'approvals.approve', 'users.manage', 'settings.manage']::text[]
        AND array_position(permissions, NULL) IS NULL),
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    UNIQUE (account_id, name)
);
-- Role names are unique in an account whatever their case: "Admin" cannot sit beside "admin".
CREATE UNIQUE INDEX roles_account_name_ci ON roles (account_id, lower(name));

-- The built-in roles and their permission sets: the one place they are written (docs/roles.md gives
-- the reason for each permission). R-AUTH-3's approval right, expressed as permissions: admins and
-- approvers hold approvals.approve; editors get it only through the users.can_approve grant.
-- +goose StatementBegin
CREATE FUNCTION builtin_roles() RETURNS TABLE (name text, permissions text[]) LANGUAGE sql IMMUTABLE AS $$
    VALUES
        ('admin', ARRAY['campaigns.create', 'campaigns.edit_any', 'campaigns.launch', 'drafts.build',
                        'approvals.approve', 'users.manage', 'settings.manage']),
        ('editor', ARRAY['campaigns.create', 'campaigns.edit_any']),
        ('collaborator', ARRAY['campaigns.create']),
        ('approver', ARRAY['campaigns.create', 'approvals.approve']),
        ('csm', ARRAY['campaigns.create', 'campaigns.edit_any', 'drafts.build'])
$$;
-- +goose StatementEnd

-- Every account gets the built-in roles when it is created, whichever code path creates it.
-- +goose StatementBegin
CREATE FUNCTION add_builtin_roles() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO roles (account_id, name, builtin, permissions)
    SELECT NEW.id, b.name, true, b.permissions FROM builtin_roles() b;
    RETURN NEW;
END
$$;
-- +goose StatementEnd
CREATE TRIGGER accounts_builtin_roles AFTER INSERT ON accounts FOR EACH ROW EXECUTE FUNCTION add_builtin_roles();

-- Carry-over: the accounts that exist get the built-in roles, and their users keep the role they hold
-- (users.role is untouched; it now names a row of roles).
INSERT INTO roles (account_id, name, builtin, permissions)
SELECT a.id, b.name, true, b.permissions FROM accounts a, builtin_roles() b;

-- can_approve only ever counted for editors (R-AUTH-3), and from now on the approval right is "the
-- role has approvals.approve, or the user holds the can_approve grant" (which the API gives editors
-- only). A grant left on a user of another role gave nothing before; it is cleared so that it gives
-- nothing after either. Nobody's rights change.
UPDATE users SET can_approve = false WHERE can_approve AND role <> 'editor';

ALTER TABLE users
    DROP CONSTRAINT users_role_check,
    ADD CONSTRAINT users_role_fkey FOREIGN KEY (account_id, role) REFERENCES roles (account_id, name) ON UPDATE CASCADE;
-- The users holding a role: the role's delete check and the expiry of its users' assignments.
CREATE INDEX users_account_role ON users (account_id, role);

-- +goose Down
-- Fails while a user holds a custom role: move them to a built-in role first.
DROP INDEX users_account_role;
ALTER TABLE users
    DROP CONSTRAINT users_role_fkey,
    ADD CONSTRAINT users_role_check CHECK (role IN ('admin', 'editor', 'collaborator', 'approver', 'csm'));
DROP TRIGGER accounts_builtin_roles ON accounts;
DROP FUNCTION add_builtin_roles();
DROP FUNCTION builtin_roles();
DROP TABLE roles;
