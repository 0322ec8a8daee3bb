// The signed-in user and their tokens, kept in localStorage so a reload stays signed in.

export interface SessionUser {
  id: string;
  username: string;
  isPremium: boolean;
  isStaff: boolean;
}

export interface Session {
  accessToken: string;
  refreshToken: string;
  user: SessionUser;
}

const KEY = "premiumchat.session";
const listeners = new Set<() => void>();

function isSession(value: unknown): value is Session {
  if (typeof value !== "object" || value === null) return false;
  const record = value as Record<string, unknown>;
  return (
    typeof record.accessToken === "string" &&
    typeof record.refreshToken === "string" &&
    typeof record.user === "object" &&
    record.user !== null
  );
}

export function storedSession(): Session | null {
  try {
    const parsed: unknown = JSON.parse(localStorage.getItem(KEY) ?? "null");
    return isSession(parsed) ? parsed : null;
  } catch {
    return null;
  }
}

let current: Session | null = storedSession();

export function session(): Session | null {
  return current;
}

export function setSession(next: Session | null): void {
  const changedUser = current?.user.id !== next?.user.id;
  current = next;
  if (next) localStorage.setItem(KEY, JSON.stringify(next));
  else localStorage.removeItem(KEY);
  if (changedUser) for (const listener of listeners) listener();
}

/** Called when the user signs in or out (not on a token refresh). */
export function onSessionChange(listener: () => void): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

function claim(token: string, name: "exp" | "iat"): number {
  try {
    const payload = token.split(".")[1] ?? "";
    const json = atob(payload.replace(/-/g, "+").replace(/_/g, "/"));
    const value: unknown = (JSON.parse(json) as Record<string, unknown>)[name];
    return typeof value === "number" ? value * 1000 : 0;
  } catch {
    return 0;
  }
}

/** Milliseconds since the epoch at which a JWT expires (0 when unreadable). */
export function expiresAt(token: string): number {
  return claim(token, "exp");
}

/** How long before expiry to refresh: a minute, or a quarter of a shorter lifetime. */
export function refreshMargin(token: string): number {
  const lifetime = expiresAt(token) - claim(token, "iat");
  return lifetime > 0 ? Math.min(60_000, lifetime / 4) : 60_000;
}

// Another tab may sign out, or rotate the refresh token: follow it rather than reuse a spent token.
window.addEventListener("storage", (event) => {
  if (event.key !== KEY) return;
  const next = storedSession();
  const changedUser = current?.user.id !== next?.user.id;
  current = next;
  if (changedUser) for (const listener of listeners) listener();
});
