// One lobby: chat with history scroll-back, who is online, typing, moderation, and a live feed that
// survives a dropped socket (resubscribing with `since`, the last message seen, so nothing is missed).
import { ApiError, mutate, onSocketState, query, subscribe, whyNotResubscribe } from "../api";
import { formatDateTime, formatTime, h, keepingState, replaceChildren, say } from "../dom";
import type {
  LobbyEventsSubscription,
  LobbyFieldsFragment,
  LobbyRole,
  MemberFieldsFragment,
  MessageFieldsFragment,
} from "../gql/graphql";
import { describeError } from "../messages";
import {
  AddModeratorMutation,
  BanUserMutation,
  DeleteMessageMutation,
  EditMessageMutation,
  EndGameMutation,
  JoinLobbyMutation,
  KickUserMutation,
  LeaveLobbyMutation,
  LobbyEventsSubscription as LobbyEventsDocument,
  MessagesQuery,
  MuteUserMutation,
  RemoveModeratorMutation,
  RoomQuery,
  SendMessageMutation,
  SetReadyMutation,
  SetTypingMutation,
  StartGameMutation,
  UnmuteUserMutation,
  UpdateLobbyMutation,
} from "../operations";
import { session } from "../session";
import { header } from "./header";
import { invitesPanel } from "./invites";
import { statusText } from "./lobbies";

type LobbyEvent = LobbyEventsSubscription["lobbyEvents"];

const HISTORY_PAGE = 50;
/** Renew our typing indicator this often while typing; halved TTL once our own TypingEvent shows it. */
const TYPING_RENEW_MS = 3000;
const BAN_DURATIONS: [string, number | null][] = [
  ["10 minutes", 600],
  ["1 hour", 3600],
  ["1 day", 86_400],
  ["7 days", 604_800],
  ["Permanently", null],
];

const MUTE_DURATIONS: [string, number | null][] = [
  ["5 minutes", 300],
  ["1 hour", 3600],
  ["1 day", 86_400],
  ["Until unmuted", null],
];

interface Member {
  id: string;
  username: string;
  role: LobbyRole;
  isReady: boolean;
  isMuted: boolean;
  /** When the mute ends (null: until unmuted, or not muted). */
  mutedUntil: string | null;
}

function toMember(member: MemberFieldsFragment): Member {
  return {
    id: member.user.id,
    username: member.user.username,
    role: member.role,
    isReady: member.isReady,
    isMuted: member.isMuted,
    mutedUntil: member.mutedUntil ?? null,
  };
}

/** A mute lapses by itself at mutedUntil; the server says isMuted false after that, and so do we. */
function mutedNow(member: Member | undefined): boolean {
  if (!member?.isMuted) return false;
  return member.mutedUntil === null || Date.parse(member.mutedUntil) > Date.now();
}

interface ChatLine {
  key: string;
  message: MessageFieldsFragment | null;
  /** Our own message on its way (or failed), matched to the real one by clientMessageId. */
  pending: { clientMessageId: string; content: string; failed: boolean } | null;
  /** A line about the room (joins, moderation) rather than a message. */
  notice: string | null;
  /** When, as an ISO string (empty while pending), and as milliseconds for ordering (pending last). */
  iso: string;
  at: number;
}

function messageLine(message: MessageFieldsFragment): ChatLine {
  const at = Date.parse(message.createdAt);
  return { key: `m${message.id}`, message, pending: null, notice: null, iso: message.createdAt, at };
}

function newClientMessageId(): string {
  if (typeof crypto.randomUUID === "function") return crypto.randomUUID();
  return Array.from(crypto.getRandomValues(new Uint8Array(16)), (b) => b.toString(16).padStart(2, "0")).join(
    "",
  );
}

