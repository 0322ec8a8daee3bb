// The page header: who is signed in, and signing out.
import { logOut } from "../api";
import { h } from "../dom";
import { session } from "../session";

export function header(): HTMLElement {
  const current = session()!;
  const logout = h("button", { type: "button", class: "secondary" }, "Log out");
  logout.addEventListener("click", () => {
    logout.disabled = true;
    void logOut().then(() => {
      location.hash = "#/login";
    });
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
