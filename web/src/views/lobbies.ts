// The live lobby list (filters, search, counts and status kept current by lobbyListUpdates),
// creating a lobby, and joining one (with its password when it has one).
import { ApiError, mutate, onSocketState, query, subscribe, whyNotResubscribe } from "../api";
import { field, h, keepingState, replaceChildren, say } from "../dom";
import type { LobbyFieldsFragment, LobbyOrder, LobbyStatus } from "../gql/graphql";
import { describeError } from "../messages";
import {
  CreateLobbyMutation,
  JoinLobbyMutation,
  LobbiesQuery,
  LobbyListUpdatesSubscription,
  MeQuery,
} from "../operations";
import { session, setSession } from "../session";
import { header } from "./header";

const PAGE_SIZE = 30;
const STATUS_TEXT: Record<LobbyStatus, string> = { OPEN: "Open", IN_GAME: "In game", CLOSED: "Closed" };

interface Filters {
  search: string;
  status: LobbyStatus | "";
  visibility: "" | "public" | "private";
  orderBy: LobbyOrder;
}

export function statusText(status: LobbyStatus): string {
  return STATUS_TEXT[status];
}

export function lobbiesView(root: HTMLElement, notice: string | null): () => void {
  const me = session()!.user;
  let lobbies: LobbyFieldsFragment[] = [];
  let totalCount = 0;
  let endCursor: string | null = null;
  let hasNextPage = false;
  let filters: Filters = { search: "", status: "", visibility: "", orderBy: "NEWEST" };
  let stopUpdates: (() => void) | null = null;
  let retryTimer: number | undefined;
  let retryDelay = 1000;
  let disposed = false;
  let loadToken = 0;
  const openPrompts = new Set<string>();

  const list = h("ul", { class: "lobby-list", "aria-labelledby": "lobbies-heading" });
  const count = h("p", { class: "count", role: "status" });
  const listError = h("p", { role: "alert", class: "error", hidden: true });
  const liveState = h("p", { class: "live-state", role: "status" }, "Connecting to live updates…");
  const moreButton = h("button", { type: "button", hidden: true }, "Show more lobbies");
  const noticeRegion = h("p", { role: "alert", class: "notice", hidden: !notice }, notice ?? "");

  // Filters.
  const filterForm = h(
    "form",
    { class: "filters", role: "search", "aria-label": "Filter lobbies" },
    h(
      "div",
      {},
      h("label", { for: "filter-search" }, "Search by name"),
      h("input", { id: "filter-search", name: "search", type: "search", autocomplete: "off" }),
    ),
    h(
      "div",
      {},
      h("label", { for: "filter-status" }, "Status"),
      h(
        "select",
        { id: "filter-status", name: "status" },
        h("option", { value: "" }, "Open and in game"),
        h("option", { value: "OPEN" }, "Open"),
        h("option", { value: "IN_GAME" }, "In game"),
        h("option", { value: "CLOSED" }, "Closed"),
      ),
    ),
    h(
      "div",
      {},
      h("label", { for: "filter-visibility" }, "Visibility"),
      h(
        "select",
        { id: "filter-visibility", name: "visibility" },
        h("option", { value: "" }, "All"),
        h("option", { value: "public" }, "Public"),
        h("option", { value: "private" }, "Private (mine)"),
      ),
    ),
    h(
      "div",
      {},
      h("label", { for: "filter-order" }, "Order"),
      h(
        "select",
        { id: "filter-order", name: "orderBy" },
        h("option", { value: "NEWEST" }, "Newest first"),
        h("option", { value: "MOST_PARTICIPANTS" }, "Most participants"),
        h("option", { value: "NAME" }, "Name A–Z"),
      ),
    ),
  );
  let filterTimer: number | undefined;
  const readFilters = (): void => {
    filters = {
      search: field(filterForm, "search").trim(),
      status: field(filterForm, "status") as Filters["status"],
      visibility: field(filterForm, "visibility") as Filters["visibility"],
      orderBy: (field(filterForm, "orderBy") || "NEWEST") as LobbyOrder,
    };
    void load(false);
  };
  filterForm.addEventListener("input", () => {
    window.clearTimeout(filterTimer);
    filterTimer = window.setTimeout(readFilters, 250);
  });
  filterForm.addEventListener("submit", (event) => {
    event.preventDefault();
    readFilters();
  });
  moreButton.addEventListener("click", () => void load(true));

  function variables(after: string | null) {
    return {
      filter: {
        search: filters.search || null,
        status: filters.status || null,
        isPublic: filters.visibility === "" ? null : filters.visibility === "public",
      },
      orderBy: filters.orderBy,
      first: PAGE_SIZE,
      after,
    };
  }

  /** Bumped by every live update: a page read that updates overtook is read again. */
  let updateVersion = 0;

  async function load(more: boolean, attempt = 0): Promise<void> {
    const token = ++loadToken;
    const version = updateVersion;
    try {
      const data = await query(LobbiesQuery, variables(more ? endCursor : null));
      if (disposed || token !== loadToken) return;
      if (version !== updateVersion && attempt < 5) return load(more, attempt + 1);
      const page = data.lobbies.edges.map((edge) => edge.node);
      lobbies = more
        ? [...lobbies, ...page.filter((lobby) => !lobbies.some((l) => l.id === lobby.id))]
        : page;
      totalCount = data.lobbies.totalCount;
      endCursor = data.lobbies.pageInfo.endCursor ?? null;
      hasNextPage = data.lobbies.pageInfo.hasNextPage;
      say(listError, null);
      render();
    } catch (error) {
      if (!disposed) say(listError, describeError(error));
    }
  }

  /** Whether a lobby from an update belongs in the list under the current filters. */
  function matches(lobby: LobbyFieldsFragment): boolean {
    if (filters.status ? lobby.status !== filters.status : lobby.status === "CLOSED") return false;
    if (!lobby.isPublic && lobby.myRole === null && !me.isStaff) return false;
    if (filters.visibility === "public" && !lobby.isPublic) return false;
    if (filters.visibility === "private" && lobby.isPublic) return false;
    return !filters.search || lobby.name.toLowerCase().includes(filters.search.toLowerCase());
  }

  function applyUpdate(lobby: LobbyFieldsFragment): void {
    updateVersion += 1;
    const index = lobbies.findIndex((item) => item.id === lobby.id);
    // The update is built for every subscriber: keep what only this viewer knows (their role).
    const merged = index >= 0 ? { ...lobby, myRole: lobbies[index]!.myRole } : lobby;
    if (index >= 0 && matches(merged)) {
      lobbies[index] = merged;
    } else if (index >= 0) {
      lobbies.splice(index, 1);
      totalCount = Math.max(0, totalCount - 1);
    } else if (matches(merged)) {
      if (filters.orderBy === "NEWEST") lobbies.unshift(merged);
      else lobbies.push(merged);
      totalCount += 1;
    } else {
      return;
    }
    if (filters.orderBy === "MOST_PARTICIPANTS") {
      lobbies.sort(
        (a, b) => b.participantCount - a.participantCount || b.createdAt.localeCompare(a.createdAt),
      );
    } else if (filters.orderBy === "NAME") {
      lobbies.sort((a, b) => a.name.localeCompare(b.name) || b.createdAt.localeCompare(a.createdAt));
    }
    render();
  }

  function listen(): void {
    stopUpdates = subscribe(
      LobbyListUpdatesSubscription,
      {},
      {
        next: (data) => {
          retryDelay = 1000;
          applyUpdate(data.lobbyListUpdates.lobby);
        },
        error: (error) => {
          stopUpdates = null;
          if (disposed) return;
          if (error.code === "NETWORK") {
            say(liveState, "Connection lost: reconnecting…");
            void whyNotResubscribe(error).then((reason) => {
              if (disposed) return;
              if (reason) {
                say(liveState, `Live updates stopped: ${reason}`);
                return;
              }
              retryTimer = window.setTimeout(() => {
                listen();
                void load(false); // catch up on what changed meanwhile
              }, retryDelay);
              retryDelay = Math.min(retryDelay * 2, 10_000);
            });
          } else {
            say(liveState, `Live updates stopped: ${describeError(error)}`);
          }
        },
        complete: () => {
          stopUpdates = null;
        },
      },
    );
  }

  function lobbyItem(lobby: LobbyFieldsFragment): HTMLLIElement {
    const headingId = `lobby-${lobby.id}-name`;
    const itemError = h("p", { role: "alert", class: "error", hidden: true });
    const facts = h(
      "p",
      { class: "facts" },
      h("span", { class: `status status-${lobby.status.toLowerCase()}` }, STATUS_TEXT[lobby.status]),
      " · ",
      h(
        "span",
        { class: "participants" },
        `${lobby.participantCount} / ${lobby.maxParticipants} participants`,
      ),
      lobby.hasPassword ? " · Password" : "",
      lobby.isPublic ? "" : " · Private",
      lobby.isLocked ? " · Locked" : "",
      lobby.slowModeSeconds > 0 ? ` · Slow mode: ${lobby.slowModeSeconds} s` : "",
      ` · by ${lobby.owner.username}`,
    );
    const tags = lobby.tags.length
      ? h(
          "ul",
          { class: "tags", "aria-label": `Tags of ${lobby.name}` },
          lobby.tags.map((tag) => h("li", {}, tag)),
        )
      : null;
    const item = h(
      "li",
      { class: "lobby", "aria-labelledby": headingId, "data-lobby-id": lobby.id },
      h("h3", { id: headingId }, lobby.name),
      facts,
      tags,
    );
    if (lobby.myRole !== null && lobby.myRole !== undefined) {
      item.append(
        h(
          "a",
          { id: `open-${lobby.id}`, class: "button", href: `#/lobby/${lobby.id}` },
          `Open ${lobby.name}`,
        ),
      );
    } else {
      const join = h(
        "button",
        { id: `join-${lobby.id}`, type: "button", "aria-label": `Join ${lobby.name}` },
        "Join",
      );
      join.addEventListener("click", () => {
        if (lobby.hasPassword) {
          openPrompts.add(lobby.id);
          render();
          (document.getElementById(`password-${lobby.id}`) as HTMLInputElement | null)?.focus();
        } else {
          void joinLobby(lobby, null, itemError);
        }
      });
      item.append(join);
      if (openPrompts.has(lobby.id)) item.append(passwordPrompt(lobby, itemError));
    }
    item.append(itemError);
    return item;
  }

  function passwordPrompt(lobby: LobbyFieldsFragment, itemError: HTMLElement): HTMLFormElement {
    const form = h(
      "form",
      { class: "password-prompt" },
      h("label", { for: `password-${lobby.id}` }, `Password for ${lobby.name}`),
      h("input", { id: `password-${lobby.id}`, name: "password", type: "password", required: true }),
      h("button", { type: "submit" }, "Join with password"),
      h("button", { type: "button", class: "secondary", "data-cancel": "" }, "Cancel"),
    );
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      void joinLobby(lobby, field(form, "password"), itemError);
    });
    form.querySelector("[data-cancel]")!.addEventListener("click", () => {
      openPrompts.delete(lobby.id);
      render();
    });
    return form;
  }

  async function joinLobby(lobby: LobbyFieldsFragment, password: string | null, itemError: HTMLElement) {
    say(itemError, null);
    try {
      await mutate(JoinLobbyMutation, { lobbyId: lobby.id, password });
      location.hash = `#/lobby/${lobby.id}`;
    } catch (error) {
      if (error instanceof ApiError && error.code === "CONFLICT") {
        location.hash = `#/lobby/${lobby.id}`; // already a member
        return;
      }
      say(itemError, `${lobby.name}: ${describeError(error)}`);
    }
  }

  function render(): void {
    keepingState(list, () => {
      replaceChildren(list, lobbies.map(lobbyItem));
      if (lobbies.length === 0) list.append(h("li", { class: "empty" }, "No lobbies match."));
    });
    count.textContent = `${totalCount} ${totalCount === 1 ? "lobby" : "lobbies"}`;
    moreButton.hidden = !hasNextPage;
  }

  const create = createSection();
  root.replaceChildren(
    header(),
    h(
      "main",
      { id: "main", class: "lobbies" },
      h("h1", { tabindex: -1 }, "Lobbies"),
      noticeRegion,
      h(
        "div",
        { class: "lobbies-grid" },
        h(
          "section",
          { "aria-labelledby": "lobbies-heading" },
          h("h2", { id: "lobbies-heading" }, "Find a lobby"),
          filterForm,
          liveState,
          count,
          listError,
          list,
          moreButton,
        ),
        create,
      ),
    ),
  );
  root.querySelector("h1")?.focus();
  const stopWatchingSocket = onSocketState((state) => {
    if (state === "connected" && stopUpdates) {
      retryDelay = 1000;
      say(liveState, "Live: the list updates by itself.");
    }
  });
  listen();
  void load(false);
  // Premium and staff are read on every request: show what the account may do now.
  void query(MeQuery, {}).then(
    (data) => {
      const current = session();
      if (disposed || !current) return;
      const before = current.user;
      setSession({ ...current, user: data.me });
      if (before.isPremium !== data.me.isPremium || before.isStaff !== data.me.isStaff) {
        create.replaceWith(createSection());
      }
    },
    () => undefined,
  );

  return () => {
    disposed = true;
    stopWatchingSocket();
    window.clearTimeout(retryTimer);
    window.clearTimeout(filterTimer);
    stopUpdates?.();
  };
}

