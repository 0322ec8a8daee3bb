// Invite links for owner and moderators: create one (how many uses, how long), copy it, revoke it.
import { mutate, query } from "../api";
import { field, formatDateTime, h, keepingState, replaceChildren, say } from "../dom";
import type { InviteFieldsFragment } from "../gql/graphql";
import { describeError } from "../messages";
import { CreateInviteMutation, InvitesQuery, RevokeInviteMutation } from "../operations";

const EXPIRY_CHOICES: [string, number | null][] = [
  ["1 hour", 3600],
  ["1 day", 86_400],
  ["7 days", 604_800],
  ["30 days", 2_592_000],
  ["Never", null],
];

/** The link that opens the client on the invite route (#/invite/<code>). */
export function inviteLink(code: string): string {
  return `${location.origin}${location.pathname}#/invite/${encodeURIComponent(code)}`;
}

export interface InvitesPanel {
  element: HTMLElement;
  /** Reads the usable invites again (after a join spent one, or when the panel is shown). */
  refresh(): void;
}

export function invitesPanel(lobbyId: string): InvitesPanel {
  let invites: InviteFieldsFragment[] = [];
  let readToken = 0;
  const error = h("p", { role: "alert", class: "error", hidden: true });
  const status = h("p", { role: "status", class: "note" });
  const list = h("ul", { class: "invites", "aria-labelledby": "invites-heading" });
  const form = h(
    "form",
    { class: "invite-form" },
    h("label", { for: "invite-max-uses" }, "Most uses (empty: unlimited)"),
    h("input", { id: "invite-max-uses", name: "maxUses", type: "number", min: 1, max: 1000 }),
    h("label", { for: "invite-expiry" }, "Expires after"),
    h(
      "select",
      { id: "invite-expiry", name: "expiry" },
      EXPIRY_CHOICES.map(([label, seconds]) =>
        h("option", { value: seconds === null ? "" : String(seconds), selected: seconds === 86_400 }, label),
      ),
    ),
    h("button", { type: "submit" }, "Create invite"),
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    say(error, null);
    const maxUses = field(form, "maxUses");
    const expiry = field(form, "expiry");
    const button = form.querySelector("button")!;
    button.disabled = true;
    mutate(CreateInviteMutation, {
      lobbyId,
      maxUses: maxUses ? Number(maxUses) : null,
      expiresInSeconds: expiry ? Number(expiry) : null,
    })
      .then((data) => {
        invites = [data.createInvite, ...invites.filter((i) => i.code !== data.createInvite.code)];
        render();
        say(status, "Invite created: copy its link below.");
        refresh();
      })
      .catch((caught: unknown) => say(error, describeError(caught)))
      .finally(() => {
        button.disabled = false;
      });
  });

  function inviteItem(invite: InviteFieldsFragment): HTMLLIElement {
    const linkId = `invite-link-${invite.code}`;
    const link = h("input", {
      id: linkId,
      class: "invite-link",
      readonly: true,
      value: inviteLink(invite.code),
    });
    const copy = h("button", { type: "button", class: "secondary" }, "Copy link");
    copy.addEventListener("click", () => {
      link.select();
      const copied = navigator.clipboard
        ? navigator.clipboard.writeText(link.value)
        : Promise.reject(new Error("no clipboard"));
      copied.then(
        () => say(status, "Link copied."),
        () => say(status, "Copy the selected link with Ctrl+C (⌘C)."),
      );
    });
    const revoke = h(
      "button",
      { type: "button", class: "secondary", "aria-label": `Revoke invite ${invite.code}` },
      "Revoke",
    );
    revoke.addEventListener("click", () => {
      revoke.disabled = true;
      say(error, null);
      mutate(RevokeInviteMutation, { code: invite.code })
        .then(() => {
          invites = invites.filter((item) => item.code !== invite.code);
          render();
          say(status, "Invite revoked: its link no longer works.");
        })
        .catch((caught: unknown) => {
          revoke.disabled = false;
          say(error, describeError(caught));
        });
    });
    const uses = invite.maxUses === null ? `${invite.uses} uses` : `${invite.uses} / ${invite.maxUses} uses`;
    const expires = invite.expiresAt ? `expires ${formatDateTime(invite.expiresAt)}` : "never expires";
    return h(
      "li",
      { class: "invite", "data-code": invite.code },
      h("label", { for: linkId }, "Invite link"),
      link,
      h("p", { class: "facts" }, `${uses} · ${expires} · by ${invite.createdBy.username}`),
      h("div", { class: "invite-actions" }, copy, revoke),
    );
  }

  function render(): void {
    keepingState(list, () => {
      replaceChildren(list, invites.map(inviteItem));
      if (invites.length === 0) list.append(h("li", { class: "empty" }, "No usable invites."));
    });
  }

  function refresh(): void {
    const token = ++readToken;
    query(InvitesQuery, { id: lobbyId })
      .then((data) => {
        if (token !== readToken || !data.lobby) return;
        invites = data.lobby.invites;
        render();
      })
      .catch((caught: unknown) => say(error, describeError(caught)));
  }

  const element = h(
    "section",
    { class: "invites-panel", "aria-labelledby": "invites-heading" },
    h("h2", { id: "invites-heading" }, "Invites"),
    form,
    error,
    status,
    list,
  );
  render();
  return { element, refresh };
}
