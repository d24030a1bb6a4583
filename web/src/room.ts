// The visitor's session, independent of the DOM: join, follow the position
// stream, reconnect with backoff when it drops, leave. The page renders the
// State snapshots it emits.

import type { Duration, Timestamp } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, type Client } from "@connectrpc/connect";
import {
  SessionStatus,
  type JoinQueueResponse,
  type PositionUpdate,
  type WaitroomService,
} from "./gen/waitroom/v1/waitroom_pb";
import { read, write } from "./ids";

/** Phase is what the visitor is shown. */
export type Phase =
  | "joining"
  | "queued"
  | "ready"
  | "completed"
  | "left"
  | "expired"
  | "closed"
  | "unknown-event"
  | "invalid"
  // JoinQueue wants proof of who the visitor is (the server's token mode):
  | "token-missing" // the visitor did not come through the shop's link
  | "token-expired" // the link's join token has expired
  | "token-invalid" // the link's join token is not one the server accepts
  | "token-mismatch"; // the join token is for another user or another event

/** Connection is the state of the link to the server. */
export type Connection =
  | "connecting" // first contact, or reopening after a quiet period
  | "live" // a position stream is open and has spoken
  | "reconnecting" // the last attempt failed; waiting before the next
  | "idle"; // finished: a final status, or an error no retry can fix

export interface State {
  phase: Phase;
  connection: Connection;
  sessionId?: string;
  /** 1-based place in the queue while queued. */
  position?: number;
  queueLength?: number;
  waitSeconds?: number;
  /** The first position seen for this session: the progress bar's zero. */
  startPosition?: number;
  checkoutUrl?: string;
  checkoutToken?: string;
  /** Failed attempts in a row; 0 once the server answers. */
  failures: number;
  /** When the next attempt starts (ms since the epoch), while reconnecting. */
  retryAt?: number;
  /** The server's message, for the invalid phase. */
  detail?: string;
  /**
   * The event's fair start, for a session that joined before the sale
   * started. Until placed, position is only a bound: the furthest back the
   * draw can put the visitor.
   */
  fairStart?: FairStartState;
  /**
   * The visitor's turn came while they were away: their place is held, and
   * they go first once back, until heldUntil (ms since the epoch).
   */
  held?: boolean;
  heldUntil?: number;
  /** The visitor's priority lane, in an event with lanes. */
  lane?: string;
  /** The last message put the visitor further back (a lane ahead grew). */
  movedBack?: boolean;
}

/** FairStartState is a pre-queue session's view of its event's fair start. */
export interface FairStartState {
  /** When the pre-queue is placed and admission begins (ms since the epoch). */
  saleStartsAt?: number;
  /** Lowercase hex SHA-256 of the seed, published before the start. */
  seedCommitment: string;
  /** The pre-queue has been placed: position is exact. */
  placed: boolean;
  /** The seed, revealed once placed. */
  seed?: string;
}

export interface Options {
  client: Client<typeof WaitroomService>;
  eventId: string;
  /** The user id JoinQueue names when there is no join token. */
  userId: string;
  /**
   * The join token the shop signed for this visitor. With one, JoinQueue
   * sends it as the bearer token and names no user id: the server takes the
   * user from the token. The other calls need none: a session id is proof
   * enough.
   */
  joinToken?: string;
  onChange: (state: Readonly<State>) => void;
  /**
   * Keeps the session and the progress bar's starting point across reloads
   * and Back, so returning to the page shows the session's real status (a
   * completed checkout stays completed) instead of joining again.
   */
  storage?: Storage;
  /**
   * A stream silent this long (plus up to half again, at random) is reopened,
   * when the server does not say how often it sends heartbeats: a half-open
   * connection looks exactly like a quiet queue. The random part keeps a
   * crowd that got its last message together from reopening together.
   */
  quietMs?: number;
  /**
   * With heartbeats (the stream's first message carries heartbeat_interval),
   * a stream is reopened after two to two and a half intervals of silence,
   * plus this much for the network's delays: the server is never silent for
   * more than an interval and a quarter.
   */
  heartbeatSlackMs?: number;
  baseDelayMs?: number;
  maxDelayMs?: number;
  /**
   * A stream the server ended with an error after it had spoken (a replica
   * shutting down) is reopened at a random moment within this long, so its
   * visitors do not all land on the other replicas at once.
   */
  spreadMs?: number;
  random?: () => number;
}

