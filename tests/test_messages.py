"""Chat over HTTP, on both databases: history, sending, retries, the rate limit, deleting and typing."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest

from tests.accounts import set_user_flags
from tests.graphql import GraphQLClient
from tests.lobbies import LOBBIES, Users, app_with, code_of, log_summary, make_users
from tests.realtime import (
    LOBBY_MESSAGES,
    MESSAGES,
    SEND_MESSAGE,
    Chat,
    code_and_field,
    node_ids,
    recent,
)

RATE_LIMIT, RATE_WINDOW = 3, 2  # the defaults the `chat` fixture runs on


@pytest.fixture
def chat(gql: GraphQLClient) -> Chat:
    """The app on default settings: 3 messages per 2 s."""
    return Chat(gql)


@pytest.fixture
async def roomy(database_url: str) -> AsyncIterator[Chat]:
    """The app with a rate limit no test reaches, for tests that send many messages."""
    async with app_with(database_url, rate_limit_messages=10_000) as (client, _):
        yield Chat(client)


async def room(chat: Chat, database_url: str, *, public: bool = True) -> tuple[Users, str]:
    """ann owns the lobby, bob is a member, cat is not, sam is staff (not a member)."""
    users = await make_users(
        chat.gql, database_url, ["ann", "bob", "cat", "sam"], premium=["ann"], staff=["sam"]
    )
    lobby_id = (await chat.create_lobby(users["ann"], "Chat", isPublic=public))["id"]
    await chat.join(users["bob"], lobby_id)
    return users, lobby_id


async def field_error(
    chat: Chat, query: str, variables: dict[str, Any], token: str
) -> tuple[str | None, str | None]:
    return code_and_field(await chat.gql.error(query, variables, token))


# --- sending -------------------------------------------------------------------------------------


async def test_a_sent_message_comes_back_trimmed_with_its_fields(chat: Chat, database_url: str) -> None:
    users, lobby_id = await room(chat, database_url)
    before = datetime.now(UTC)
    message = await chat.send(users["bob"], lobby_id, "  hello there \n")
    assert message["id"].isdecimal(), message
    assert message["lobbyId"] == lobby_id
    assert message["sender"] == {"id": users["bob"].id, "username": users["bob"].username}
    assert message["content"] == "hello there"
    assert message["deleted"] is False
    assert message["clientMessageId"] is None
    assert recent(message["createdAt"], before, slack=10), message

    # Newlines and tabs inside are kept; the owner sends too; ids grow.
    second = await chat.send(users["ann"], lobby_id, "line one\n\tline two")
    assert second["content"] == "line one\n\tline two"
    assert int(second["id"]) > int(message["id"])


INVALID_CONTENTS = {
    "empty": "",
    "blank": " \n\t ",
    "501 characters": "x" * 501,
    "NUL": "a\x00b",
    "bell": "a\x07b",
    "escape": "a\x1b[31mred",
    "carriage return": "a\rb",
    "DEL": "a\x7fb",
}


async def test_invalid_content_is_refused(chat: Chat, database_url: str) -> None:
    users, lobby_id = await room(chat, database_url)
    for name, content in INVALID_CONTENTS.items():
        variables = {"lobbyId": lobby_id, "content": content}
        outcome = await field_error(chat, SEND_MESSAGE, variables, users["bob"].token)
        assert outcome == ("BAD_USER_INPUT", "content"), name
    assert await chat.history_ids(users["bob"], lobby_id) == []


async def test_content_limits_count_after_trimming(chat: Chat, database_url: str) -> None:
    users, lobby_id = await room(chat, database_url)
    longest = "y" * 500
    assert (await chat.send(users["bob"], lobby_id, f"  {longest}\n "))["content"] == longest
    assert (await chat.send(users["bob"], lobby_id, " z "))["content"] == "z"


async def test_who_may_send(chat: Chat, database_url: str) -> None:
    users, lobby_id = await room(chat, database_url)
    ann, bob, cat, sam = users["ann"], users["bob"], users["cat"], users["sam"]
    await chat.send(cat, lobby_id, "not a member", expect="FORBIDDEN")
    await chat.send(sam, lobby_id, "staff, not a member", expect="FORBIDDEN")
    await chat.send(None, lobby_id, "anonymous", expect="UNAUTHENTICATED")
    await chat.send(bob, "999999", "nowhere", expect="NOT_FOUND")
    assert await field_error(chat, SEND_MESSAGE, {"lobbyId": "abc", "content": "x"}, bob.token) == (
        "BAD_USER_INPUT",
        "lobbyId",
    )
    # A private lobby does not exist for outsiders.
    private_id = (await chat.create_lobby(ann, "Secret", isPublic=False))["id"]
    await chat.send(cat, private_id, "hello?", expect="NOT_FOUND")
    # A kicked member is an outsider again.
    await chat.kick(ann, lobby_id, bob)
    await chat.send(bob, lobby_id, "still here?", expect="FORBIDDEN")
    assert await chat.history_ids(ann, lobby_id) == []


async def test_authentication_comes_first_and_is_read_at_each_send(chat: Chat, database_url: str) -> None:
    # The account is read in the send's own transaction: it must still come before every other check.
    users, lobby_id = await room(chat, database_url)
    bob, cat = users["bob"], users["cat"]
    await chat.send(bob, lobby_id, "before")
    await set_user_flags(database_url, bob.id, is_active=False)
    for variables in (
        {"lobbyId": lobby_id, "content": "after"},
        {"lobbyId": "abc", "content": "after"},
        {"lobbyId": lobby_id, "content": " "},
        {"lobbyId": lobby_id, "content": "after", "clientMessageId": ""},
        {"lobbyId": "999999", "content": "after"},
    ):
        assert (await chat.gql.error(SEND_MESSAGE, variables, bob.token))["extensions"] == {
            "code": "UNAUTHENTICATED"
        }, variables
    await set_user_flags(database_url, bob.id, is_active=True)
    await chat.send(bob, lobby_id, "back")
    # Staff is read at the send too: the blocked terms stop applying to cat at once.
    await chat.join(cat, lobby_id)
    await chat.update(users["ann"], lobby_id, blockedTerms=["spoiler"])
    await chat.send(cat, lobby_id, "a spoiler", expect="MESSAGE_BLOCKED")
    await set_user_flags(database_url, cat.id, is_staff=True)
    assert (await chat.send(cat, lobby_id, "a spoiler"))["content"] == "a spoiler"
    contents = [edge["node"]["content"] for edge in (await chat.history(bob, lobby_id))["edges"]]
    assert contents == ["before", "back", "a spoiler"]


async def test_messages_go_on_in_game_and_stop_when_closed(chat: Chat, database_url: str) -> None:
    users, lobby_id = await room(chat, database_url)
    ann, bob, cat = users["ann"], users["bob"], users["cat"]
    await chat.start(ann, lobby_id)
    await chat.send(bob, lobby_id, "in game")
    await chat.close(ann, lobby_id)
    await chat.send(bob, lobby_id, "closed", expect="LOBBY_NOT_OPEN")
    await chat.send(ann, lobby_id, "closed", expect="LOBBY_NOT_OPEN")
    # Permission comes before state.
    await chat.send(cat, lobby_id, "closed", expect="FORBIDDEN")
    # The history stays readable.
    history = await chat.history(bob, lobby_id)
    assert [edge["node"]["content"] for edge in history["edges"]] == ["in game"]


# --- history -------------------------------------------------------------------------------------


async def test_history_runs_oldest_to_newest_and_pages_both_ways(roomy: Chat, database_url: str) -> None:
    chat = roomy
    users, lobby_id = await room(chat, database_url)
    bob = users["bob"]
    sent = [m["id"] for m in await chat.send_many(bob, lobby_id, 7)]
    assert sent == sorted(sent, key=int)

    everything = await chat.history(bob, lobby_id)
    assert node_ids(everything) == sent
    assert everything["pageInfo"]["hasPreviousPage"] is False
    assert everything["pageInfo"]["hasNextPage"] is False
    lobby = (await chat.gql.data(LOBBY_MESSAGES, {"id": lobby_id}, bob.token))["lobby"]
    assert node_ids(lobby["messages"]) == sent

    # Forwards with first/after.
    page = await chat.history(bob, lobby_id, first=3)
    assert node_ids(page) == sent[:3]
    assert page["pageInfo"]["hasNextPage"] is True
    assert page["pageInfo"]["hasPreviousPage"] is False
    assert page["pageInfo"]["startCursor"] == page["edges"][0]["cursor"]
    assert page["pageInfo"]["endCursor"] == page["edges"][-1]["cursor"]
    page = await chat.history(bob, lobby_id, first=3, after=page["pageInfo"]["endCursor"])
    assert node_ids(page) == sent[3:6]
    assert page["pageInfo"]["hasNextPage"] is True
    page = await chat.history(bob, lobby_id, first=3, after=page["pageInfo"]["endCursor"])
    assert node_ids(page) == sent[6:]
    assert page["pageInfo"]["hasNextPage"] is False

    # Backwards with last/before: each page still in chronological order.
    page = await chat.history(bob, lobby_id, last=3)
    assert node_ids(page) == sent[4:]
    assert page["pageInfo"]["hasPreviousPage"] is True
    page = await chat.history(bob, lobby_id, last=3, before=page["pageInfo"]["startCursor"])
    assert node_ids(page) == sent[1:4]
    assert page["pageInfo"]["hasPreviousPage"] is True
    page = await chat.history(bob, lobby_id, last=3, before=page["pageInfo"]["startCursor"])
    assert node_ids(page) == sent[:1]
    assert page["pageInfo"]["hasPreviousPage"] is False

    # Lobby.messages takes the same arguments.
    lobby = (await chat.gql.data(LOBBY_MESSAGES, {"id": lobby_id, "last": 2}, bob.token))["lobby"]
    assert node_ids(lobby["messages"]) == sent[5:]
    assert lobby["messages"]["pageInfo"]["hasPreviousPage"] is True


async def test_history_without_first_or_last_is_the_50_newest(roomy: Chat, database_url: str) -> None:
    chat = roomy
    users, lobby_id = await room(chat, database_url)
    sent = [m["id"] for m in await chat.send_many(users["bob"], lobby_id, 55)]
    page = await chat.history(users["ann"], lobby_id)
    assert node_ids(page) == sent[5:]
    assert page["pageInfo"]["hasPreviousPage"] is True
    earlier = await chat.history(users["ann"], lobby_id, before=page["pageInfo"]["startCursor"])
    assert node_ids(earlier) == sent[:5]
    assert earlier["pageInfo"]["hasPreviousPage"] is False


async def test_paging_while_messages_arrive_has_no_gap_and_no_duplicate(
    roomy: Chat, database_url: str
) -> None:
    chat = roomy
    users, lobby_id = await room(chat, database_url)
    bob = users["bob"]
    sent = [m["id"] for m in await chat.send_many(bob, lobby_id, 4)]
    seen: list[str] = []
    cursor = None
    for _ in range(10):
        page = await chat.history(bob, lobby_id, first=2, after=cursor)
        seen += node_ids(page)
        if not page["pageInfo"]["hasNextPage"]:
            break
        cursor = page["pageInfo"]["endCursor"]
        if len(sent) < 7:
            sent.append((await chat.send(users["ann"], lobby_id, "meanwhile"))["id"])
    assert seen == sent


BAD_PAGES: list[tuple[dict[str, Any], str]] = [
    ({"first": 101}, "first"),
    ({"last": 101}, "last"),
    ({"first": -1}, "first"),
    ({"first": 2, "last": 2}, "last"),
    ({"first": 2, "after": "garbage"}, "after"),
    ({"last": 2, "before": "garbage"}, "before"),
]


async def test_bad_page_arguments_are_refused(chat: Chat, database_url: str) -> None:
    users, lobby_id = await room(chat, database_url)
    for page, field in BAD_PAGES:
        variables = {"lobbyId": lobby_id, **page}
        outcome = await field_error(chat, MESSAGES, variables, users["bob"].token)
        assert outcome == ("BAD_USER_INPUT", field), page


async def test_a_cursor_of_another_list_is_refused(chat: Chat, database_url: str) -> None:
    users, lobby_id = await room(chat, database_url)
    lobbies = (await chat.gql.data(LOBBIES, {"first": 1}, users["bob"].token))["lobbies"]
    cursor = lobbies["edges"][0]["cursor"]
    variables = {"lobbyId": lobby_id, "first": 5, "after": cursor}
    assert await field_error(chat, MESSAGES, variables, users["bob"].token) == ("BAD_USER_INPUT", "after")


async def test_page_sizes_up_to_100_are_fine(chat: Chat, database_url: str) -> None:
    users, lobby_id = await room(chat, database_url)
    await chat.send(users["bob"], lobby_id, "only one")
    assert len((await chat.history(users["bob"], lobby_id, first=100))["edges"]) == 1
    assert len((await chat.history(users["bob"], lobby_id, last=100))["edges"]) == 1


async def test_who_may_read_the_history(chat: Chat, database_url: str) -> None:
    users, lobby_id = await room(chat, database_url)
    ann, bob, cat, sam = users["ann"], users["bob"], users["cat"], users["sam"]
    sent = (await chat.send(bob, lobby_id, "members only"))["id"]
    for reader in (ann, bob, sam):  # owner, member, staff who is not a member
        assert node_ids(await chat.history(reader, lobby_id)) == [sent]
    await chat.history(cat, lobby_id, expect="FORBIDDEN")
    await chat.history(None, lobby_id, expect="UNAUTHENTICATED")
    await chat.history(bob, "999999", expect="NOT_FOUND")

    # Lobby.messages of a visible lobby: the lobby is there, its messages are FORBIDDEN.
    body = await chat.gql.execute(LOBBY_MESSAGES, {"id": lobby_id}, cat.token)
    [error] = body["errors"]
    assert code_of(error) == "FORBIDDEN"
    assert error["path"][:2] == ["lobby", "messages"]

    # A private lobby does not exist for outsiders; staff read it.
    private_id = (await chat.create_lobby(ann, "Secret", isPublic=False))["id"]
    secret = (await chat.send(ann, private_id, "psst"))["id"]
    await chat.history(cat, private_id, expect="NOT_FOUND")
    assert node_ids(await chat.history(sam, private_id)) == [secret]

    # A kicked member reads no more.
    await chat.kick(ann, lobby_id, bob)
    await chat.history(bob, lobby_id, expect="FORBIDDEN")


# --- retries with clientMessageId -----------------------------------------------------------------


async def test_a_retry_with_the_same_client_id_returns_the_original(chat: Chat, database_url: str) -> None:
    users, lobby_id = await room(chat, database_url)
    ann, bob = users["ann"], users["bob"]
    first = await chat.send(bob, lobby_id, "original", "cmid-1")
    assert first["clientMessageId"] == "cmid-1"
    again = await chat.send(bob, lobby_id, "the retry says something else", "cmid-1")
    assert again == first
    assert await chat.history_ids(bob, lobby_id) == [first["id"]]

    # The client id is the sender's alone.
    [mine] = (await chat.history(bob, lobby_id))["edges"]
    assert mine["node"]["clientMessageId"] == "cmid-1"
    [theirs] = (await chat.history(ann, lobby_id))["edges"]
    assert theirs["node"]["clientMessageId"] is None
    assert theirs["node"]["content"] == "original"

    # Another user, or another lobby, may use the same client id for a message of its own.
    other = await chat.send(ann, lobby_id, "ann's", "cmid-1")
    assert other["id"] != first["id"]
    second_lobby = (await chat.create_lobby(ann, "Other"))["id"]
    await chat.join(bob, second_lobby)
    elsewhere = await chat.send(bob, second_lobby, "elsewhere", "cmid-1")
    assert elsewhere["id"] not in (first["id"], other["id"])
    assert elsewhere["content"] == "elsewhere"


async def test_a_retry_costs_no_rate_limit(chat: Chat, database_url: str) -> None:
    users, lobby_id = await room(chat, database_url)
    bob = users["bob"]
    first = await chat.send(bob, lobby_id, "one", "retry-me")
    await chat.send(bob, lobby_id, "two")
    await chat.send(bob, lobby_id, "three")
    # The limit is reached, yet the retry is answered: it is not a new message.
    for _ in range(3):
        assert await chat.send(bob, lobby_id, "one again", "retry-me") == first
    await chat.send(bob, lobby_id, "four", expect="RATE_LIMITED")
    await chat.send(bob, lobby_id, "four", "new-id", expect="RATE_LIMITED")
    assert len(await chat.history_ids(bob, lobby_id)) == 3


async def test_concurrent_sends_with_one_client_id_store_one_message(chat: Chat, database_url: str) -> None:
    users, lobby_id = await room(chat, database_url)
    bob = users["bob"]
    results = await asyncio.gather(
        *(
            chat.gql.execute(
                SEND_MESSAGE,
                {"lobbyId": lobby_id, "content": f"try {i}", "clientMessageId": "once"},
                bob.token,
            )
            for i in range(20)
        )
    )
    errors = [body["errors"] for body in results if body.get("errors")]
    assert errors == []
    messages = [body["data"]["sendMessage"] for body in results]
    assert len({m["id"] for m in messages}) == 1, messages
    assert len({m["content"] for m in messages}) == 1, messages
    assert all(m["clientMessageId"] == "once" for m in messages)
    assert await chat.history_ids(bob, lobby_id) == [messages[0]["id"]]
    # It cost one message of the limit: two more pass, the next does not.
    await chat.send(bob, lobby_id, "two")
    await chat.send(bob, lobby_id, "three")
    await chat.send(bob, lobby_id, "four", expect="RATE_LIMITED")


async def test_invalid_client_ids_are_refused(chat: Chat, database_url: str) -> None:
    users, lobby_id = await room(chat, database_url)
    for client_id in ("", "x" * 65, "a\x00b"):
        variables = {"lobbyId": lobby_id, "content": "hi", "clientMessageId": client_id}
        outcome = await field_error(chat, SEND_MESSAGE, variables, users["bob"].token)
        assert outcome == ("BAD_USER_INPUT", "clientMessageId"), client_id
    assert await chat.history_ids(users["bob"], lobby_id) == []
    assert (await chat.send(users["bob"], lobby_id, "hi", "x" * 64))["clientMessageId"] == "x" * 64


# --- the rate limit -------------------------------------------------------------------------------


def retry_after_of(error: dict[str, Any]) -> float:
    retry_after = error["extensions"]["retryAfter"]
    assert isinstance(retry_after, float | int), error
    assert not isinstance(retry_after, bool), error
    assert 0 < retry_after <= RATE_WINDOW, error
    return float(retry_after)


async def test_the_fourth_message_within_the_window_is_rate_limited(chat: Chat, database_url: str) -> None:
    users, lobby_id = await room(chat, database_url)
    ann, bob = users["ann"], users["bob"]
    other_lobby = (await chat.create_lobby(ann, "Other"))["id"]
    await chat.join(bob, other_lobby)
    # Across lobbies: the limit is per user.
    await chat.send(bob, lobby_id, "1")
    await chat.send(bob, other_lobby, "2")
    await chat.send(bob, lobby_id, "3")
    error = await chat.send(bob, other_lobby, "4", expect="RATE_LIMITED")
    retry_after = retry_after_of(error)
    # Refused attempts cost nothing, and other users are not affected.
    for _ in range(3):
        await chat.send(bob, lobby_id, "still 4", expect="RATE_LIMITED")
    await chat.send(ann, lobby_id, "ann is fine")
    await asyncio.sleep(retry_after + 0.05)
    await chat.send(bob, lobby_id, "4, later")
    assert len(await chat.history_ids(bob, lobby_id)) == 4  # 1, 3, ann's, 4 later


async def test_the_window_slides(chat: Chat, database_url: str) -> None:
    users, lobby_id = await room(chat, database_url)
    bob = users["bob"]
    await chat.send(bob, lobby_id, "t0")
    started = time.monotonic()
    await asyncio.sleep(1)
    await chat.send(bob, lobby_id, "t1 a")
    await chat.send(bob, lobby_id, "t1 b")
    error = await chat.send(bob, lobby_id, "too many", expect="RATE_LIMITED")
    # Until the oldest (t0) leaves the window, not a whole window.
    retry_after = retry_after_of(error)
    expected = RATE_WINDOW - (time.monotonic() - started)
    assert retry_after == pytest.approx(expected, abs=0.3), (retry_after, expected)
    await asyncio.sleep(retry_after + 0.05)
    await chat.send(bob, lobby_id, "t2")
    # t1 a, t1 b and t2 are still in the window.
    error = await chat.send(bob, lobby_id, "too many again", expect="RATE_LIMITED")
    assert retry_after_of(error) < 1


async def test_refused_messages_cost_nothing(chat: Chat, database_url: str) -> None:
    users, lobby_id = await room(chat, database_url)
    bob = users["bob"]
    variables = {"lobbyId": lobby_id, "content": "   "}
    for _ in range(4):
        await chat.gql.error(SEND_MESSAGE, variables, bob.token)
    await chat.send(bob, "999999", "nowhere", expect="NOT_FOUND")
    await chat.send(users["cat"], lobby_id, "outsider", expect="FORBIDDEN")
    for i in range(RATE_LIMIT):
        await chat.send(bob, lobby_id, f"accepted {i}")
    await chat.send(bob, lobby_id, "over", expect="RATE_LIMITED")


# --- deleting -------------------------------------------------------------------------------------


async def test_the_sender_deletes_softly(chat: Chat, database_url: str) -> None:
    users, lobby_id = await room(chat, database_url)
    ann, bob, sam = users["ann"], users["bob"], users["sam"]
    kept = await chat.send(ann, lobby_id, "kept")
    message = await chat.send(bob, lobby_id, "oops", "cmid-del")
    deleted = await chat.delete(bob, message["id"])
    assert deleted["id"] == message["id"]
    assert deleted["deleted"] is True
    assert deleted["content"] == ""
    assert deleted["sender"]["id"] == bob.id
    for reader in (ann, bob, sam):
        edges = (await chat.history(reader, lobby_id))["edges"]
        assert [(e["node"]["id"], e["node"]["deleted"], e["node"]["content"]) for e in edges] == [
            (kept["id"], False, "kept"),
            (message["id"], True, ""),
        ], reader.username

    log = log_summary(await chat.log(ann, lobby_id))
    assert log[-1] == ("MESSAGE_DELETED", bob.id, bob.id)

    # Deleting it again changes nothing.
    assert await chat.delete(bob, message["id"]) == deleted
    # (the client id is the sender's alone)
    assert await chat.delete(ann, message["id"]) == {**deleted, "clientMessageId": None}
    assert [entry[0] for entry in log_summary(await chat.log(ann, lobby_id))].count("MESSAGE_DELETED") == 1


async def test_who_may_delete(chat: Chat, database_url: str) -> None:
    users = await make_users(
        chat.gql,
        database_url,
        ["ann", "bob", "cat", "dan", "eve", "sam"],
        premium=["ann"],
        staff=["sam"],
    )
    ann, bob, cat, dan, eve, sam = (users[n] for n in ("ann", "bob", "cat", "dan", "eve", "sam"))
    lobby_id = (await chat.create_lobby(ann, "Chat"))["id"]
    for member in (bob, cat, dan):
        await chat.join(member, lobby_id)
    await chat.add_moderator(ann, lobby_id, dan)
    messages = [await chat.send(bob, lobby_id, f"bob {i}") for i in range(3)]
    four = await chat.send(cat, lobby_id, "cat's")

    # Another plain member, and an outsider, may not.
    await chat.delete(cat, messages[0]["id"], expect="FORBIDDEN")
    await chat.delete(eve, messages[0]["id"], expect="FORBIDDEN")
    await chat.delete(None, messages[0]["id"], expect="UNAUTHENTICATED")
    # The owner, a moderator and staff (not a member) may; the log names the deleter and the sender.
    for deleter, message in zip((ann, dan, sam), messages, strict=True):
        assert (await chat.delete(deleter, message["id"]))["deleted"] is True
    deleted = [entry for entry in log_summary(await chat.log(ann, lobby_id)) if entry[0] == "MESSAGE_DELETED"]
    assert deleted == [("MESSAGE_DELETED", who.id, bob.id) for who in (ann, dan, sam)]
    assert (await chat.delete(cat, four["id"]))["deleted"] is True

    await chat.delete(bob, "999999", expect="NOT_FOUND")
    assert code_and_field(
        await chat.gql.error('mutation { deleteMessage(messageId: "abc") { id } }', token=bob.token)
    ) == ("BAD_USER_INPUT", "messageId")


async def test_messages_of_a_private_lobby_do_not_exist_for_outsiders(chat: Chat, database_url: str) -> None:
    users, _ = await room(chat, database_url)
    private_id = (await chat.create_lobby(users["ann"], "Secret", isPublic=False))["id"]
    message = await chat.send(users["ann"], private_id, "psst")
    await chat.delete(users["cat"], message["id"], expect="NOT_FOUND")


async def test_nothing_is_deleted_in_a_closed_lobby(chat: Chat, database_url: str) -> None:
    users, lobby_id = await room(chat, database_url)
    message = await chat.send(users["bob"], lobby_id, "frozen")
    await chat.close(users["ann"], lobby_id)
    await chat.delete(users["bob"], message["id"], expect="LOBBY_NOT_OPEN")
    await chat.delete(users["sam"], message["id"], expect="LOBBY_NOT_OPEN")
    [edge] = (await chat.history(users["bob"], lobby_id))["edges"]
    assert edge["node"]["deleted"] is False


# --- typing and presence over HTTP ------------------------------------------------------------------


async def test_who_may_type(chat: Chat, database_url: str) -> None:
    users, lobby_id = await room(chat, database_url)
    ann, bob, cat, sam = users["ann"], users["bob"], users["cat"], users["sam"]
    assert await chat.typing(bob, lobby_id, True)
    assert await chat.typing(bob, lobby_id, False)
    assert await chat.typing(ann, lobby_id, True)
    assert await chat.typing(sam, lobby_id, True)  # staff, not a member
    await chat.typing(cat, lobby_id, True, expect="FORBIDDEN")
    await chat.typing(None, lobby_id, True, expect="UNAUTHENTICATED")
    await chat.typing(bob, "999999", True, expect="NOT_FOUND")
    private_id = (await chat.create_lobby(ann, "Secret", isPublic=False))["id"]
    await chat.typing(cat, private_id, True, expect="NOT_FOUND")
    await chat.start(ann, lobby_id)
    assert await chat.typing(bob, lobby_id, True)
    await chat.close(ann, lobby_id)
    await chat.typing(bob, lobby_id, True, expect="LOBBY_NOT_OPEN")


async def test_typing_has_its_own_looser_limit(chat: Chat, database_url: str) -> None:
    users, lobby_id = await room(chat, database_url)
    bob = users["bob"]
    for i in range(10):
        assert await chat.typing(bob, lobby_id, i % 2 == 0)
    error = await chat.typing(bob, lobby_id, True, expect="RATE_LIMITED")
    assert 0 < error["extensions"]["retryAfter"] <= 5
    # Typing took nothing from the message limit.
    for i in range(RATE_LIMIT):
        await chat.send(bob, lobby_id, f"message {i}")


async def test_messages_do_not_use_up_typing(chat: Chat, database_url: str) -> None:
    users, lobby_id = await room(chat, database_url)
    bob = users["bob"]
    for i in range(RATE_LIMIT):
        await chat.send(bob, lobby_id, f"message {i}")
    await chat.send(bob, lobby_id, "over", expect="RATE_LIMITED")
    assert await chat.typing(bob, lobby_id, True)


async def test_nobody_is_online_without_a_subscription(chat: Chat, database_url: str) -> None:
    users, lobby_id = await room(chat, database_url)
    assert await chat.online(users["ann"], lobby_id) == set()
    assert await chat.online(users["cat"], lobby_id) == set()
    assert await chat.online(users["sam"], lobby_id) == set()
