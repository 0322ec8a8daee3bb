// The page header: who is signed in, and signing out.
import { closeSocket, mutate } from "../api";
import { h } from "../dom";
import { LogoutMutation } from "../operations";
import { session, setSession } from "../session";

export function header(): HTMLElement {
  const current = session()!;
  const logout = h("button", { type: "button", class: "secondary" }, "Log out");
  logout.addEventListener("click", () => {
    void (async () => {
      try {
        await mutate(LogoutMutation, { refreshToken: current.refreshToken });
      } catch {
        // Signing out locally is what matters; the refresh token expires by itself.
      }
      closeSocket();
      setSession(null);
      location.hash = "#/login";
    })();
  });
  return h(
    "header",
    { class: "site" },
    h("a", { href: "#/lobbies", class: "brand" }, "Premium Chat Lobby"),
    h(
      "p",
      { class: "who" },
      "Signed in as ",
      h("strong", {}, current.user.username),
      current.user.isPremium ? " (premium)" : "",
      current.user.isStaff ? " (staff)" : "",
    ),
    logout,
  );
}
