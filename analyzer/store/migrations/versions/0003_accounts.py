"""Accounts, caseloads, invites, dashboard sessions, an append-only audit log, the export
register, the store's own keys, and consent as a record (text version, who recorded and who
withdrew it).

Revision ID: 0003_accounts
Revises: 0002_light_reference
Create Date: 2026-11-30
"""

import sqlalchemy as sa
from alembic import op

revision = "0003_accounts"
down_revision = "0002_light_reference"
branch_labels = None
depends_on = None

ROLES = ("patient", "practitioner", "researcher", "admin")  # analyzer.vocab.ROLES when this was written

APPEND_ONLY = "the audit log is append-only"


def _id() -> sa.Column:
    return sa.Column("id", sa.Integer(), nullable=False)


def _index(table: str, column: str) -> None:
    op.create_index(f"ix_{table}_{column}", table, [column], unique=False)


def _fk(table: str, column: str, target: str, ondelete: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint([column], [f"{target}.id"], name=f"fk_{table}_{column}_{target}",
                                   ondelete=ondelete)


def upgrade() -> None:
    with op.batch_alter_table("consent") as batch:
        batch.add_column(sa.Column("text_version", sa.String(32), nullable=True))
        batch.add_column(sa.Column("recorded_by", sa.String(200), nullable=True))
        batch.add_column(sa.Column("withdrawn_by", sa.String(200), nullable=True))
    op.create_table(
        "app_user",
        _id(),
        sa.Column("login", sa.String(200), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("password_hash", sa.String(200), nullable=True),
        sa.Column("oidc_subject", sa.String(300), nullable=True),
        sa.Column("patient_id", sa.Integer(), nullable=True),
        sa.Column("disabled", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("password_changed_at", sa.DateTime(), nullable=True),
        sa.Column("failed_logins", sa.Integer(), nullable=False),
        sa.Column("locked_until", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_app_user"),
        sa.UniqueConstraint("login", name="uq_app_user_login"),
        sa.UniqueConstraint("oidc_subject", name="uq_app_user_oidc_subject"),
        _fk("app_user", "patient_id", "patient", "SET NULL"),
        sa.CheckConstraint("role IN (" + ", ".join(f"'{r}'" for r in ROLES) + ")", name="ck_app_user_role"),
    )
    _index("app_user", "patient_id")
    op.create_table(
        "assignment",
        _id(),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_assignment"),
        _fk("assignment", "user_id", "app_user", "CASCADE"),
        _fk("assignment", "patient_id", "patient", "CASCADE"),
        sa.UniqueConstraint("user_id", "patient_id", name="uq_assignment_user_patient"),
    )
    _index("assignment", "user_id")
    _index("assignment", "patient_id")
    op.create_table(
        "invite",
        _id(),
        sa.Column("code_sha256", sa.String(64), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("created_by", sa.String(200), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.Column("used_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_invite"),
        sa.UniqueConstraint("code_sha256", name="uq_invite_code_sha256"),
        _fk("invite", "patient_id", "patient", "CASCADE"),
    )
    _index("invite", "patient_id")
    op.create_table(
        "web_session",
        _id(),
        sa.Column("token_sha256", sa.String(64), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.Column("ended_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_web_session"),
        sa.UniqueConstraint("token_sha256", name="uq_web_session_token_sha256"),
        _fk("web_session", "user_id", "app_user", "CASCADE"),
    )
    _index("web_session", "user_id")
    op.create_table(
        "audit_event",
        _id(),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("role", sa.String(16), nullable=True),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("patient", sa.String(64), nullable=True),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_audit_event"),
    )
    _index("audit_event", "at")
    _index("audit_event", "patient")
    op.create_table(
        "export_record",
        _id(),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("identified", sa.Boolean(), nullable=False),
        sa.Column("study", sa.String(64), nullable=True),
        sa.Column("patients", sa.JSON(), nullable=False),
        sa.Column("filters", sa.JSON(), nullable=False),
        sa.Column("rows", sa.Integer(), nullable=False),
        sa.Column("fmt", sa.String(16), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_export_record"),
    )
    op.create_table(
        "secret",
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("value", sa.String(128), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_secret"),
    )
    _append_only("create")


def _append_only(mode: str) -> None:
    """Triggers that make the database itself refuse UPDATE and DELETE on ``audit_event``."""
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        for verb in ("UPDATE", "DELETE"):
            name = f"audit_event_no_{verb.lower()}"
            op.execute(f"DROP TRIGGER IF EXISTS {name}" if mode == "drop" else
                       f"CREATE TRIGGER {name} BEFORE {verb} ON audit_event "
                       f"BEGIN SELECT RAISE(ABORT, '{APPEND_ONLY}'); END")
    elif dialect == "postgresql":
        if mode == "drop":
            op.execute("DROP TRIGGER IF EXISTS audit_event_append_only ON audit_event")
            op.execute("DROP FUNCTION IF EXISTS audit_event_append_only()")
            return
        op.execute("CREATE FUNCTION audit_event_append_only() RETURNS trigger LANGUAGE plpgsql AS "
                   f"$$ BEGIN RAISE EXCEPTION '{APPEND_ONLY}'; END $$")
        op.execute("CREATE TRIGGER audit_event_append_only BEFORE UPDATE OR DELETE OR TRUNCATE "
                   "ON audit_event FOR EACH STATEMENT EXECUTE FUNCTION audit_event_append_only()")


def downgrade() -> None:
    _append_only("drop")
    for table in ("secret", "export_record", "audit_event", "web_session", "invite", "assignment", "app_user"):
        op.drop_table(table)
    with op.batch_alter_table("consent") as batch:
        for column in ("withdrawn_by", "recorded_by", "text_version"):
            batch.drop_column(column)
