// The GraphQL client: urql over HTTP for queries and mutations, graphql-ws (graphql-transport-ws) for
// subscriptions. Tokens are refreshed before they expire; the app resubscribes itself after a drop.
import {
  Client,
  CombinedError,
  fetchExchange,
  subscriptionExchange,
  type AnyVariables,
  type TypedDocumentNode,
} from "@urql/core";
import { createClient as createWsClient, type Client as WsClient } from "graphql-ws";
import { onEnd, pipe, subscribe as subscribeTo } from "wonka";

import { LogoutMutation, RefreshTokenMutation } from "./operations";
import { expiresAt, refreshMargin, session, setSession, storedSession } from "./session";

export class ApiError extends Error {
  readonly code: string;
  readonly extensions: Record<string, unknown>;

  constructor(code: string, message: string, extensions: Record<string, unknown> = {}) {
    super(message);
    this.code = code;
    this.extensions = extensions;
  }

  get field(): string | null {
    return typeof this.extensions.field === "string" ? this.extensions.field : null;
  }
}

/** The first GraphQL error as an ApiError; a transport failure is code NETWORK. */
export function toApiError(error: CombinedError): ApiError {
  const first = error.graphQLErrors[0];
  if (first) {
    const extensions = (first.extensions ?? {}) as Record<string, unknown>;
    const code = typeof extensions.code === "string" ? extensions.code : "INTERNAL";
    return new ApiError(code, first.message, extensions);
  }
  // A dropped socket arrives as its CloseEvent: keep the close code (4403, 4429…).
  const network: unknown = error.networkError;
  const closeCode =
    typeof network === "object" && network !== null && "code" in network && typeof network.code === "number"
      ? network.code
      : null;
  return new ApiError("NETWORK", "The server cannot be reached.", closeCode === null ? {} : { closeCode });
}

/**
 * After a subscription lost its socket: null to resubscribe, or why not to. A socket refused with
 * 4403 (token expired or revoked) gets one token refresh first; 4429 (too many sockets) is final.
 */
export async function whyNotResubscribe(error: ApiError): Promise<string | null> {
  const closeCode = error.extensions.closeCode;
  if (closeCode === 4429) {
    return "This account has too many open connections: close another tab, then reload this page.";
  }
  if (closeCode === 4403 && !(await refreshSession())) {
    return "Your session has ended: please log in again.";
  }
  return null;
}

const wsUrl = `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/graphql`;

type SocketListener = (state: "connected" | "closed", code?: number) => void;
const socketListeners = new Set<SocketListener>();

export function onSocketState(listener: SocketListener): () => void {
  socketListeners.add(listener);
  return () => socketListeners.delete(listener);
}

export const ws: WsClient = createWsClient({
  url: wsUrl,
  lazy: true,
  // No silent retry: a resubscription must carry `since` (the last message seen), so the views
  // resubscribe themselves when a subscription fails with a network error.
  retryAttempts: 0,
  keepAlive: 15_000,
  connectionParams: async () => {
    const token = await freshAccessToken();
    return token ? { token } : {};
  },
  on: {
    connected: () => socketListeners.forEach((listener) => listener("connected")),
    closed: (event) => {
      const code = (event as CloseEvent | undefined)?.code;
      socketListeners.forEach((listener) => listener("closed", code));
    },
  },
});

export const client = new Client({
  url: "/graphql",
  requestPolicy: "network-only",
  preferGetMethod: false,
  fetchOptions: (): RequestInit => {
    const current = session();
    return current ? { headers: { Authorization: `Bearer ${current.accessToken}` } } : {};
  },
  exchanges: [
    fetchExchange,
    subscriptionExchange({
      forwardSubscription: (request) => ({
        subscribe: (sink) => ({
          unsubscribe: ws.subscribe({ ...request, query: request.query ?? "" }, sink),
        }),
      }),
    }),
  ],
});

let refreshing: Promise<boolean> | null = null;

