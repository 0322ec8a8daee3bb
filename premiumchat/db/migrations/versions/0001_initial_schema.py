"""initial schema

Revision ID: 9f07e562896c
Revises:
Create Date: 2026-11-28 00:33:51.157548
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# Portable column types: the same migration runs on SQLite and PostgreSQL.
ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TIMESTAMP = sa.DateTime(timezone=True)

revision: str = "9f07e562896c"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("id", ID, nullable=False),
        sa.Column("username", sa.String(length=32), nullable=False),
        sa.Column("username_key", sa.String(length=64), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("email_key", sa.String(length=254), nullable=False),
        sa.Column("password_hash", sa.String(length=255), nullable=False),
        sa.Column("is_premium", sa.Boolean(), nullable=False),
        sa.Column("is_staff", sa.Boolean(), nullable=False),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("email_key", name=op.f("uq_users_email_key")),
        sa.UniqueConstraint("username_key", name=op.f("uq_users_username_key")),
    )
    op.create_table(
        "lobbies",
        sa.Column("id", ID, nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("owner_id", ID, nullable=False),
        sa.Column("is_public", sa.Boolean(), nullable=False),
        sa.Column("password_hash", sa.String(length=255), nullable=True),
        sa.Column("max_participants", sa.Integer(), nullable=False),
        sa.Column("participant_count", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("started_at", TIMESTAMP, nullable=True),
        sa.Column("closed_at", TIMESTAMP, nullable=True),
        sa.ForeignKeyConstraint(["owner_id"], ["users.id"], name=op.f("fk_lobbies_owner_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lobbies")),
    )
    op.create_index("ix_lobbies_owner_status", "lobbies", ["owner_id", "status"])
    op.create_index("ix_lobbies_status_public_id", "lobbies", ["status", "is_public", "id"])

    op.create_table(
        "refresh_tokens",
        sa.Column("id", ID, nullable=False),
        sa.Column("jti", sa.String(length=64), nullable=False),
        sa.Column("user_id", ID, nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("expires_at", TIMESTAMP, nullable=False),
        sa.Column("spent_at", TIMESTAMP, nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_refresh_tokens_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_refresh_tokens")),
        sa.UniqueConstraint("jti", name=op.f("uq_refresh_tokens_jti")),
    )
    op.create_index(op.f("ix_refresh_tokens_user_id"), "refresh_tokens", ["user_id"])

    op.create_table(
        "lobby_bans",
        sa.Column("id", ID, nullable=False),
        sa.Column("lobby_id", ID, nullable=False),
        sa.Column("user_id", ID, nullable=False),
        sa.Column("banned_by_id", ID, nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=True),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("expires_at", TIMESTAMP, nullable=True),
        sa.ForeignKeyConstraint(
            ["banned_by_id"],
            ["users.id"],
            name=op.f("fk_lobby_bans_banned_by_id_users"),
        ),
        sa.ForeignKeyConstraint(
            ["lobby_id"],
            ["lobbies.id"],
            name=op.f("fk_lobby_bans_lobby_id_lobbies"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_lobby_bans_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lobby_bans")),
        sa.UniqueConstraint("lobby_id", "user_id", name=op.f("uq_lobby_bans_lobby_id_user_id")),
    )
    op.create_table(
        "lobby_log",
        sa.Column("id", ID, nullable=False),
        sa.Column("lobby_id", ID, nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("actor_id", ID, nullable=True),
        sa.Column("target_id", ID, nullable=True),
        sa.Column("reason", sa.String(length=500), nullable=True),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.ForeignKeyConstraint(["actor_id"], ["users.id"], name=op.f("fk_lobby_log_actor_id_users")),
        sa.ForeignKeyConstraint(
            ["lobby_id"],
            ["lobbies.id"],
            name=op.f("fk_lobby_log_lobby_id_lobbies"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(["target_id"], ["users.id"], name=op.f("fk_lobby_log_target_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lobby_log")),
    )
    op.create_index("ix_lobby_log_lobby_id_id", "lobby_log", ["lobby_id", "id"])

    op.create_table(
        "lobby_members",
        sa.Column("id", ID, nullable=False),
        sa.Column("lobby_id", ID, nullable=False),
        sa.Column("user_id", ID, nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("joined_at", TIMESTAMP, nullable=False),
        sa.ForeignKeyConstraint(
            ["lobby_id"],
            ["lobbies.id"],
            name=op.f("fk_lobby_members_lobby_id_lobbies"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_lobby_members_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lobby_members")),
        sa.UniqueConstraint("lobby_id", "user_id", name=op.f("uq_lobby_members_lobby_id_user_id")),
    )
    op.create_index(
        "ix_lobby_members_lobby_joined",
        "lobby_members",
        ["lobby_id", "joined_at", "id"],
    )
    op.create_index(op.f("ix_lobby_members_user_id"), "lobby_members", ["user_id"])

    op.create_table(
        "messages",
        sa.Column("id", ID, nullable=False),
        sa.Column("lobby_id", ID, nullable=False),
        sa.Column("sender_id", ID, nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("deleted", sa.Boolean(), nullable=False),
        sa.Column("deleted_at", TIMESTAMP, nullable=True),
        sa.Column("deleted_by_id", ID, nullable=True),
        sa.Column("client_message_id", sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(
            ["deleted_by_id"],
            ["users.id"],
            name=op.f("fk_messages_deleted_by_id_users"),
        ),
        sa.ForeignKeyConstraint(
            ["lobby_id"],
            ["lobbies.id"],
            name=op.f("fk_messages_lobby_id_lobbies"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(["sender_id"], ["users.id"], name=op.f("fk_messages_sender_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_messages")),
        sa.UniqueConstraint(
            "lobby_id",
            "sender_id",
            "client_message_id",
            name=op.f("uq_messages_lobby_id_sender_id_client_message_id"),
        ),
    )
    op.create_index("ix_messages_lobby_id_id", "messages", ["lobby_id", "id"])


def downgrade() -> None:
    op.drop_index("ix_messages_lobby_id_id", table_name="messages")

    op.drop_table("messages")
    op.drop_index(op.f("ix_lobby_members_user_id"), table_name="lobby_members")
    op.drop_index("ix_lobby_members_lobby_joined", table_name="lobby_members")

    op.drop_table("lobby_members")
    op.drop_index("ix_lobby_log_lobby_id_id", table_name="lobby_log")

    op.drop_table("lobby_log")
    op.drop_table("lobby_bans")
    op.drop_index(op.f("ix_refresh_tokens_user_id"), table_name="refresh_tokens")

    op.drop_table("refresh_tokens")
    op.drop_index("ix_lobbies_status_public_id", table_name="lobbies")
    op.drop_index("ix_lobbies_owner_status", table_name="lobbies")

    op.drop_table("lobbies")
    op.drop_table("users")