export function roomView(
  root: HTMLElement,
  lobbyId: string,
  leave: (notice: string | null) => void,
): () => void {
  const me = session()!.user;
  let lobby: LobbyFieldsFragment | null = null;
  const members = new Map<string, Member>();
  const online = new Map<string, string>();
  const typing = new Map<string, { username: string; timer: number }>();
  let lines: ChatLine[] = [];
  let lastSeenId: string | null = null;
  let olderCursor: string | null = null;
  let hasOlder = false;
  let stop: (() => void) | null = null;
  let retryTimer: number | undefined;
  let retryDelay = 1000;
  let disposed = false;
  let ended = false;
  let rateLimitUntil = 0;
  let rateTimer: number | undefined;
  let muteTimer: number | undefined;
  /** The id of our own message being edited in place, if any. */
  let editing: string | null = null;
  let lastTypingSent = 0;
  let typingRenewMs = TYPING_RENEW_MS;
  /** Our own feed is open: we are online (the server sends nobody their own presence). */
  let live = false;

  // Layout.
  const title = h("h1", { tabindex: -1 }, "Lobby");
  const facts = h("p", { class: "facts" });
  const controls = h("div", { class: "controls" });
  const roomAlert = h("p", { role: "alert", class: "notice", hidden: true });
  const connection = h("p", { role: "status", class: "live-state" }, "Connecting…");
  const olderButton = h(
    "button",
    { type: "button", class: "secondary", hidden: true },
    "Load older messages",
  );
  const log = h("ol", { class: "messages", role: "log", "aria-live": "polite", "aria-label": "Messages" });
  const scroller = h("div", { class: "scroller" }, olderButton, log);
  const typingLine = h("p", { class: "typing", "aria-live": "polite" });
  const rateLine = h("p", { role: "alert", class: "error", hidden: true });
  const muteLine = h("p", { role: "alert", class: "error mute-line", hidden: true });
  const sendError = h("p", { role: "alert", class: "error", hidden: true });
  const input = h("input", {
    id: "composer",
    name: "content",
    autocomplete: "off",
    maxlength: 500,
    required: true,
  });
  const sendButton = h("button", { type: "submit" }, "Send");
  const composer = h(
    "form",
    { class: "composer" },
    h("label", { for: "composer" }, "Message"),
    h("div", { class: "composer-row" }, input, sendButton),
    typingLine,
    muteLine,
    rateLine,
    sendError,
  );
  const peopleList = h("ul", { class: "people" });
  const peopleHeading = h("h2", { id: "people-heading" }, "People");
  const actionError = h("p", { role: "alert", class: "error", hidden: true });
  const invites = invitesPanel(lobbyId);
  invites.element.hidden = true;

  root.replaceChildren(
    header(),
    h(
      "main",
      { id: "main", class: "room" },
      h("p", {}, h("a", { href: "#/lobbies" }, "← All lobbies")),
      title,
      facts,
      controls,
      roomAlert,
      connection,
      h(
        "div",
        { class: "room-grid" },
        h("section", { class: "chat", "aria-label": "Chat" }, scroller, composer),
        h(
          "section",
          { class: "side", "aria-labelledby": "people-heading" },
          peopleHeading,
          actionError,
          peopleList,
          invites.element,
        ),
      ),
    ),
  );
  title.focus();

  // ---- Rendering --------------------------------------------------------------------------

  function myRole(): LobbyRole | null {
    return members.get(me.id)?.role ?? null;
  }

  function canModerate(target: Member): boolean {
    if (target.id === me.id || target.role === "OWNER") return false;
    const role = myRole();
    if (me.isStaff || role === "OWNER") return true;
    return role === "MODERATOR" && target.role === "MEMBER";
  }

  function renderHeader(): void {
    if (!lobby) return;
    title.textContent = lobby.name;
    const participants = members.size || lobby.participantCount;
    const ready = members.size
      ? [...members.values()].filter((member) => member.isReady).length
      : lobby.readyCount;
    replaceChildren(
      facts,
      `${statusText(lobby.status)} · ${participants} / ${lobby.maxParticipants} participants`,
      lobby.isPublic ? "" : " · Private",
      lobby.hasPassword ? " · Password" : "",
      lobby.isLocked ? " · Locked" : "",
      ` · owner ${lobby.owner.username}`,
      lobby.status === "OPEN"
        ? [" · ", h("span", { class: "ready-count" }, `Ready: ${ready} / ${participants}`)]
        : null,
      lobby.slowModeSeconds > 0
        ? [" · ", h("span", { class: "slow-mode" }, `Slow mode: ${lobby.slowModeSeconds} s`)]
        : null,
      lobby.tags.length ? ` · tags: ${lobby.tags.join(", ")}` : "",
    );
    const buttons: HTMLElement[] = [];
    const owner = myRole() === "OWNER" || me.isStaff;
    const mine = members.get(me.id);
    if (!ended && mine && lobby.status === "OPEN") {
      const readyButton = actionButton("Ready", async () => {
        const data = await mutate(SetReadyMutation, { lobbyId, isReady: !mine.isReady });
        members.set(me.id, toMember(data.setReady));
        renderHeader();
        renderPeople();
      });
      readyButton.id = "ready-toggle";
      readyButton.setAttribute("aria-pressed", String(mine.isReady));
      readyButton.classList.add("toggle");
      buttons.push(readyButton);
    }
    if (!ended && owner && lobby.status === "OPEN")
      buttons.push(actionButton("Start game", () => mutate(StartGameMutation, { lobbyId })));
    if (!ended && owner && lobby.status === "IN_GAME")
      buttons.push(actionButton("End game", () => mutate(EndGameMutation, { lobbyId })));
    if (!ended && myRole() !== null && lobby.status !== "CLOSED") {
      buttons.push(
        actionButton(
          "Leave lobby",
          async () => {
            await mutate(LeaveLobbyMutation, { lobbyId });
            leave(`You left ${lobby?.name ?? "the lobby"}.`);
          },
          "secondary",
        ),
      );
    }
    if (!ended && owner && lobby.status !== "CLOSED") {
      buttons.push(
        actionButton(
          lobby.isLocked ? "Unlock lobby" : "Lock lobby",
          () =>
            mutate(UpdateLobbyMutation, { lobbyId, input: { isLocked: !lobby?.isLocked } }).then(applyLobby),
          "secondary",
        ),
      );
    }
    keepingState(controls, () => {
      replaceChildren(controls, buttons);
      if (!ended && owner && lobby?.status !== "CLOSED") controls.append(slowModeForm());
    });
    const moderator = myRole() === "OWNER" || myRole() === "MODERATOR" || me.isStaff;
    const showInvites = !ended && moderator && lobby.status !== "CLOSED";
    if (showInvites && invites.element.hidden) invites.refresh();
    invites.element.hidden = !showInvites;
  }

  /** The owner's slow mode setting: seconds between two messages of a member (0 turns it off). */
  function slowModeForm(): HTMLFormElement {
    const input = h("input", {
      id: "slow-mode-seconds",
      name: "slowModeSeconds",
      type: "number",
      min: 0,
      max: 3600,
      required: true,
      value: lobby?.slowModeSeconds ?? 0,
    });
    const button = h("button", { type: "submit", class: "secondary" }, "Set slow mode");
    const form = h(
      "form",
      { class: "slow-mode-form" },
      h("label", { for: "slow-mode-seconds" }, "Slow mode (seconds between messages, 0: off)"),
      h("div", { class: "composer-row" }, input, button),
    );
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      button.disabled = true;
      say(actionError, null);
      mutate(UpdateLobbyMutation, { lobbyId, input: { slowModeSeconds: Number(input.value || 0) } })
        .then(applyLobby)
        .catch((error: unknown) => say(actionError, describeError(error)))
        .finally(() => {
          button.disabled = false;
        });
    });
    return form;
  }

  function applyLobby(data: { updateLobby: LobbyFieldsFragment }): void {
    lobby = { ...data.updateLobby, myRole: lobby?.myRole ?? data.updateLobby.myRole };
    renderHeader();
  }

  function actionButton(label: string, action: () => Promise<unknown>, kind = ""): HTMLButtonElement {
    const button = h("button", { type: "button", class: kind }, label);
    button.addEventListener("click", () => {
      button.disabled = true;
      say(actionError, null);
      action()
        .catch((error: unknown) => say(actionError, describeError(error)))
        .finally(() => {
          button.disabled = false;
        });
    });
    return button;
  }

  function renderPeople(): void {
    const sorted = [...members.values()].sort((a, b) => {
      const rank = { OWNER: 0, MODERATOR: 1, MEMBER: 2 } as const;
      return rank[a.role] - rank[b.role] || a.username.localeCompare(b.username);
    });
    const isOnline = (id: string): boolean => online.has(id) || (id === me.id && live);
    peopleHeading.textContent = `People (${sorted.filter((member) => isOnline(member.id)).length} online)`;
    keepingState(peopleList, () =>
      replaceChildren(
        peopleList,
        sorted.map((member) => {
          const online = isOnline(member.id);
          const item = h(
            "li",
            { class: online ? "person online" : "person", "data-user": member.username },
            h("span", { class: "dot", "aria-hidden": "true" }),
            h("span", { class: "name" }, member.username, member.id === me.id ? " (you)" : ""),
            " ",
            h(
              "span",
              { class: "role" },
              member.role === "MEMBER" ? "" : member.role === "OWNER" ? "owner" : "moderator",
            ),
            " ",
            h("span", { class: "presence" }, online ? "online" : "offline"),
            member.isReady ? [" ", h("span", { class: "badge ready" }, "ready")] : null,
            mutedNow(member)
              ? [
                  " ",
                  h(
                    "span",
                    { class: "badge muted" },
                    member.mutedUntil ? `muted until ${formatTime(member.mutedUntil)}` : "muted",
                  ),
                ]
              : null,
          );
          if (!ended && canModerate(member)) item.append(moderationTools(member));
          return item;
        }),
      ),
    );
  }

  function moderationTools(member: Member): HTMLElement {
    const reasonId = `reason-${member.id}`;
    const durationId = `duration-${member.id}`;
    const reason = h("input", { id: reasonId, name: "reason", maxlength: 200 });
    const duration = h(
      "select",
      { id: durationId, name: "duration" },
      BAN_DURATIONS.map(([label, seconds]) =>
        h("option", { value: seconds === null ? "" : String(seconds) }, label),
      ),
    );
    const tools = h(
      "details",
      { id: `moderate-${member.id}`, class: "moderate" },
      h("summary", { id: `moderate-${member.id}-summary` }, `Moderate ${member.username}`),
      h("label", { for: reasonId }, "Reason (optional)"),
      reason,
      actionButton(`Kick ${member.username}`, () =>
        mutate(KickUserMutation, { lobbyId, userId: member.id, reason: reason.value.trim() || null }),
      ),
      h("label", { for: durationId }, "Ban for"),
      duration,
      actionButton(`Ban ${member.username}`, () =>
        mutate(BanUserMutation, {
          lobbyId,
          userId: member.id,
          reason: reason.value.trim() || null,
          durationSeconds: duration.value ? Number(duration.value) : null,
        }),
      ),
    );
    if (mutedNow(member)) {
      tools.append(
        actionButton(`Unmute ${member.username}`, () =>
          mutate(UnmuteUserMutation, { lobbyId, userId: member.id }),
        ),
      );
    } else {
      const muteId = `mute-duration-${member.id}`;
      const muteDuration = h(
        "select",
        { id: muteId, name: "muteDuration" },
        MUTE_DURATIONS.map(([label, seconds]) =>
          h("option", { value: seconds === null ? "" : String(seconds) }, label),
        ),
      );
      tools.append(
        h("label", { for: muteId }, "Mute for"),
        muteDuration,
        actionButton(`Mute ${member.username}`, () =>
          mutate(MuteUserMutation, {
            lobbyId,
            userId: member.id,
            reason: reason.value.trim() || null,
            durationSeconds: muteDuration.value ? Number(muteDuration.value) : null,
          }),
        ),
      );
    }
    if (myRole() === "OWNER" || me.isStaff) {
      tools.append(
        member.role === "MODERATOR"
          ? actionButton(`Remove ${member.username} as moderator`, () =>
              mutate(RemoveModeratorMutation, { lobbyId, userId: member.id }),
            )
          : actionButton(`Make ${member.username} a moderator`, () =>
              mutate(AddModeratorMutation, { lobbyId, userId: member.id }),
            ),
      );
    }
    return tools;
  }

  function lineElement(line: ChatLine): HTMLLIElement {
    if (line.notice !== null) {
      return h(
        "li",
        { class: "notice-line" },
        h("time", { datetime: line.iso }, formatTime(line.iso)),
        " ",
        line.notice,
      );
    }
    if (line.pending) {
      const item = h(
        "li",
        { class: line.pending.failed ? "message failed" : "message pending" },
        h("span", { class: "sender" }, me.username),
        " ",
        h("span", { class: "content" }, line.pending.content),
        " ",
        h("span", { class: "state" }, line.pending.failed ? "not sent" : "sending…"),
      );
      if (line.pending.failed) {
        const pending = line.pending;
        const retry = h("button", { type: "button", class: "link" }, "Retry");
        retry.addEventListener("click", () => void send(pending.content, pending.clientMessageId));
        item.append(" ", retry);
      }
      return item;
    }
    const message = line.message!;
    const item = h(
      "li",
      { class: message.deleted ? "message deleted" : "message", "data-message-id": message.id },
      h("span", { class: "sender" }, message.sender.username),
      " ",
      h(
        "time",
        { datetime: message.createdAt, title: formatDateTime(message.createdAt) },
        formatTime(message.createdAt),
      ),
      " ",
      h("span", { class: "content" }, message.deleted ? "message deleted" : message.content),
      message.editedAt && !message.deleted
        ? [" ", h("span", { class: "edited", title: formatDateTime(message.editedAt) }, "(edited)")]
        : null,
    );
    if (message.sender.id === me.id && !message.deleted && !ended) {
      if (editing === message.id) {
        item.querySelector(".content")!.replaceWith(editForm(message));
      } else {
        const edit = h(
          "button",
          { id: `edit-${message.id}`, type: "button", class: "link", "aria-label": "Edit your message" },
          "Edit",
        );
        edit.addEventListener("click", () => startEditing(message.id));
        item.append(" ", edit);
      }
    }
    const role = myRole();
    const mayDelete = message.sender.id === me.id || role === "OWNER" || role === "MODERATOR" || me.isStaff;
    if (!message.deleted && !ended && mayDelete) {
      const remove = h(
        "button",
        {
          id: `delete-${message.id}`,
          type: "button",
          class: "link",
          "aria-label": `Delete message from ${message.sender.username}`,
        },
        "Delete",
      );
      remove.addEventListener("click", () => {
        mutate(DeleteMessageMutation, { messageId: message.id })
          .then((data) => {
            updateMessage({
              ...message,
              deleted: data.deleteMessage.deleted,
              content: data.deleteMessage.content,
            });
          })
          .catch((error: unknown) => say(sendError, describeError(error)));
      });
      item.append(" ", remove);
    }
    return item;
  }

  /** Redraws one message's line (a new line object is a new element). */
  function redraw(id: string | null): void {
    if (id === null) return;
    const index = messageIndex(id);
    if (index >= 0) lines[index] = { ...lines[index]! };
  }

  function startEditing(id: string | null): void {
    const previous = editing;
    editing = id;
    redraw(previous);
    redraw(id);
    renderLog();
    if (id) document.getElementById(`edit-input-${id}`)?.focus();
    else if (previous) document.getElementById(`edit-${previous}`)?.focus();
  }

  /** Editing our own message in place: Save, or Cancel (Escape); the server keeps the edit window. */
  function editForm(message: MessageFieldsFragment): HTMLFormElement {
    const inputId = `edit-input-${message.id}`;
    const field = h("input", {
      id: inputId,
      name: "content",
      autocomplete: "off",
      maxlength: 500,
      required: true,
      value: message.content,
    });
    const cancel = h("button", { type: "button", class: "secondary" }, "Cancel");
    const form = h(
      "form",
      { class: "edit-form" },
      h("label", { for: inputId }, "Edit message"),
      h("div", { class: "composer-row" }, field, h("button", { type: "submit" }, "Save"), cancel),
    );
    cancel.addEventListener("click", () => startEditing(null));
    field.addEventListener("keydown", (event) => {
      if (event.key === "Escape") startEditing(null);
    });
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      const content = field.value.trim();
      if (!content) return;
      say(sendError, null);
      mutate(EditMessageMutation, { messageId: message.id, content })
        .then((data) => {
          editing = null;
          updateMessage(data.editMessage);
          document.getElementById(`edit-${message.id}`)?.focus();
        })
        .catch((error: unknown) => {
          if (error instanceof ApiError && error.code === "MUTED") mutedByError(error);
          else if (error instanceof ApiError && error.code === "FORBIDDEN")
            say(sendError, "This message can no longer be edited: the time to edit it has passed.");
          else say(sendError, describeError(error));
        });
    });
    return form;
  }

  /** One element per line object: a changed line is a new object, so only what changed is redrawn. */
  let rendered = new WeakMap<ChatLine, HTMLLIElement>();

  /**
   * Brings the log in step with `lines`, moving and adding elements rather than redrawing them all,
   * so a screen reader announces new messages only. `rebuild` redraws every line (roles changed).
   */
  function renderLog(rebuild = false): void {
    const nearBottom = scroller.scrollHeight - scroller.scrollTop - scroller.clientHeight < 80;
    if (rebuild) rendered = new WeakMap();
    const wanted = lines.map((line) => {
      let element = rendered.get(line);
      if (!element) {
        element = lineElement(line);
        rendered.set(line, element);
      }
      return element;
    });
    const keep = new Set(wanted);
    for (const child of [...log.children]) if (!keep.has(child as HTMLLIElement)) child.remove();
    wanted.forEach((element, index) => {
      if (log.children[index] !== element) log.insertBefore(element, log.children[index] ?? null);
    });
    olderButton.hidden = !hasOlder;
    if (nearBottom) scroller.scrollTop = scroller.scrollHeight;
  }

  function renderTyping(): void {
    const names = [...typing.values()].map((entry) => entry.username);
    typingLine.textContent =
      names.length === 0
        ? ""
        : names.length === 1
          ? `${names[0]} is typing…`
          : `${names.join(", ")} are typing…`;
  }

  // ---- State changes ----------------------------------------------------------------------

  function messageIndex(id: string): number {
    return lines.findIndex((line) => line.message?.id === id);
  }

  /** Adds a message where it belongs by time (our own may come back over HTTP before earlier events). */
  function addMessage(message: MessageFieldsFragment): void {
    if (messageIndex(message.id) >= 0) return updateMessage(message);
    if (message.clientMessageId) {
      const pendingIndex = lines.findIndex(
        (line) => line.pending?.clientMessageId === message.clientMessageId,
      );
      if (pendingIndex >= 0) lines.splice(pendingIndex, 1);
    }
    const line = messageLine(message);
    let index = lines.length;
    while (index > 0 && lines[index - 1]!.at > line.at) index -= 1;
    lines.splice(index, 0, line);
    renderLog();
  }

  function updateMessage(message: MessageFieldsFragment): void {
    const index = messageIndex(message.id);
    if (index < 0) return;
    lines[index] = { ...lines[index]!, message: { ...lines[index]!.message!, ...message } };
    renderLog();
  }

  function addNotice(text: string, iso: string): void {
    lines.push({
      key: `n${lines.length}-${iso}`,
      message: null,
      pending: null,
      notice: text,
      iso,
      at: Date.parse(iso),
    });
    renderLog();
  }

  function setTypingUser(userId: string, username: string, until: string | null): void {
    const existing = typing.get(userId);
    if (existing) window.clearTimeout(existing.timer);
    typing.delete(userId);
    if (until && userId !== me.id) {
      const timer = window.setTimeout(
        () => {
          typing.delete(userId);
          renderTyping();
        },
        Math.max(0, new Date(until).getTime() - Date.now()),
      );
      typing.set(userId, { username, timer });
    }
    renderTyping();
  }

  function end(text: string): void {
    ended = true;
    live = false;
    stop?.();
    stop = null;
    window.clearTimeout(retryTimer);
    say(roomAlert, text);
    say(connection, null);
    composer.hidden = true;
    roomAlert.append(" ", h("a", { href: "#/lobbies" }, "Back to the lobby list"));
    renderHeader();
    renderPeople();
    renderLog(true);
    roomAlert.focus();
  }

  function handle(event: LobbyEvent): void {
    const { __typename: kind } = event;
    if (
      kind !== "ChatMessageEvent" &&
      kind !== "MessageDeletedEvent" &&
      kind !== "MessageEditedEvent" &&
      kind !== "MessagesPurgedEvent" &&
      kind !== "TypingEvent"
    ) {
      stateVersion += 1;
    }
    switch (event.__typename) {
      case "ChatMessageEvent":
        lastSeenId = event.message.id;
        addMessage(event.message);
        setTypingUser(event.message.sender.id, event.message.sender.username, null);
        break;
      case "MessageDeletedEvent": {
        const index = messageIndex(event.messageId);
        if (index >= 0) updateMessage({ ...lines[index]!.message!, deleted: true, content: "" });
        break;
      }
      case "PresenceJoinEvent":
        online.set(event.user.id, event.user.username);
        renderPeople();
        break;
      case "PresenceLeaveEvent":
        online.delete(event.user.id);
        setTypingUser(event.user.id, event.user.username, null);
        renderPeople();
        break;
      case "TypingEvent":
        if (event.user.id === me.id && event.isTyping && event.expiresAt) {
          const ttl = Date.parse(event.expiresAt) - Date.parse(event.occurredAt);
          if (ttl > 0) typingRenewMs = Math.max(1000, ttl / 2);
        }
        setTypingUser(event.user.id, event.user.username, event.isTyping ? (event.expiresAt ?? null) : null);
        break;
      case "MemberJoinedEvent":
        members.set(event.member.user.id, toMember(event.member));
        addNotice(`${event.member.user.username} joined the lobby.`, event.occurredAt);
        renderHeader();
        renderPeople();
        if (!invites.element.hidden) invites.refresh(); // a join by invite spent one of its uses
        break;
      case "MemberUpdatedEvent":
        // Ready flags (set by each member, reset by endGame); keep the mute we know of.
        if (members.has(event.member.user.id)) {
          members.set(event.member.user.id, toMember(event.member));
          renderHeader();
          renderPeople();
          renderComposer();
        }
        break;
      case "MessageEditedEvent":
        updateMessage(event.message);
        break;
      case "MessagesPurgedEvent":
        for (const id of event.messageIds) {
          const index = messageIndex(id);
          if (index >= 0) updateMessage({ ...lines[index]!.message!, deleted: true, content: "" });
        }
        break;
      case "MemberLeftEvent": {
        const wasOwner = members.get(event.user.id)?.role === "OWNER";
        members.delete(event.user.id);
        online.delete(event.user.id);
        addNotice(`${event.user.username} left the lobby.`, event.occurredAt);
        renderHeader();
        renderPeople();
        if (wasOwner) {
          // Ownership passed on (perhaps to us): read the roles again.
          void loadRoom()
            .then(() => renderLog(true))
            .catch(() => undefined);
        }
        break;
      }
      case "ModerationEvent":
        moderation(event);
        break;
      case "LobbyUpdatedEvent":
        lobby = { ...event.lobby, myRole: lobby?.myRole ?? null };
        renderHeader();
        if (event.lobby.status === "CLOSED") end(`${event.lobby.name} was closed.`);
        break;
      case "ReplayCompletedEvent":
        if (!event.recovered) void reloadHistory();
        // The feed is certainly registered now: what the room looks like can be read without a gap.
        void loadRoom().catch(() => undefined);
        break;
      default:
        break;
    }
  }

  function moderation(event: Extract<LobbyEvent, { __typename: "ModerationEvent" }>): void {
    const target = event.target;
    const because = event.reason ? ` (reason: ${event.reason})` : "";
    const until = event.expiresAt ? ` until ${formatDateTime(event.expiresAt)}` : " permanently";
    const mine = target.id === me.id;
    switch (event.action) {
      case "KICK":
        members.delete(target.id);
        online.delete(target.id);
        addNotice(
          `${event.actor.username} removed ${target.username} from the lobby${because}.`,
          event.occurredAt,
        );
        if (mine)
          end(
            `${event.actor.username} removed you from ${lobby?.name ?? "the lobby"}${because}. You may join again.`,
          );
        break;
      case "BAN":
        members.delete(target.id);
        online.delete(target.id);
        addNotice(`${event.actor.username} banned ${target.username}${until}${because}.`, event.occurredAt);
        if (mine)
          end(`${event.actor.username} banned you from ${lobby?.name ?? "the lobby"}${until}${because}.`);
        break;
      case "UNBAN":
        addNotice(`${event.actor.username} lifted the ban on ${target.username}.`, event.occurredAt);
        break;
      case "MUTE": {
        const member = members.get(target.id);
        if (member) members.set(target.id, { ...member, isMuted: true, mutedUntil: event.expiresAt ?? null });
        const muteUntil = event.expiresAt ? ` until ${formatDateTime(event.expiresAt)}` : " until unmuted";
        addNotice(
          mine
            ? `${event.actor.username} muted you${muteUntil}${because}.`
            : `${event.actor.username} muted ${target.username}${muteUntil}${because}.`,
          event.occurredAt,
        );
        renderComposer();
        break;
      }
      case "UNMUTE": {
        const member = members.get(target.id);
        if (member) members.set(target.id, { ...member, isMuted: false, mutedUntil: null });
        addNotice(
          mine
            ? `${event.actor.username} unmuted you.`
            : `${event.actor.username} unmuted ${target.username}.`,
          event.occurredAt,
        );
        renderComposer();
        break;
      }
      case "PURGE":
        addNotice(
          `${event.actor.username} removed the recent messages of ${target.username}.`,
          event.occurredAt,
        );
        break;
      case "MODERATOR_ADDED":
      case "MODERATOR_REMOVED": {
        const member = members.get(target.id);
        if (member) member.role = event.action === "MODERATOR_ADDED" ? "MODERATOR" : "MEMBER";
        addNotice(
          event.action === "MODERATOR_ADDED"
            ? `${event.actor.username} made ${target.username} a moderator.`
            : `${event.actor.username} removed ${target.username} as moderator.`,
          event.occurredAt,
        );
        renderHeader();
        if (mine) renderLog(true); // what we may delete changed
        break;
      }
      default:
        addNotice(`${event.actor.username} moderated ${target.username}${because}.`, event.occurredAt);
    }
    renderHeader();
    renderPeople();
  }

  // ---- Loading and the live feed -----------------------------------------------------------

  /** Bumped by every event that changes the lobby, its members or presence. */
  let stateVersion = 0;

  /**
   * Reads the lobby, its members and who is online. A read that events overtook (it was sent before
   * them, answered after them) is stale and is made again, so it never undoes what they said.
   */
  async function loadRoom(attempt = 0): Promise<boolean> {
    const version = stateVersion;
    const data = await query(RoomQuery, { id: lobbyId });
    if (disposed) return false;
    if (version !== stateVersion && attempt < 5) return loadRoom(attempt + 1);
    if (!data.lobby) {
      end("This lobby does not exist, or you may not see it.");
      return false;
    }
    lobby = data.lobby;
    members.clear();
    for (const member of data.lobby.members) members.set(member.user.id, toMember(member));
    online.clear();
    for (const user of data.lobby.onlineUsers) online.set(user.id, user.username);
    renderHeader();
    renderPeople();
    renderComposer();
    return true;
  }

  async function reloadHistory(): Promise<void> {
    const data = await query(MessagesQuery, { lobbyId, last: HISTORY_PAGE, before: null });
    if (disposed) return;
    const pending = lines.filter((line) => line.pending);
    lines = [];
    for (const edge of data.messages.edges) addMessage(edge.node);
    lines.push(...pending);
    hasOlder = data.messages.pageInfo.hasPreviousPage;
    olderCursor = data.messages.pageInfo.startCursor ?? null;
    const newest = data.messages.edges.at(-1)?.node.id ?? null;
    if (newest) lastSeenId = newest;
    renderLog();
    scroller.scrollTop = scroller.scrollHeight;
  }

  async function loadOlder(): Promise<void> {
    if (!olderCursor) return;
    olderButton.disabled = true;
    try {
      const data = await query(MessagesQuery, { lobbyId, last: HISTORY_PAGE, before: olderCursor });
      const previousHeight = scroller.scrollHeight;
      const older: ChatLine[] = data.messages.edges
        .filter((edge) => messageIndex(edge.node.id) < 0)
        .map((edge) => messageLine(edge.node));
      lines = [...older, ...lines];
      hasOlder = data.messages.pageInfo.hasPreviousPage;
      olderCursor = data.messages.pageInfo.startCursor ?? null;
      renderLog();
      scroller.scrollTop = scroller.scrollHeight - previousHeight; // keep what was on screen in place
    } catch (error) {
      say(sendError, describeError(error));
    } finally {
      olderButton.disabled = false;
    }
  }
  olderButton.addEventListener("click", () => void loadOlder());

  function listen(): void {
    const since = lastSeenId;
    stop = subscribe(
      LobbyEventsDocument,
      { lobbyId, since },
      {
        next: (data) => {
          if (!live) {
            live = true;
            say(connection, "Live");
            renderPeople();
          }
          handle(data.lobbyEvents);
        },
        error: (error) => {
          stop = null;
          live = false;
          if (disposed || ended) return;
          if (error.code === "NETWORK") {
            say(connection, "Connection lost: reconnecting…");
            online.clear();
            renderPeople();
            void whyNotResubscribe(error).then((reason) => {
              if (disposed || ended) return;
              if (reason) {
                end(reason);
                return;
              }
              retryTimer = window.setTimeout(reconnect, retryDelay);
              retryDelay = Math.min(retryDelay * 2, 10_000);
            });
          } else if (error.code === "BAD_USER_INPUT" && since) {
            // The message we last saw is gone: start over from the newest history.
            lastSeenId = null;
            void reloadHistory().then(listen);
          } else if (error.code === "FORBIDDEN" || error.code === "NOT_FOUND") {
            end(`You are no longer a member of ${lobby?.name ?? "this lobby"}.`);
          } else {
            end(describeError(error));
          }
        },
        complete: () => {
          stop = null;
          if (disposed || ended) return;
          end(`You are no longer in ${lobby?.name ?? "this lobby"}.`);
        },
      },
    );
    if (since === null) {
      // Nothing to resume from (an empty room): history after subscribing, so nothing falls between.
      void reloadHistory();
    }
    // The feed is live once the server answers; presence comes back with the room state.
    void loadRoom().catch(() => undefined);
  }

  const stopWatchingSocket = onSocketState((state) => {
    if (state === "connected" && stop && !ended) {
      retryDelay = 1000;
      live = true;
      say(connection, "Live");
      renderPeople();
    }
  });

  function reconnect(): void {
    if (disposed || ended) return;
    say(connection, "Reconnecting…");
    listen();
  }

  // ---- Sending and typing -----------------------------------------------------------------

  /** A refused send (global rate limit or the lobby's slow mode): a countdown from retryAfter. */
  function startRateLimit(seconds: number, why: string): void {
    rateLimitUntil = Date.now() + seconds * 1000;
    const tick = (): void => {
      const left = Math.ceil((rateLimitUntil - Date.now()) / 1000);
      if (left <= 0) {
        say(rateLine, null);
        renderComposer();
        return;
      }
      say(rateLine, `${why} You can send again in ${left} s.`);
      renderComposer();
      rateTimer = window.setTimeout(tick, 250);
    };
    window.clearTimeout(rateTimer);
    tick();
  }

  /**
   * The composer follows our mute: disabled, with the reason, until it ends (by its own time, or
   * when a moderator lifts it); and the send button waits out a rate limit.
   */
  function renderComposer(): void {
    const mine = members.get(me.id);
    const muted = mutedNow(mine);
    input.disabled = muted;
    sendButton.disabled = muted || Date.now() < rateLimitUntil;
    say(
      muteLine,
      !muted
        ? null
        : mine?.mutedUntil
          ? `You are muted in this lobby until ${formatDateTime(mine.mutedUntil)}: you can read, but not send messages until then.`
          : "You are muted in this lobby until a moderator unmutes you: you can read, but not send messages.",
    );
    // Wake up when the soonest mute ends, to lift it here too.
    window.clearTimeout(muteTimer);
    const ends = [...members.values()]
      .filter((member) => mutedNow(member) && member.mutedUntil)
      .map((member) => Date.parse(member.mutedUntil!));
    if (ends.length) {
      const wait = Math.min(...ends) - Date.now() + 250;
      muteTimer = window.setTimeout(
        () => {
          renderPeople();
          renderComposer();
        },
        Math.min(wait, 2 ** 31 - 1),
      );
    }
  }

  /** The server said MUTED (our mute event may still be on its way): show it from the error. */
  function mutedByError(error: ApiError): void {
    const mine = members.get(me.id);
    if (!mine) return;
    const until = error.extensions.expiresAt;
    members.set(me.id, { ...mine, isMuted: true, mutedUntil: typeof until === "string" ? until : null });
    renderPeople();
    renderComposer();
  }

  function setFailed(index: number, failed: boolean): void {
    const line = lines[index]!;
    lines[index] = { ...line, pending: { ...line.pending!, failed } };
  }

  async function send(content: string, clientMessageId: string): Promise<void> {
    say(sendError, null);
    const existing = lines.findIndex((line) => line.pending?.clientMessageId === clientMessageId);
    if (existing >= 0) setFailed(existing, false);
    else
      lines.push({
        key: `p${clientMessageId}`,
        message: null,
        pending: { clientMessageId, content, failed: false },
        notice: null,
        iso: "",
        at: Infinity,
      });
    renderLog();
    lastTypingSent = 0;
    try {
      const data = await mutate(SendMessageMutation, { lobbyId, content, clientMessageId });
      addMessage(data.sendMessage);
    } catch (error) {
      const index = lines.findIndex((line) => line.pending?.clientMessageId === clientMessageId);
      if (error instanceof ApiError && error.code === "NETWORK") {
        if (index >= 0) setFailed(index, true); // safe to retry: same clientMessageId
        renderLog();
        return;
      }
      if (index >= 0) lines.splice(index, 1);
      renderLog();
      if (!input.value) input.value = content;
      if (error instanceof ApiError && error.code === "RATE_LIMITED") {
        const retryAfter = Number(error.extensions.retryAfter ?? 1);
        const slowMode = lobby && lobby.slowModeSeconds > 0 && myRole() === "MEMBER" && !me.isStaff;
        startRateLimit(
          Number.isFinite(retryAfter) ? retryAfter : 1,
          slowMode
            ? `Slow mode is on: one message every ${lobby!.slowModeSeconds} s.`
            : "You are sending messages too fast.",
        );
      } else if (error instanceof ApiError && error.code === "MUTED") {
        mutedByError(error);
      } else {
        say(sendError, describeError(error));
      }
    }
  }

  composer.addEventListener("submit", (event) => {
    event.preventDefault();
    const content = input.value.trim();
    if (!content || Date.now() < rateLimitUntil || mutedNow(members.get(me.id))) return;
    input.value = "";
    void send(content, newClientMessageId());
  });

  input.addEventListener("input", () => {
    const now = Date.now();
    if (input.value.trim() && now - lastTypingSent > typingRenewMs) {
      lastTypingSent = now;
      mutate(SetTypingMutation, { lobbyId, isTyping: true }).catch((error: unknown) => {
        if (error instanceof ApiError && error.code === "MUTED") mutedByError(error);
      });
    } else if (!input.value.trim() && lastTypingSent) {
      lastTypingSent = 0;
      mutate(SetTypingMutation, { lobbyId, isTyping: false }).catch(() => undefined);
    }
  });

  // ---- Start ------------------------------------------------------------------------------

  void (async () => {
    try {
      if (!(await loadRoom())) return;
      if (myRole() === null && !me.isStaff) {
        await offerJoin();
        return;
      }
      await reloadHistory();
      listen();
    } catch (error) {
      if (!disposed) say(roomAlert, describeError(error));
    }
  })();

  /** Opened by link without being a member: join here (with the password if the lobby has one). */
  async function offerJoin(): Promise<void> {
    composer.hidden = true;
    say(connection, null);
    const error = h("p", { role: "alert", class: "error", hidden: true });
    const form = h(
      "form",
      { class: "password-prompt" },
      h("p", {}, "You are not a member of this lobby."),
      lobby?.hasPassword
        ? [
            h("label", { for: "join-password" }, "Password"),
            h("input", { id: "join-password", name: "password", type: "password", required: true }),
          ]
        : null,
      h("button", { type: "submit" }, "Join this lobby"),
      error,
    );
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      const password = (form.querySelector("#join-password") as HTMLInputElement | null)?.value ?? null;
      mutate(JoinLobbyMutation, { lobbyId, password })
        .then(async () => {
          form.remove();
          composer.hidden = false;
          await loadRoom();
          await reloadHistory();
          listen();
        })
        .catch((caught: unknown) => say(error, describeError(caught)));
    });
    controls.after(form);
  }

  return () => {
    disposed = true;
    stopWatchingSocket();
    stop?.();
    window.clearTimeout(retryTimer);
    window.clearTimeout(rateTimer);
    window.clearTimeout(muteTimer);
    for (const entry of typing.values()) window.clearTimeout(entry.timer);
  };
}