/** Rotates the refresh token (once at a time: reusing a spent one would revoke them all). */
export function refreshSession(): Promise<boolean> {
  refreshing ??= (async () => {
    const mine = session();
    if (!mine) return false;
    const stored = storedSession();
    if (stored && stored.refreshToken !== mine.refreshToken && expiresAt(stored.accessToken) > Date.now()) {
      setSession(stored); // another tab already rotated it
      return true;
    }
    const result = await client
      .mutation(RefreshTokenMutation, { refreshToken: mine.refreshToken }, { fetchOptions: {} })
      .toPromise();
    if (result.data) {
      const payload = result.data.refreshToken;
      setSession({
        accessToken: payload.accessToken,
        refreshToken: payload.refreshToken,
        user: payload.user,
      });
      return true;
    }
    if (result.error && toApiError(result.error).code !== "NETWORK") setSession(null);
    return false;
  })().finally(() => {
    refreshing = null;
  });
  return refreshing;
}

/** The access token, refreshed first when it is about to expire; null when signed out. */
export async function freshAccessToken(): Promise<string | null> {
  const current = session();
  if (!current) return null;
  if (expiresAt(current.accessToken) - Date.now() < refreshMargin(current.accessToken))
    await refreshSession();
  return session()?.accessToken ?? null;
}

/** A read that failed on the network or the server is tried again this many times, this far apart. */
const QUERY_RETRIES_MS = [500, 2000];

async function execute<Data, Variables extends AnyVariables>(
  kind: "query" | "mutation",
  document: TypedDocumentNode<Data, Variables>,
  variables: Variables,
  refreshed = false,
  attempt = 0,
): Promise<Data> {
  await freshAccessToken();
  const result =
    kind === "query"
      ? await client.query(document, variables).toPromise()
      : await client.mutation(document, variables).toPromise();
  if (result.error) {
    const error = toApiError(result.error);
    if (error.code === "UNAUTHENTICATED" && session() && !refreshed && (await refreshSession())) {
      return execute(kind, document, variables, true, attempt);
    }
    // Reads change nothing, so a passing failure is retried; writes are left to the user.
    const delay = QUERY_RETRIES_MS[attempt];
    if (kind === "query" && (error.code === "NETWORK" || error.code === "INTERNAL") && delay !== undefined) {
      await new Promise((resolve) => setTimeout(resolve, delay));
      return execute(kind, document, variables, refreshed, attempt + 1);
    }
    throw error;
  }
  if (!result.data) throw new ApiError("INTERNAL", "The server sent no data.");
  return result.data;
}

export function query<Data, Variables extends AnyVariables>(
  document: TypedDocumentNode<Data, Variables>,
  variables: Variables,
): Promise<Data> {
  return execute("query", document, variables);
}

export function mutate<Data, Variables extends AnyVariables>(
  document: TypedDocumentNode<Data, Variables>,
  variables: Variables,
): Promise<Data> {
  return execute("mutation", document, variables);
}

export interface SubscriptionHandlers<Data> {
  next(data: Data): void;
  /** A refused subscription (GraphQL error) or a dropped socket (code NETWORK). */
  error(error: ApiError): void;
  /** The server completed it (left, kicked, banned, lobby closed). */
  complete(): void;
}

/** Subscribes through urql; returns the unsubscribe function. */
export function subscribe<Data, Variables extends AnyVariables>(
  document: TypedDocumentNode<Data, Variables>,
  variables: Variables,
  handlers: SubscriptionHandlers<Data>,
): () => void {
  let finished = false;
  const { unsubscribe } = pipe(
    client.subscription(document, variables),
    onEnd(() => {
      if (!finished) {
        finished = true;
        handlers.complete();
      }
    }),
    subscribeTo((result) => {
      if (finished) return;
      if (result.error) {
        finished = true;
        handlers.error(toApiError(result.error));
        queueMicrotask(() => unsubscribe());
      } else if (result.data) {
        handlers.next(result.data);
      }
    }),
  );
  return () => {
    finished = true;
    unsubscribe();
  };
}

/**
 * Signs out: spends the refresh token (without refreshing first, which would spend it and make
 * the logout look like reuse), forgets the session, and closes the socket.
 */
export async function logOut(): Promise<void> {
  if (refreshing) await refreshing;
  const current = session();
  if (current) {
    // Best effort: an unreachable server cannot keep the user signed in here.
    await client
      .mutation(LogoutMutation, { refreshToken: current.refreshToken }, { fetchOptions: {} })
      .toPromise();
  }
  setSession(null); // the views unsubscribe first…
  ws.terminate(); // …then the socket goes
}
