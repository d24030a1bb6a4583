// The live figures of one event, independent of the DOM: WatchEvent's
// stream (one EventStats a second), reopened when it drops or falls silent.
// A server that answers WatchEvent with Unimplemented gets GetEvent once a
// second instead, and the stream is tried again now and then (a rolling
// deploy brings it).

import { Code, ConnectError, type Client } from "@connectrpc/connect";
import type { EventAdminService } from "./gen/waitroom/v1/admin_pb";
import { sampleFromEvent, sampleFromStats, type Sample, type Source } from "./adminstats";

/** Why the feed stopped for good: nothing but a new sign-in or another event can fix it. */
export type Fatal = "unauthenticated" | "disabled" | "not-found";

/** FeedStatus is what the page says about the link. */
export interface FeedStatus {
  source: Source;
  /** live: figures arrive; retrying: the last attempt failed. */
  connection: "connecting" | "live" | "retrying";
  /** The last failure's message, while retrying. */
  error?: string;
}

export interface FeedOptions {
  client: Client<typeof EventAdminService>;
  eventId: string;
  onSample: (s: Sample) => void;
  onStatus: (s: FeedStatus) => void;
  onFatal: (f: Fatal, message: string) => void;
  /** GetEvent's period while polling. */
  pollMs?: number;
  /** How long to poll before trying the stream again. */
  streamRetryMs?: number;
  /** A stream silent this long is taken for dead and reopened (it speaks every second). */
  silenceMs?: number;
  now?: () => number;
}

/** retryDelay backs off 1, 2, 4, 8 s, then every 10 s. */
export function retryDelay(failures: number): number {
  return Math.min(10_000, 1000 * 2 ** Math.max(0, failures - 1));
}

/** fatalOf says whether an error is one retrying cannot fix. */
export function fatalOf(err: ConnectError): Fatal | undefined {
  switch (err.code) {
    case Code.Unauthenticated:
      return "unauthenticated";
    case Code.PermissionDenied:
      return "disabled";
    case Code.NotFound:
    case Code.InvalidArgument: // an id no event can have (a mistyped address)
      return "not-found";
  }
  return undefined;
}

export class EventFeed {
  private readonly stopper = new AbortController();
  private readonly pollMs: number;
  private readonly streamRetryMs: number;
  private readonly silenceMs: number;
  private readonly now: () => number;
  private failures = 0;
  /** The status last reported. */
  private shown: FeedStatus | undefined;

  constructor(private readonly opts: FeedOptions) {
    this.pollMs = opts.pollMs ?? 1000;
    this.streamRetryMs = opts.streamRetryMs ?? 60_000;
    this.silenceMs = opts.silenceMs ?? 5000;
    this.now = opts.now ?? Date.now;
  }

  /** start runs the feed until stop, or until a fatal error. */
  start(): void {
    void this.run();
  }

  stop(): void {
    this.stopper.abort();
  }

  private get stopped(): boolean {
    return this.stopper.signal.aborted;
  }

  private async run(): Promise<void> {
    let source: Source = "stream";
    let streamAgainAt = 0;
    while (!this.stopped) {
      if (source === "poll" && this.now() >= streamAgainAt) source = "stream";
      let err: ConnectError | undefined;
      if (source === "stream") {
        err = await this.watch();
        if (err?.code === Code.Unimplemented) {
          source = "poll";
          streamAgainAt = this.now() + this.streamRetryMs;
          continue;
        }
      } else {
        err = await this.poll();
      }
      if (this.stopped) return;
      if (err === undefined) {
        // The next poll, or a stream the server closed cleanly (it is
        // shutting down) reopened a moment later, on another replica.
        await this.sleep(this.pollMs);
        continue;
      }
      const fatal = fatalOf(err);
      if (fatal) {
        this.opts.onFatal(fatal, err.rawMessage);
        return;
      }
      this.failures++;
      this.status({ source, connection: "retrying", error: err.rawMessage });
      await this.sleep(retryDelay(this.failures));
    }
  }

  /**
   * watch follows one WatchEvent stream until it ends. It returns the
   * error that ended it; undefined when the server closed it cleanly (its
   * shutdown), to be reopened at once.
   */
  private async watch(): Promise<ConnectError | undefined> {
    const attempt = new AbortController();
    const abort = () => attempt.abort();
    this.stopper.signal.addEventListener("abort", abort, { once: true });
    let silence: ReturnType<typeof setTimeout> | undefined;
    let silent = false;
    const arm = () => {
      clearTimeout(silence);
      silence = setTimeout(() => {
        silent = true;
        attempt.abort();
      }, this.silenceMs);
    };
    // While figures flow (polling, or a stream reopened after a clean end),
    // trying the stream again is not news.
    if (this.failures > 0) this.status({ source: "stream", connection: "retrying" });
    else if (this.shown?.connection !== "live") this.status({ source: "stream", connection: "connecting" });
    try {
      arm();
      for await (const res of this.opts.client.watchEvent({ eventId: this.opts.eventId }, { signal: attempt.signal })) {
        arm();
        if (!res.stats) continue;
        this.failures = 0;
        this.status({ source: "stream", connection: "live" });
        this.opts.onSample(sampleFromStats(res.stats, this.now()));
      }
      return undefined;
    } catch (e) {
      if (silent) return new ConnectError("no figures for a while: reopening", Code.Unavailable);
      return ConnectError.from(e);
    } finally {
      clearTimeout(silence);
      this.stopper.signal.removeEventListener("abort", abort);
    }
  }

  /** poll reads the event once. */
  private async poll(): Promise<ConnectError | undefined> {
    try {
      const res = await this.opts.client.getEvent({ eventId: this.opts.eventId }, { signal: this.stopper.signal });
      if (!res.event) return new ConnectError("GetEvent answered without the event", Code.Internal);
      this.failures = 0;
      this.status({ source: "poll", connection: "live" });
      this.opts.onSample(sampleFromEvent(res.event, this.now()));
      return undefined;
    } catch (e) {
      return ConnectError.from(e);
    }
  }

  private status(s: FeedStatus): void {
    this.shown = s;
    this.opts.onStatus(s);
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      if (this.stopped) return resolve();
      const done = () => {
        clearTimeout(timer);
        this.stopper.signal.removeEventListener("abort", done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.stopper.signal.addEventListener("abort", done, { once: true });
    });
  }
}
