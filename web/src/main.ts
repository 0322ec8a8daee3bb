// Routes by the URL hash: #/login, #/lobbies, #/lobby/<id>. Each view returns its cleanup.
import "./style.css";

import { session, onSessionChange } from "./session";
import { authView } from "./views/auth";
import { lobbiesView } from "./views/lobbies";
import { roomView } from "./views/room";

const root = document.getElementById("app")!;
let cleanup: () => void = () => undefined;
let pendingNotice: string | null = null;

function route(): void {
  cleanup();
  const hash = location.hash || "#/lobbies";
  if (!session()) {
    if (hash !== "#/login") history.replaceState(null, "", "#/login");
    document.title = "Log in · Premium Chat Lobby";
    cleanup = authView(root);
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
