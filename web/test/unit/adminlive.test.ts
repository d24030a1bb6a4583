import assert from "node:assert/strict";
import { test } from "node:test";
import { Code, ConnectError, createClient, createRouterTransport, type HandlerContext } from "@connectrpc/connect";
import { EventAdminService, EventState } from "../../src/gen/waitroom/v1/admin_pb";
import { EventFeed, retryDelay, type Fatal, type FeedStatus } from "../../src/adminlive";
import type { Sample } from "../../src/adminstats";

interface Report {
  samples: Sample[];
  statuses: FeedStatus[];
  fatal?: Fatal;
  watches: () => number;
  gets: () => number;
}

/**
 * feedAgainst runs a feed against an in-memory EventAdminService and
 * records what it reports, until `until` holds.
 */
async function feedAgainst(
  impl: {
    watch: (ctx: HandlerContext, n: number) => AsyncIterable<{ stats: { eventId: string; queueLength: number; admittedTotal?: bigint } }>;
    get?: (n: number) => { event: { eventId: string; queueLength: number; processing: number; state: EventState } };
  },
  until: (r: Report) => boolean,
  opts: { streamRetryMs?: number; silenceMs?: number } = {},
) {
  let watches = 0;
  let gets = 0;
  const auth: string[] = [];
  const transport = createRouterTransport(({ service }) => {
    service(EventAdminService, {
      watchEvent(req, ctx) {
        auth.push(ctx.requestHeader.get("Authorization") ?? "none");
        assert.equal(req.eventId, "e1");
        return impl.watch(ctx, watches++);
      },
      getEvent(req) {
        assert.equal(req.eventId, "e1");
        if (!impl.get) throw new ConnectError("no", Code.Internal);
        return impl.get(gets++);
      },
    });
  });
  const r: Report = {
    samples: [],
    statuses: [],
    watches: () => watches,
    gets: () => gets,
  };
  let check: () => void = () => {};
  const done = new Promise<void>((resolve) => (check = () => until(r) && resolve()));
  const feed = new EventFeed({
    client: createClient(EventAdminService, transport),
    eventId: "e1",
    onSample: (s) => (r.samples.push(s), check()),
    onStatus: (s) => (r.statuses.push(s), check()),
    onFatal: (f) => ((r.fatal = f), check()),
    pollMs: 10,
    streamRetryMs: opts.streamRetryMs ?? 60_000,
    silenceMs: opts.silenceMs ?? 5000,
  });
  feed.start();
  await done;
  feed.stop();
  return r;
}

function waitForever(ctx: HandlerContext): Promise<void> {
  return new Promise((resolve) => ctx.signal.addEventListener("abort", () => resolve(), { once: true }));
}

test("the feed follows WatchEvent", async () => {
  const r = await feedAgainst(
    {
      async *watch(ctx) {
        for (let i = 1; i <= 3; i++) yield { stats: { eventId: "e1", queueLength: i, admittedTotal: BigInt(i * 10) } };
        await waitForever(ctx);
      },
    },
    (r) => r.samples.length === 3,
  );
  assert.deepEqual(r.samples.map((s) => [s.source, s.queueLength, s.totals?.admitted]), [
    ["stream", 1, 10],
    ["stream", 2, 20],
    ["stream", 3, 30],
  ]);
  assert.deepEqual(r.statuses.at(-1), { source: "stream", connection: "live" });
  assert.equal(r.gets(), 0);
});

test("a server without WatchEvent is polled with GetEvent, and the stream tried again later", async () => {
  const r = await feedAgainst(
    {
      async *watch() {
        throw new ConnectError("WatchEvent is not served yet", Code.Unimplemented);
      },
      get: (n) => ({ event: { eventId: "e1", queueLength: n, processing: 1, state: EventState.PAUSED } }),
    },
    (r) => r.watches() >= 2 && r.samples.length >= 3,
    { streamRetryMs: 30 },
  );
  assert.ok(r.samples.every((s) => s.source === "poll" && s.totals === undefined));
  // Trying the stream again while polling works does not flash "connecting".
  const firstLive = r.statuses.findIndex((s) => s.connection === "live");
  assert.ok(r.statuses.slice(firstLive).every((s) => s.connection === "live"), JSON.stringify(r.statuses));
  assert.equal(r.samples[0].state, EventState.PAUSED);
  assert.ok(r.statuses.some((s) => s.source === "poll" && s.connection === "live"));
  assert.equal(r.fatal, undefined);
});

test("a refused token stops the feed for good", async () => {
  const r = await feedAgainst(
    {
      async *watch() {
        throw new ConnectError("missing or wrong admin bearer token", Code.Unauthenticated);
      },
    },
    (r) => r.fatal !== undefined,
  );
  assert.equal(r.fatal, "unauthenticated");
  assert.equal(r.watches(), 1);
});

test("a silent stream is reopened", async () => {
  const r = await feedAgainst(
    {
      async *watch(ctx, n) {
        yield { stats: { eventId: "e1", queueLength: n } };
        await waitForever(ctx);
      },
    },
    (r) => r.samples.length === 2,
    { silenceMs: 30 },
  );
  assert.deepEqual(r.samples.map((s) => s.queueLength), [0, 1]);
  assert.ok(r.statuses.some((s) => s.connection === "retrying"));
});

test("retryDelay backs off to 10 s", () => {
  assert.deepEqual([1, 2, 3, 4, 5, 9].map(retryDelay), [1000, 2000, 4000, 8000, 10_000, 10_000]);
});
