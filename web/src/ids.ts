// Identifiers the page reads from its URL and keeps in the browser. The event
// pattern matches the server's own validation, so a bad link is caught here
// with a clear message instead of as an InvalidArgument from the API.

const eventIdPattern = /^[A-Za-z0-9._-]{1,64}$/;

/**
 * A visitor id is 128 random bits, so nobody can guess another visitor's id
 * and act as them while the server trusts the user ids it is given.
 */
const visitorIdPattern = /^v-[0-9a-f]{32}$/;
const visitorKey = "waitroom.visitor";

/** The query parameter the shop's link carries the join token in. */
export const joinTokenParam = "join_token";

/**
 * A bearer token's characters (RFC 6750's b64token), and a bound well above
 * any signed JWT a shop sends: anything else cannot go in a header as it is.
 */
const joinTokenPattern = /^[A-Za-z0-9._~+/-]+=*$/;
const joinTokenMaxLength = 8192;

/** Where the page is: its event and the API's base URL. */
export interface Location {
  eventId: string;
  /** Same origin, plus whatever path prefix the page is mounted under. */
  baseUrl: string;
}

/**
 * parseLocation reads `/e/<event_id>` (optionally under a path prefix) from
 * the page's URL. It returns undefined for a path that is not an event page.
 */
export function parseLocation(url: URL): Location | undefined {
  const marker = url.pathname.lastIndexOf("/e/");
  if (marker < 0) {
    return undefined;
  }
  // Valid ids need no percent-encoding, so the raw path segment is the id.
  const eventId = url.pathname.slice(marker + 3);
  if (!eventIdPattern.test(eventId)) {
    return undefined;
  }
  return { eventId, baseUrl: url.origin + url.pathname.slice(0, marker) };
}

/**
 * visitorId is the user id to join with when no join token names the user:
 * a random id kept in localStorage, so that a reload (or a second tab) joins
 * as the same visitor and gets the same place back. A stored id that is not
 * one of ours (not 128 random bits) is replaced.
 */
export function visitorId(storage: Storage | undefined): string {
  const stored = read(storage, visitorKey);
  if (stored !== undefined && visitorIdPattern.test(stored)) {
    return stored;
  }
  const fresh = "v-" + randomHex(16);
  write(storage, visitorKey, fresh);
  return fresh;
}

// crypto.getRandomValues works on plain-HTTP pages too, unlike randomUUID.
function randomHex(bytes: number): string {
  const buf = new Uint8Array(bytes);
  crypto.getRandomValues(buf);
  return Array.from(buf, (b) => b.toString(16).padStart(2, "0")).join("");
}

export interface JoinToken {
  /** The token to send with JoinQueue, if this tab has one. */
  token?: string;
  /** The link carried a token (usable or not): the visitor came from the shop just now. */
  fromLink: boolean;
  /** The link's token cannot be sent as a bearer token. */
  malformed: boolean;
  /**
   * The page's address without the token, when the link carried one: the
   * page puts it in the address bar at once, so the token does not stay in
   * history, bookmarks or a shared screenshot.
   */
  cleanUrl?: string;
}

/**
 * takeJoinToken reads the join token the shop's link carries
 * (`/e/<event>?join_token=…`) and keeps it for this tab (sessionStorage),
 * so reconnects, reloads and "Join again" still have it once the address
 * bar no longer shows it. Without one in the link, the tab's kept token for
 * the event is used, if any.
 */
export function takeJoinToken(url: URL, eventId: string | undefined, storage: Storage | undefined): JoinToken {
  const key = eventId === undefined ? undefined : "waitroom.join_token." + eventId;
  if (!url.searchParams.has(joinTokenParam)) {
    const kept = key === undefined ? undefined : read(storage, key) || undefined;
    return { token: kept, fromLink: false, malformed: false };
  }
  const given = url.searchParams.get(joinTokenParam) ?? "";
  const malformed = given.length > joinTokenMaxLength || !joinTokenPattern.test(given);
  const token = malformed ? undefined : given;
  if (key !== undefined) write(storage, key, token ?? "");
  return { token, fromLink: true, malformed, cleanUrl: withoutParam(url, joinTokenParam) };
}

/**
 * withoutParam is the URL with every `name=…` pair taken out of its query and
 * the other pairs left byte for byte as they were (URLSearchParams would
 * re-encode them).
 */
function withoutParam(url: URL, name: string): string {
  const kept = url.search
    .slice(1)
    .split("&")
    .filter((pair) => pair !== "" && new URLSearchParams(pair).keys().next().value !== name);
  const clean = new URL(url.href);
  clean.search = kept.length > 0 ? "?" + kept.join("&") : "";
  return clean.href;
}

/** read and write swallow storage errors: private modes and full quotas throw. */
export function read(storage: Storage | undefined, key: string): string | undefined {
  try {
    return storage?.getItem(key) ?? undefined;
  } catch {
    return undefined;
  }
}

export function write(storage: Storage | undefined, key: string, value: string): void {
  try {
    storage?.setItem(key, value);
  } catch {
    // The page still works; only a reload in this browser would start over.
  }
}

/** safeStorage returns a Storage, or undefined where touching it throws. */
export function safeStorage(get: () => Storage): Storage | undefined {
  try {
    return get();
  } catch {
    return undefined;
  }
}