const finalStatuses = new Set([
  SessionStatus.READY,
  SessionStatus.COMPLETED,
  SessionStatus.EXPIRED,
  SessionStatus.LEFT,
]);

/** Outcome of an error: try again, join afresh, or stop on a phase. */
type Outcome = "retry" | "rejoin" | Phase;

export class WaitingRoom {
  private state: State = { phase: "joining", connection: "connecting", failures: 0 };
  private run?: AbortController;
  private stream?: AbortController;
  private wakeUp?: () => void;
  private readonly quietMs: number;
  private readonly heartbeatSlackMs: number;
  private readonly baseDelayMs: number;
  private readonly maxDelayMs: number;
  private readonly spreadMs: number;
  private readonly random: () => number;
  /** The open stream delivered a message: an error now is the server's going away. */
  private spoke = false;

  constructor(private readonly opts: Options) {
    this.quietMs = opts.quietMs ?? 45_000;
    this.heartbeatSlackMs = opts.heartbeatSlackMs ?? 1_000;
    this.baseDelayMs = opts.baseDelayMs ?? 500;
    this.maxDelayMs = opts.maxDelayMs ?? 20_000;
    this.spreadMs = opts.spreadMs ?? 5_000;
    this.random = opts.random ?? Math.random;
  }

  get current(): Readonly<State> {
    return this.state;
  }

  /**
   * start follows the visitor's session until it reaches a final status: the
   * one this tab already has (its status is read first), else a new join.
   * With fresh, it forgets the old session and joins again (the visitor
   * asked to, after it ended).
   */
  start(opts: { fresh?: boolean } = {}): void {
    this.run?.abort();
    const run = new AbortController();
    this.run = run;
    if (opts.fresh) write(this.opts.storage, this.sessionKey(), "");
    const known = read(this.opts.storage, this.sessionKey()) || undefined;
    this.state = { phase: "joining", connection: "connecting", failures: 0, sessionId: known };
    this.emit();
    void this.loop(run.signal, known !== undefined);
  }

  private sessionKey(): string {
    // Per tab (sessionStorage) and event: a tab is one visitor, whether a
    // visitor id or a join token says who they are.
    return `waitroom.session.${this.opts.eventId}`;
  }

  /** stop ends every call in flight; used when the page goes away. */
  stop(): void {
    this.run?.abort();
  }

  /** wake cuts a backoff wait short: the network is back, or the tab is visible again. */
  wake(): void {
    this.wakeUp?.();
  }

  /** resync reopens an open stream, for a tab that may have slept through updates. */
  resync(): void {
    this.stream?.abort();
  }

  /**
   * leave takes the visitor out of the queue. The open stream then receives
   * LEFT and ends by itself; leave also records it, in case the stream is
   * between reconnects. It throws when the server refuses (for example, the
   * visitor was admitted a moment ago); the stream shows the real status.
   */
  async leave(): Promise<void> {
    const sessionId = this.state.sessionId;
    if (sessionId === undefined || this.state.phase !== "queued") {
      return;
    }
    await this.opts.client.leaveQueue({ sessionId });
    this.run?.abort();
    this.update({ phase: "left", connection: "idle", position: undefined, retryAt: undefined });
  }

  private async loop(signal: AbortSignal, resuming: boolean): Promise<void> {
    // After a drop, GetQueueStatus answers at once (and over a plain GET), so
    // the page is current again even if streaming is what keeps failing.
    while (!signal.aborted) {
      let spread = false;
      try {
        let sessionId = this.state.sessionId;
        if (sessionId === undefined) {
          const res = await this.join(signal);
          sessionId = res.sessionId;
          if (this.apply(res, signal)) return;
        } else if (resuming) {
          const res = await this.opts.client.getQueueStatus({ sessionId }, { signal });
          if (this.apply(res, signal)) return;
        }
        const how = await this.follow(sessionId, signal);
        if (how === "final") return;
        if (how === "reopen") {
          resuming = false; // a new stream starts with the current state
          continue;
        }
      } catch (err) {
        if (signal.aborted) return;
        spread = this.spoke;
        this.spoke = false;
        const outcome = classify(err);
        if (outcome === "rejoin") {
          // The server no longer knows the session (a restart without a
          // shared store): joining again is the best place still on offer.
          this.state.sessionId = undefined;
        } else if (outcome !== "retry") {
          this.update({
            phase: outcome,
            connection: "idle",
            retryAt: undefined,
            detail: ConnectError.from(err).rawMessage,
          });
          return;
        }
      }
      resuming = true;
      await this.pause(signal, spread);
    }
  }

