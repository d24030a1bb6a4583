// Identifiers the page reads from its URL and keeps in the browser. The
// patterns match the server's own validation, so a bad link is caught here
// with a clear message instead of as an InvalidArgument from the API.

const eventIdPattern = /^[A-Za-z0-9._-]{1,64}$/;
const userIdPattern = /^[A-Za-z0-9._:@-]{1,128}$/;

/** The query parameter an embedding site uses to name its visitor. */
export const userIdParam = "user_id";

const visitorKey = "waitroom.visitor";

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

export type VisitorId =
  | { ok: true; userId: string }
  | { ok: false; reason: string };

/**
 * visitorId is the user id to join with: the embedding site's, when the URL
 * names one, else a random id kept in localStorage so that a reload (or a
 * second tab) joins as the same visitor and gets the same place back.
 */
export function visitorId(url: URL, storage: Storage | undefined): VisitorId {
  const given = url.searchParams.get(userIdParam);
  if (given !== null) {
    if (!userIdPattern.test(given)) {
      return { ok: false, reason: `The link's ${userIdParam} is not valid.` };
    }
    return { ok: true, userId: given };
  }
  const stored = read(storage, visitorKey);
  if (stored !== undefined && userIdPattern.test(stored)) {
    return { ok: true, userId: stored };
  }
  const fresh = "v-" + randomHex(16);
  write(storage, visitorKey, fresh);
  return { ok: true, userId: fresh };
}

// crypto.getRandomValues works on plain-HTTP pages too, unlike randomUUID.
function randomHex(bytes: number): string {
  const buf = new Uint8Array(bytes);
  crypto.getRandomValues(buf);
  return Array.from(buf, (b) => b.toString(16).padStart(2, "0")).join("");
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
