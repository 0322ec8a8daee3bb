"""moderation extras: mutes, slow mode, blocked terms, message edits

Revision ID: c3a1d2e40002
Revises: 9f07e562896c
Create Date: 2026-11-28 04:10:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TIMESTAMP = sa.DateTime(timezone=True)

revision: str = "c3a1d2e40002"
down_revision: str | None = "9f07e562896c"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "lobby_mutes",
        sa.Column("id", ID, nullable=False),
        sa.Column("lobby_id", ID, nullable=False),
        sa.Column("user_id", ID, nullable=False),
        sa.Column("muted_by_id", ID, nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=True),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("expires_at", TIMESTAMP, nullable=True),
        sa.ForeignKeyConstraint(
            ["lobby_id"], ["lobbies.id"], name=op.f("fk_lobby_mutes_lobby_id_lobbies"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(["muted_by_id"], ["users.id"], name=op.f("fk_lobby_mutes_muted_by_id_users")),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_lobby_mutes_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lobby_mutes")),
        sa.UniqueConstraint("lobby_id", "user_id", name=op.f("uq_lobby_mutes_lobby_id_user_id")),
    )
    # Batch mode: SQLite alters tables by copying them; server defaults fill existing rows.
    with op.batch_alter_table("lobbies") as batch:
        batch.add_column(sa.Column("slow_mode_seconds", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("blocked_terms", sa.JSON(), nullable=False, server_default="[]"))
    with op.batch_alter_table("messages") as batch:
        batch.add_column(sa.Column("edited_at", TIMESTAMP, nullable=True))


def downgrade() -> None:
    # Not in batch mode: it would recreate the tables on SQLite, and dropping the old `lobbies`
    # would cascade-delete its dependants. SQLite (3.35+) drops a plain column with ALTER TABLE itself.
    op.drop_column("messages", "edited_at")
    op.drop_column("lobbies", "blocked_terms")
    op.drop_column("lobbies", "slow_mode_seconds")
    op.drop_table("lobby_mutes")
