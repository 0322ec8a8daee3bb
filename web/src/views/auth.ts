// Log in or register.
import { ApiError, mutate } from "../api";
import { field, h, say } from "../dom";
import { describeError } from "../messages";
import { LoginMutation, RegisterMutation } from "../operations";
import { setSession } from "../session";

export function authView(root: HTMLElement): () => void {
  const loginError = h("p", { role: "alert", class: "error", hidden: true });
  const registerError = h("p", { role: "alert", class: "error", hidden: true });

  const loginForm = h(
    "form",
    { "aria-labelledby": "login-heading", novalidate: false },
    h("h2", { id: "login-heading" }, "Log in"),
    h("label", { for: "login-username" }, "Username"),
    h("input", { id: "login-username", name: "username", autocomplete: "username", required: true }),
    h("label", { for: "login-password" }, "Password"),
    h("input", {
      id: "login-password",
      name: "password",
      type: "password",
      autocomplete: "current-password",
      required: true,
    }),
    loginError,
    h("button", { type: "submit" }, "Log in"),
  );
  loginForm.addEventListener("submit", (event) => {
    event.preventDefault();
    void submit(loginForm, loginError, async () => {
      const data = await mutate(LoginMutation, {
        username: field(loginForm, "username"),
        password: field(loginForm, "password"),
      });
      return data.login;
    });
  });

  const registerForm = h(
    "form",
    { "aria-labelledby": "register-heading" },
    h("h2", { id: "register-heading" }, "Create an account"),
    h("label", { for: "register-username" }, "Username"),
    h("input", {
      id: "register-username",
      name: "username",
      autocomplete: "username",
      required: true,
      minlength: 3,
      maxlength: 32,
      "aria-describedby": "register-username-hint",
    }),
    h("p", { id: "register-username-hint", class: "hint" }, "3–32 letters, digits, _ . or -"),
    h("label", { for: "register-email" }, "Email"),
    h("input", { id: "register-email", name: "email", type: "email", autocomplete: "email", required: true }),
    h("label", { for: "register-password" }, "Password"),
    h("input", {
      id: "register-password",
      name: "password",
      type: "password",
      autocomplete: "new-password",
      required: true,
      minlength: 8,
      "aria-describedby": "register-password-hint",
    }),
    h("p", { id: "register-password-hint", class: "hint" }, "At least 8 characters"),
    h("label", { for: "register-password-confirm" }, "Repeat the password"),
    h("input", {
      id: "register-password-confirm",
      name: "passwordConfirm",
      type: "password",
      autocomplete: "new-password",
      required: true,
      minlength: 8,
    }),
    registerError,
    h("button", { type: "submit" }, "Register"),
  );
  registerForm.addEventListener("submit", (event) => {
    event.preventDefault();
    void submit(registerForm, registerError, async () => {
      const data = await mutate(RegisterMutation, {
        input: {
          username: field(registerForm, "username"),
          email: field(registerForm, "email"),
          password: field(registerForm, "password"),
          passwordConfirm: field(registerForm, "passwordConfirm"),
        },
      });
      return data.register;
    });
  });

  root.replaceChildren(
    h(
      "main",
      { id: "main", class: "auth" },
      h("h1", { tabindex: -1 }, "Premium Chat Lobby"),
      h("div", { class: "auth-forms" }, loginForm, registerForm),
    ),
  );
  root.querySelector("h1")?.focus();
  return () => undefined;
}

async function submit(
  form: HTMLFormElement,
  errorRegion: HTMLElement,
  action: () => Promise<{
    accessToken: string;
    refreshToken: string;
    user: { id: string; username: string; isPremium: boolean; isStaff: boolean };
  }>,
): Promise<void> {
  const button = form.querySelector("button[type=submit]") as HTMLButtonElement;
  button.disabled = true;
  say(errorRegion, null);
  try {
    const payload = await action();
    // The router moves on by itself: to the lobby list, or to an invite opened while logged out.
    setSession({ accessToken: payload.accessToken, refreshToken: payload.refreshToken, user: payload.user });
  } catch (error) {
    const field = error instanceof ApiError ? error.field : null;
    say(errorRegion, describeError(error));
    if (field) (form.querySelector(`[name=${field}]`) as HTMLElement | null)?.focus();
  } finally {
    button.disabled = false;
  }
}
