// Opening an invite link (#/invite/<code>) while logged in: join by it, then enter the room.
import { ApiError, mutate } from "../api";
import { h, say } from "../dom";
import { describeError } from "../messages";
import { JoinByInviteMutation } from "../operations";
import { header } from "./header";

export function describeInviteError(error: unknown): string {
  if (error instanceof ApiError && error.code === "NOT_FOUND")
    return "This invite does not work any more: it was revoked, it expired or it was used up. Ask for a new one.";
  if (error instanceof ApiError && error.code === "CONFLICT")
    return "You are already a member of this lobby: open it from the lobby list.";
  return describeError(error);
}

export function inviteView(root: HTMLElement, code: string): () => void {
  let disposed = false;
  const status = h("p", { role: "status" }, "Joining the lobby…");
  const alert = h("p", { role: "alert", class: "error", hidden: true });
  const back = h("p", { hidden: true }, h("a", { href: "#/lobbies" }, "Back to the lobby list"));
  root.replaceChildren(
    header(),
    h("main", { id: "main", class: "invite-page" }, h("h1", { tabindex: -1 }, "Invite"), status, alert, back),
  );
  root.querySelector("h1")?.focus();
  mutate(JoinByInviteMutation, { code })
    .then((data) => {
      if (!disposed) location.replace(`#/lobby/${data.joinByInvite.id}`);
    })
    .catch((error: unknown) => {
      if (disposed) return;
      say(status, null);
      say(alert, `You could not join: ${describeInviteError(error)}`);
      back.hidden = false;
    });
  return () => {
    disposed = true;
  };
}