function createSection(): HTMLElement {
  const me = session()!.user;
  if (!me.isPremium && !me.isStaff) {
    return h(
      "section",
      { "aria-labelledby": "create-heading", class: "create" },
      h("h2", { id: "create-heading" }, "Create a lobby"),
      h(
        "p",
        { class: "note" },
        "Creating lobbies is a premium feature, and your account is not premium. " +
          "You can still join any lobby.",
      ),
    );
  }
  const error = h("p", { role: "alert", class: "error", hidden: true });
  const form = h(
    "form",
    { class: "create-lobby" },
    h(
      "fieldset",
      {},
      h("legend", {}, "New lobby"),
      h("label", { for: "create-name" }, "Name"),
      h("input", { id: "create-name", name: "name", required: true, maxlength: 64 }),
      h("label", { for: "create-max" }, "Most participants (2–64)"),
      h("input", { id: "create-max", name: "maxParticipants", type: "number", min: 2, max: 64, value: 8 }),
      h(
        "label",
        { class: "check" },
        h("input", { name: "isPublic", type: "checkbox", checked: true }),
        " Listed publicly",
      ),
      h("label", { for: "create-password" }, "Password (optional, 4–64 characters)"),
      h("input", {
        id: "create-password",
        name: "password",
        type: "password",
        autocomplete: "new-password",
        minlength: 4,
        maxlength: 64,
      }),
      error,
      h("button", { type: "submit" }, "Create lobby"),
    ),
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    say(error, null);
    void (async () => {
      try {
        const data = await mutate(CreateLobbyMutation, {
          input: {
            name: field(form, "name"),
            maxParticipants: Number(field(form, "maxParticipants") || 8),
            isPublic: new FormData(form).has("isPublic"),
            password: field(form, "password") || null,
          },
        });
        location.hash = `#/lobby/${data.createLobby.id}`;
      } catch (caught) {
        say(error, describeError(caught));
      }
    })();
  });
  return h(
    "section",
    { "aria-labelledby": "create-heading", class: "create" },
    h("h2", { id: "create-heading" }, "Create a lobby"),
    form,
  );
}
