"""lobby extras: lock, ready check, tags, invites, message reports

Revision ID: c3a1d2e40003
Revises: 9f07e562896c
Create Date: 2026-11-28 04:20:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TIMESTAMP = sa.DateTime(timezone=True)
OPEN_REPORTS = sa.text("resolved_at IS NULL")

revision: str = "c3a1d2e40003"
down_revision: str | None = "c3a1d2e40002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Server defaults fill the existing rows (SQLite adds a NOT NULL column only with one). They
    # are plain strings on purpose: with an SQL expression as default, batch mode on SQLite
    # recreates the table, and dropping the old `lobbies` would cascade-delete every membership,
    # message and log entry. '0' reads as false for a BOOLEAN on both databases.
    with op.batch_alter_table("lobbies") as batch:
        batch.add_column(sa.Column("is_locked", sa.Boolean(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("ready_count", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("tags", sa.JSON(), nullable=False, server_default="[]"))
    with op.batch_alter_table("lobby_members") as batch:
        batch.add_column(sa.Column("is_ready", sa.Boolean(), nullable=False, server_default="0"))

    op.create_table(
        "lobby_tags",
        sa.Column("lobby_id", ID, nullable=False),
        sa.Column("tag", sa.String(length=24), nullable=False),
        sa.ForeignKeyConstraint(
            ["lobby_id"], ["lobbies.id"], name=op.f("fk_lobby_tags_lobby_id_lobbies"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("lobby_id", "tag", name=op.f("pk_lobby_tags")),
    )
    op.create_index("ix_lobby_tags_tag_lobby_id", "lobby_tags", ["tag", "lobby_id"])

    op.create_table(
        "lobby_invites",
        sa.Column("id", ID, nullable=False),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("lobby_id", ID, nullable=False),
        sa.Column("created_by_id", ID, nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("expires_at", TIMESTAMP, nullable=True),
        sa.Column("max_uses", sa.Integer(), nullable=True),
        sa.Column("uses", sa.Integer(), nullable=False),
        sa.Column("revoked_at", TIMESTAMP, nullable=True),
        sa.ForeignKeyConstraint(
            ["created_by_id"], ["users.id"], name=op.f("fk_lobby_invites_created_by_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["lobby_id"], ["lobbies.id"], name=op.f("fk_lobby_invites_lobby_id_lobbies"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lobby_invites")),
        sa.UniqueConstraint("code", name=op.f("uq_lobby_invites_code")),
    )
    op.create_index("ix_lobby_invites_lobby_id_id", "lobby_invites", ["lobby_id", "id"])

    op.create_table(
        "message_reports",
        sa.Column("id", ID, nullable=False),
        sa.Column("message_id", ID, nullable=False),
        sa.Column("lobby_id", ID, nullable=False),
        sa.Column("reporter_id", ID, nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("resolved_at", TIMESTAMP, nullable=True),
        sa.Column("resolved_by_id", ID, nullable=True),
        sa.ForeignKeyConstraint(
            ["lobby_id"], ["lobbies.id"], name=op.f("fk_message_reports_lobby_id_lobbies"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["message_id"],
            ["messages.id"],
            name=op.f("fk_message_reports_message_id_messages"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["reporter_id"],
            ["users.id"],
            name=op.f("fk_message_reports_reporter_id_users"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["resolved_by_id"], ["users.id"], name=op.f("fk_message_reports_resolved_by_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_message_reports")),
    )
    op.create_index("ix_message_reports_lobby_id_id", "message_reports", ["lobby_id", "id"])
    op.create_index(
        "uq_message_reports_open",
        "message_reports",
        ["reporter_id", "message_id"],
        unique=True,
        sqlite_where=OPEN_REPORTS,
        postgresql_where=OPEN_REPORTS,
    )


def downgrade() -> None:
    op.drop_index("uq_message_reports_open", table_name="message_reports")
    op.drop_index("ix_message_reports_lobby_id_id", table_name="message_reports")
    op.drop_table("message_reports")
    op.drop_index("ix_lobby_invites_lobby_id_id", table_name="lobby_invites")
    op.drop_table("lobby_invites")
    op.drop_index("ix_lobby_tags_tag_lobby_id", table_name="lobby_tags")
    op.drop_table("lobby_tags")
    # Not in batch mode: it would recreate `lobbies` on SQLite, and dropping the old table would
    # cascade-delete its dependants. SQLite (3.35+) drops a plain column with ALTER TABLE itself.
    op.drop_column("lobby_members", "is_ready")
    op.drop_column("lobbies", "tags")
    op.drop_column("lobbies", "ready_count")
    op.drop_column("lobbies", "is_locked")