  private join(signal: AbortSignal): Promise<JoinQueueResponse> {
    const token = this.opts.joinToken;
    if (token === undefined) {
      return this.opts.client.joinQueue({ userId: this.opts.userId, eventId: this.opts.eventId }, { signal });
    }
    return this.opts.client.joinQueue(
      { userId: "", eventId: this.opts.eventId },
      { signal, headers: { Authorization: `Bearer ${token}` } },
    );
  }

  /**
   * follow reads the position stream: "final" when it delivered a final
   * status, "reopen" when it was closed on purpose (quiet too long, or a
   * resync), "ended" when the server ended it early.
   */
  private async follow(sessionId: string, signal: AbortSignal): Promise<"final" | "reopen" | "ended"> {
    if (signal.aborted) return "final";
    const stream = new AbortController();
    this.stream = stream;
    this.spoke = false;
    const cancel = () => stream.abort();
    signal.addEventListener("abort", cancel, { once: true });
    // Until the first message says how often the server beats, the
    // fallback; then from the interval.
    let beatMs: number | undefined;
    const quietFor = () => silenceLimit(beatMs, this.quietMs, this.heartbeatSlackMs, this.random());
    let quiet = setTimeout(cancel, quietFor());
    try {
      const updates = this.opts.client.streamQueuePosition({ sessionId }, { signal: stream.signal });
      for await (const u of updates) {
        clearTimeout(quiet);
        if (u.heartbeatInterval) beatMs = durationMs(u.heartbeatInterval);
        quiet = setTimeout(cancel, quietFor());
        if (!this.spoke) {
          // Only a stream that speaks proves the link works: a status call
          // that answers while streams keep failing must not reset the
          // backoff, or a broken stream path is retried every half second.
          this.spoke = true;
          this.state = { ...this.state, failures: 0 }; // shown with the message, below
        }
        if (this.apply(u, signal)) return "final";
      }
      return "ended";
    } catch (err) {
      if (stream.signal.aborted && !signal.aborted) {
        return "reopen";
      }
      throw err;
    } finally {
      clearTimeout(quiet);
      signal.removeEventListener("abort", cancel);
      if (this.stream === stream) this.stream = undefined;
    }
  }

  /** apply renders one server message; true when its status is final. */
  private apply(u: PositionUpdate | JoinQueueResponse, signal: AbortSignal): boolean {
    if (signal.aborted) return true;
    const next: Partial<State> = {
      sessionId: u.sessionId || this.state.sessionId,
      connection: "live",
      retryAt: undefined,
      queueLength: u.queueLength ?? this.state.queueLength,
    };
    switch (u.status) {
      case SessionStatus.QUEUED: {
        const position = u.position ?? this.state.position;
        next.phase = "queued";
        next.position = position;
        next.waitSeconds = u.estimatedWait
          ? Number(u.estimatedWait.seconds) + u.estimatedWait.nanos / 1e9
          : undefined;
        // Before a fair start's draw the position is only a bound: progress
        // counts from the drawn place, not from the bound.
        const bound = u.fairStart !== undefined && !u.fairStart.placed;
        next.startPosition = bound ? undefined : this.startPosition(next.sessionId, position);
        break;
      }
      case SessionStatus.READY:
        next.phase = "ready";
        next.position = 0;
        next.checkoutUrl = u.checkoutUrl;
        next.checkoutToken = u.checkoutToken;
        break;
      case SessionStatus.COMPLETED:
        next.phase = "completed";
        break;
      case SessionStatus.EXPIRED:
        next.phase = "expired";
        break;
      case SessionStatus.LEFT:
        next.phase = "left";
        break;
      default:
        break; // UNSPECIFIED is never sent; keep what is shown
    }
    if (u.$typeName === "waitroom.v1.PositionUpdate") {
      // A join's answer says nothing of these; a stream's message says all.
      next.fairStart = u.fairStart && {
        saleStartsAt: u.fairStart.saleStartsAt && timestampMs(u.fairStart.saleStartsAt),
        seedCommitment: u.fairStart.seedCommitment,
        placed: u.fairStart.placed,
        seed: u.fairStart.seed || undefined,
      };
      next.held = u.held && u.status === SessionStatus.QUEUED;
      next.heldUntil = next.held && u.heldUntil ? timestampMs(u.heldUntil) : undefined;
      next.movedBack = u.movedBack && u.status === SessionStatus.QUEUED;
    }
    next.lane = u.lane || undefined;
    const final = finalStatuses.has(u.status);
    if (final) next.connection = "idle";
    if (next.sessionId !== undefined) write(this.opts.storage, this.sessionKey(), next.sessionId);
    this.update(next);
    return final;
  }

