// What the user reads for each error code of the contract (extensions.code).
import { ApiError } from "./api";
import { formatDateTime } from "./dom";

export function describeError(error: unknown): string {
  if (!(error instanceof ApiError)) return "Something went wrong. Please try again.";
  switch (error.code) {
    case "NETWORK":
      return "The server cannot be reached. Check your connection and try again.";
    case "UNAUTHENTICATED":
      return error.message || "Please log in again.";
    case "FORBIDDEN":
      return "You are not allowed to do that.";
    case "PREMIUM_REQUIRED":
      return "Only premium members can create lobbies.";
    case "NOT_FOUND":
      return "That no longer exists.";
    case "LOBBY_FULL":
      return "This lobby is full.";
    case "LOBBY_NOT_OPEN":
      return "This lobby is not open: its game has started or it has closed.";
    case "BANNED": {
      const until = error.extensions.expiresAt;
      return typeof until === "string"
        ? `You are banned from this lobby until ${formatDateTime(until)}.`
        : "You are banned from this lobby.";
    }
    case "WRONG_PASSWORD":
      return "Wrong password for this lobby.";
    case "LOBBY_LOCKED":
      return "This lobby is locked: nobody can join right now.";
    case "MUTED":
      return "You are muted in this lobby.";
    case "MESSAGE_BLOCKED":
      return "This message contains a word that is not allowed here.";
    case "RATE_LIMITED":
      return "You are sending messages too fast.";
    case "CONFLICT":
    case "BAD_USER_INPUT":
      return error.message;
    default:
      return "Something went wrong on the server. Please try again.";
  }
}
