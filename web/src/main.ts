// Routes by the URL hash: #/login, #/lobbies, #/lobby/<id>, #/invite/<code>. Each view returns its cleanup.
import "./style.css";

import { session, onSessionChange } from "./session";
import { authView } from "./views/auth";
import { inviteView } from "./views/invite";
import { lobbiesView } from "./views/lobbies";
import { roomView } from "./views/room";

const root = document.getElementById("app")!;
let cleanup: () => void = () => undefined;
let pendingNotice: string | null = null;
/** An invite link opened while logged out: used once the user has logged in. */
let pendingInvite: string | null = null;

function route(): void {
  cleanup();
  let hash = location.hash || "#/lobbies";
  const invite = /^#\/invite\/([^/]+)$/.exec(hash);
  if (!session()) {
    if (invite) pendingInvite = decodeURIComponent(invite[1]!);
    if (hash !== "#/login") history.replaceState(null, "", "#/login");
    document.title = "Log in · Premium Chat Lobby";
    cleanup = authView(root);
    return;
  }
  if (invite || pendingInvite) {
    const code = invite ? decodeURIComponent(invite[1]!) : pendingInvite!;
    pendingInvite = null;
    hash = `#/invite/${encodeURIComponent(code)}`;
    if (location.hash !== hash) history.replaceState(null, "", hash);
    document.title = "Invite · Premium Chat Lobby";
    cleanup = inviteView(root, code);
    return;
  }
  const room = /^#\/lobby\/([^/]+)$/.exec(hash);
  if (room) {
    document.title = "Lobby · Premium Chat Lobby";
    cleanup = roomView(root, decodeURIComponent(room[1]!), (notice) => {
      pendingNotice = notice;
      location.hash = "#/lobbies";
    });
    return;
  }
  if (hash !== "#/lobbies") history.replaceState(null, "", "#/lobbies");
  document.title = "Lobbies · Premium Chat Lobby";
  const notice = pendingNotice;
  pendingNotice = null;
  cleanup = lobbiesView(root, notice);
}

window.addEventListener("hashchange", route);
onSessionChange(route);
route();