  /** startPosition remembers the first position of a session, per tab. */
  private startPosition(sessionId: string | undefined, position: number | undefined): number | undefined {
    if (sessionId === undefined || position === undefined) return this.state.startPosition;
    const key = "waitroom.start." + sessionId;
    const known = Number(read(this.opts.storage, key));
    if (Number.isFinite(known) && known >= position) return known;
    write(this.opts.storage, key, String(position));
    return position;
  }

  /**
   * pause waits out exponential backoff with jitter, or until wake() or
   * abort. With spread (the server ended a live stream), the first wait is
   * anywhere in spreadMs instead.
   */
  private pause(signal: AbortSignal, spread = false): Promise<void> {
    const failures = this.state.failures + 1;
    const delay =
      spread && failures === 1
        ? this.random() * this.spreadMs
        : backoffDelay(failures, this.baseDelayMs, this.maxDelayMs, this.random());
    this.update({ connection: "reconnecting", failures, retryAt: Date.now() + delay });
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        signal.removeEventListener("abort", done);
        if (this.wakeUp === done) this.wakeUp = undefined;
        if (!signal.aborted) this.update({ connection: "connecting", retryAt: undefined });
        resolve();
      };
      const timer = setTimeout(done, delay);
      signal.addEventListener("abort", done, { once: true });
      this.wakeUp = done;
    });
  }

  private update(patch: Partial<State>): void {
    this.state = { ...this.state, ...patch };
    this.emit();
  }

  private emit(): void {
    this.opts.onChange(this.state);
  }
}

/**
 * backoffDelay is the wait before attempt number `failures` + 1: exponential
 * from baseMs, capped at maxMs, half of it fixed and half random (`random` in
 * [0, 1)). The random half spreads a crowd that lost the same server; the
 * fixed half means no one retries sooner than half the backoff.
 */
export function backoffDelay(failures: number, baseMs: number, maxMs: number, random: number): number {
  const ceiling = Math.min(maxMs, baseMs * 2 ** Math.max(0, failures - 1));
  return ceiling / 2 + random * (ceiling / 2);
}

/**
 * silenceLimit is how long a stream may stay silent before it is reopened:
 * with the server's heartbeat interval, two to two and a half intervals
 * (`random` in [0, 1)) plus slackMs; without one, fallbackMs plus up to half
 * of it again.
 */
export function silenceLimit(intervalMs: number | undefined, fallbackMs: number, slackMs: number, random: number): number {
  if (intervalMs === undefined || !(intervalMs > 0)) {
    return fallbackMs * (1 + random / 2);
  }
  return intervalMs * (2 + random / 2) + slackMs;
}

function durationMs(d: Duration): number {
  return Number(d.seconds) * 1000 + d.nanos / 1e6;
}

function timestampMs(t: Timestamp): number {
  return Number(t.seconds) * 1000 + Math.floor(t.nanos / 1e6);
}

/** classify maps an error to what the visitor sees next. */
function classify(err: unknown): Outcome {
  const e = ConnectError.from(err);
  switch (e.code) {
    case Code.NotFound:
      if (/expired/i.test(e.rawMessage)) return "expired";
      if (/event/i.test(e.rawMessage)) return "unknown-event";
      return "rejoin";
    case Code.FailedPrecondition:
      if (/closed/i.test(e.rawMessage)) return "closed";
      return "retry";
    case Code.InvalidArgument:
      return /event/i.test(e.rawMessage) ? "unknown-event" : "invalid";
    case Code.Unauthenticated:
      // Only JoinQueue asks who the visitor is; the server's messages are
      // "join token required", "invalid join token: expired" and
      // "invalid join token: <reason>".
      if (/^join token required/.test(e.rawMessage)) return "token-missing";
      if (/^invalid join token: expired/.test(e.rawMessage)) return "token-expired";
      return "token-invalid";
    case Code.PermissionDenied:
      return "token-mismatch";
    default:
      // Unavailable, network failures (Unknown, Internal), deadlines, overload:
      // the place is kept on the server, so keep trying.
      return "retry";
  }
}
