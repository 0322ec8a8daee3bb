"""Channel names: the one place that spells them, so publishers and subscribers agree."""

from __future__ import annotations

LOBBY_LIST_CHANNEL = "lobbies"


def lobby_channel(lobby_id: int) -> str:
    return f"lobby:{lobby_id}"


def user_channel(user_id: int) -> str:
    """Account-level events of one user (deactivation, for example)."""
    return f"user:{user_id}"
