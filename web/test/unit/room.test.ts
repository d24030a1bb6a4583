import assert from "node:assert/strict";
import { test } from "node:test";
import { Code, ConnectError, createClient, createRouterTransport, type HandlerContext } from "@connectrpc/connect";
import type { MessageInitShape } from "@bufbuild/protobuf";
import { type PositionUpdateSchema, SessionStatus, WaitroomService } from "../../src/gen/waitroom/v1/waitroom_pb";
import { WaitingRoom, backoffDelay, silenceLimit, type Options, type State } from "../../src/room";

type Update = MessageInitShape<typeof PositionUpdateSchema>;

const queued = (position: number, queueLength: number): Update => ({
  sessionId: "s1",
  status: SessionStatus.QUEUED,
  position,
  queueLength,
});
const ready: Update = {
  sessionId: "s1",
  status: SessionStatus.READY,
  position: 0,
  queueLength: 0,
  checkoutToken: "h.p.s",
  checkoutUrl: "/checkout",
};

/** waitForever is a stream that stays open until the client goes away. */
function waitForever(ctx: HandlerContext): Promise<void> {
  return new Promise((resolve) => ctx.signal.addEventListener("abort", () => resolve(), { once: true }));
}

/**
 * A scripted server: each RPC takes its next behaviour from a list (the last
 * one repeats), and every call is recorded, with its Authorization header
 * apart.
 */
function fakeServer(script: {
  join?: Array<() => Update>;
  status?: Array<() => Update>;
  streams?: Array<(ctx: HandlerContext) => AsyncIterable<Update>>;
}) {
  const calls: string[] = [];
  const auth: string[] = [];
  const record = (call: string, ctx: HandlerContext) => {
    calls.push(call);
    auth.push(`${call.split(" ")[0]} ${ctx.requestHeader.get("Authorization") ?? "none"}`);
  };
  const next = <T>(list: T[] | undefined, i: number, rpc: string): T => {
    if (!list?.length) throw new Error(`unexpected ${rpc}`);
    return list[Math.min(i, list.length - 1)];
  };
  let joins = 0;
  let statuses = 0;
  let streams = 0;
  const transport = createRouterTransport(({ service }) => {
    service(WaitroomService, {
      joinQueue(req, ctx) {
        record(`join ${req.userId} ${req.eventId}`, ctx);
        // A JoinQueueResponse carries the same fields as the first PositionUpdate.
        const u = next(script.join, joins++, "JoinQueue")();
        return {
          sessionId: u.sessionId,
          status: u.status,
          position: u.position,
          queueLength: u.queueLength,
          checkoutToken: u.checkoutToken,
          checkoutUrl: u.checkoutUrl,
          lane: u.lane,
          fairStart: u.fairStart,
          created: true,
        };
      },
      getQueueStatus(req, ctx) {
        record(`status ${req.sessionId}`, ctx);
        return next(script.status, statuses++, "GetQueueStatus")();
      },
      streamQueuePosition(req, ctx) {
        record(`stream ${req.sessionId}`, ctx);
        return next(script.streams, streams++, "StreamQueuePosition")(ctx);
      },
      leaveQueue(req, ctx) {
        record(`leave ${req.sessionId}`, ctx);
        return {};
      },
    });
  });
  return { client: createClient(WaitroomService, transport), calls, auth };
}

/** start runs a room and resolves when a state passes `done`. */
function run(
  client: ReturnType<typeof fakeServer>["client"],
  done: (s: State) => boolean,
  extra: Partial<Options> = {},
  start: { fresh?: boolean } = {},
) {
  const states: State[] = [];
  let finish: () => void;
  const finished = new Promise<void>((resolve) => (finish = resolve));
  const room = new WaitingRoom({
    client,
    eventId: "launch",
    userId: "u1",
    baseDelayMs: 1,
    maxDelayMs: 4,
    spreadMs: 4,
    ...extra,
    onChange: (s) => {
      states.push({ ...s });
      if (done(s)) finish();
    },
  });
  room.start(start);
  return { room, states, finished };
}

/** memoryStorage is a Storage kept in a Map, as a tab's sessionStorage. */
function memoryStorage(init: Record<string, string> = {}): Storage {
  const m = new Map(Object.entries(init));
  return {
    get length() {
      return m.size;
    },
    clear: () => m.clear(),
    getItem: (k) => m.get(k) ?? null,
    key: (i) => [...m.keys()][i] ?? null,
    removeItem: (k) => void m.delete(k),
    setItem: (k, v) => void m.set(k, String(v)),
  };
}

test("joins, follows the stream and stops on READY with the checkout link", async () => {
  const { client, calls } = fakeServer({
    join: [() => queued(2, 2)],
    streams: [
      async function* () {
        yield queued(2, 2);
        yield queued(1, 1);
        yield ready;
      },
    ],
  });
  const { states, finished } = run(client, (s) => s.phase === "ready");
  await finished;
  const last = states.at(-1)!;
  assert.equal(last.connection, "idle");
  assert.equal(last.checkoutToken, "h.p.s");
  assert.equal(last.checkoutUrl, "/checkout");
  assert.deepEqual(
    states.filter((s) => s.phase === "queued").map((s) => s.position),
    [2, 2, 1],
  );
  assert.deepEqual(calls, ["join u1 launch", "stream s1"]);
});

test("a stream that ends early is resumed with the same session, not a new join", async () => {
  const { client, calls } = fakeServer({
    join: [() => queued(3, 3)],
    status: [() => queued(2, 2)],
    streams: [
      async function* () {
        yield queued(3, 3);
      },
      async function* () {
        yield queued(2, 2);
        yield ready;
      },
    ],
  });
  const { finished } = run(client, (s) => s.phase === "ready");
  await finished;
  assert.deepEqual(calls, ["join u1 launch", "stream s1", "status s1", "stream s1"]);
});

test("network failures back off, show reconnecting and keep the place", async () => {
  let failing = 3;
  const { client, calls } = fakeServer({
    join: [() => queued(5, 9)],
    status: [
      () => {
        if (failing-- > 0) throw new ConnectError("connection reset", Code.Unavailable);
        return queued(4, 8);
      },
    ],
    streams: [
      async function* () {
        yield queued(5, 9);
        throw new ConnectError("stream reset", Code.Unknown);
      },
      async function* () {
        yield queued(4, 8);
        yield ready;
      },
    ],
  });
  const { states, finished } = run(client, (s) => s.phase === "ready");
  await finished;
  const retries = states.filter((s) => s.connection === "reconnecting").map((s) => s.failures);
  assert.deepEqual(retries, [1, 2, 3, 4]);
  assert.ok(states.every((s) => s.sessionId === undefined || s.sessionId === "s1"));
  assert.equal(calls.filter((c) => c.startsWith("join")).length, 1, "rejoined after a network failure");
  // Failed attempts keep showing the last known place.
  assert.ok(states.filter((s) => s.connection === "reconnecting").every((s) => s.position === 5));
});

test("an expired session stops with the expired message", async () => {
  const { client, calls } = fakeServer({
    join: [() => queued(1, 1)],
    streams: [
      // eslint-disable-next-line require-yield
      async function* () {
        throw new ConnectError("session expired", Code.NotFound);
      },
    ],
  });
  const { states, finished } = run(client, (s) => s.phase === "expired");
  await finished;
  assert.equal(states.at(-1)!.connection, "idle");
  assert.deepEqual(calls, ["join u1 launch", "stream s1"]);
});

test("a stream that reports EXPIRED or LEFT ends the session", async () => {
  for (const [status, phase] of [
    [SessionStatus.EXPIRED, "expired"],
    [SessionStatus.LEFT, "left"],
    [SessionStatus.COMPLETED, "completed"],
  ] as const) {
    const { client } = fakeServer({
      join: [() => queued(1, 1)],
      streams: [
        async function* () {
          yield { sessionId: "s1", status };
        },
      ],
    });
    const { states, finished } = run(client, (s) => s.phase === phase);
    await finished;
    assert.equal(states.at(-1)!.connection, "idle");
  }
});

test("closed and unknown events stop with their messages", async () => {
  for (const [err, phase] of [
    [new ConnectError("event is closed", Code.FailedPrecondition), "closed"],
    [new ConnectError("event not found", Code.NotFound), "unknown-event"],
    [new ConnectError("event_id: must be 1-64 characters", Code.InvalidArgument), "unknown-event"],
    [new ConnectError("user_id: must be 1-128 characters", Code.InvalidArgument), "invalid"],
  ] as const) {
    const { client, calls } = fakeServer({
      join: [
        () => {
          throw err;
        },
      ],
    });
    const { finished } = run(client, (s) => s.phase === phase);
    await finished;
    assert.deepEqual(calls, ["join u1 launch"]);
  }
});

test("a session the server has lost is joined again", async () => {
  const { client, calls } = fakeServer({
    join: [() => queued(2, 2), () => ({ ...queued(1, 1), sessionId: "s2" })],
    streams: [
      // eslint-disable-next-line require-yield
      async function* () {
        throw new ConnectError("session not found", Code.NotFound);
      },
      async function* () {
        yield { ...ready, sessionId: "s2" };
      },
    ],
  });
  const { states, finished } = run(client, (s) => s.phase === "ready");
  await finished;
  assert.equal(states.at(-1)!.sessionId, "s2");
  assert.deepEqual(calls, ["join u1 launch", "stream s1", "join u1 launch", "stream s2"]);
});

test("leave takes the session out and closes the stream", async () => {
  let opened: () => void;
  const streamOpen = new Promise<void>((resolve) => (opened = resolve));
  let closed: () => void;
  const streamClosed = new Promise<void>((resolve) => (closed = resolve));
  const { client, calls } = fakeServer({
    join: [() => queued(2, 2)],
    streams: [
      async function* (ctx) {
        ctx.signal.addEventListener("abort", () => closed(), { once: true });
        opened();
        yield queued(2, 2);
        await waitForever(ctx);
      },
    ],
  });
  const { room, states } = run(client, () => false);
  await streamOpen;
  await room.leave();
  assert.equal(states.at(-1)!.phase, "left");
  assert.equal(states.at(-1)!.connection, "idle");
  assert.ok(calls.includes("leave s1"));
  await streamClosed; // the handler sees the client go away (or the test times out)
});

test("backoffDelay doubles from the base, caps, and keeps half of it fixed", () => {
  assert.equal(backoffDelay(1, 500, 20_000, 0), 250);
  assert.equal(backoffDelay(1, 500, 20_000, 1), 500);
  assert.equal(backoffDelay(2, 500, 20_000, 0), 500);
  assert.equal(backoffDelay(3, 500, 20_000, 0.5), 1500);
  assert.equal(backoffDelay(10, 500, 20_000, 0), 10_000);
  assert.equal(backoffDelay(60, 500, 20_000, 1), 20_000);
  for (let f = 1; f < 40; f++) {
    const d = backoffDelay(f, 500, 20_000, Math.random());
    assert.ok(d >= 250 && d <= 20_000, `attempt ${f}: ${d} ms`);
  }
});

test("a tab with a session reads its status first; a completed checkout stays completed", async () => {
  const { client, calls } = fakeServer({
    status: [() => ({ sessionId: "s1", status: SessionStatus.COMPLETED, position: 0, queueLength: 3 })],
  });
  const storage = memoryStorage({ "waitroom.session.launch": "s1" });
  const { states, finished } = run(client, (s) => s.phase === "completed", { storage });
  await finished;
  assert.equal(states.at(-1)!.connection, "idle");
  assert.deepEqual(calls, ["status s1"], "joined again behind the visitor's back");
});

test("a tab with a session still in line resumes it; Join again starts a new one", async () => {
  const { client, calls } = fakeServer({
    status: [() => queued(4, 9)],
    join: [() => ({ ...queued(9, 9), sessionId: "s2" })],
    streams: [
      async function* () {
        yield queued(4, 9);
        yield ready;
      },
      async function* () {
        yield { ...ready, sessionId: "s2" };
      },
    ],
  });
  const storage = memoryStorage({ "waitroom.session.launch": "s1" });
  const first = run(client, (s) => s.phase === "ready", { storage });
  await first.finished;
  assert.deepEqual(calls, ["status s1", "stream s1"]);
  assert.equal(storage.getItem("waitroom.session.launch"), "s1");
  const again = run(client, (s) => s.phase === "ready" && s.sessionId === "s2", { storage }, { fresh: true });
  await again.finished;
  assert.deepEqual(calls.slice(2), ["join u1 launch", "stream s2"]);
  assert.equal(storage.getItem("waitroom.session.launch"), "s2");
});

test("backoff keeps growing while streams fail, even though status calls answer", async () => {
  let opened = 0;
  const { client } = fakeServer({
    join: [() => queued(2, 2)],
    status: [() => queued(2, 2)],
    streams: [
      // eslint-disable-next-line require-yield
      async function* () {
        if (++opened < 5) throw new ConnectError("stream refused", Code.Unavailable);
        yield ready;
      },
    ],
  });
  const { states, finished } = run(client, (s) => s.phase === "ready");
  await finished;
  const retries = states.filter((s) => s.connection === "reconnecting").map((s) => s.failures);
  assert.deepEqual(retries, [1, 2, 3, 4]);
});

test("a quiet stream is reopened at once, with no status call and no backoff", async () => {
  let streams = 0;
  const { client, calls } = fakeServer({
    join: [() => queued(2, 2)],
    streams: [
      async function* (ctx) {
        streams++;
        yield queued(2, 2);
        await waitForever(ctx);
      },
      async function* () {
        yield ready;
      },
    ],
  });
  const { states, finished } = run(client, (s) => s.phase === "ready", { quietMs: 20 });
  await finished;
  assert.equal(streams, 1);
  assert.deepEqual(calls, ["join u1 launch", "stream s1", "stream s1"]);
  assert.ok(states.every((s) => s.connection !== "reconnecting"), "a quiet reopen counted as a failure");
});

test("a live stream the server ends with an error is reopened at a random moment within spreadMs", async () => {
  const { client } = fakeServer({
    join: [() => queued(2, 2)],
    status: [() => queued(2, 2)],
    streams: [
      async function* () {
        yield queued(2, 2);
        throw new ConnectError("server shutting down", Code.Unavailable);
      },
      async function* () {
        yield ready;
      },
    ],
  });
  const t0 = Date.now();
  const { states, finished } = run(client, (s) => s.phase === "ready", { spreadMs: 400, random: () => 0.5 });
  await finished;
  const wait = states.find((s) => s.connection === "reconnecting")!.retryAt! - t0;
  assert.ok(wait >= 150 && wait <= 400, `reopened after ${wait} ms, want about 200 (half of 400)`);
});

test("with a join token, JoinQueue sends it as the bearer token and names no user; nothing else sends it", async () => {
  let opened: () => void;
  const streamOpen = new Promise<void>((resolve) => (opened = resolve));
  const { client, calls, auth } = fakeServer({
    join: [() => queued(2, 2), () => ({ ...queued(3, 3), sessionId: "s2" })],
    status: [() => queued(2, 2)],
    streams: [
      async function* () {
        yield queued(2, 2);
        throw new ConnectError("stream reset", Code.Unavailable);
      },
      async function* (ctx) {
        opened();
        yield queued(2, 2);
        await waitForever(ctx);
      },
    ],
  });
  const storage = memoryStorage();
  const { room, states } = run(client, () => false, { userId: "", joinToken: "h.p.s", storage });
  await streamOpen;
  await room.leave();
  // Join again (after leaving) proves who the visitor is again.
  const again = run(
    client,
    (s) => s.sessionId === "s2" && s.phase === "queued",
    { userId: "", joinToken: "h.p.s", storage },
    { fresh: true },
  );
  await again.finished;
  again.room.stop();
  assert.equal(states.at(-1)!.phase, "left");
  assert.deepEqual(calls.slice(0, 5), ["join  launch", "stream s1", "status s1", "stream s1", "leave s1"]);
  assert.equal(calls[5], "join  launch");
  assert.deepEqual(auth.slice(0, 6), [
    "join Bearer h.p.s",
    "stream none",
    "status none",
    "stream none",
    "leave none",
    "join Bearer h.p.s",
  ]);
});

test("without a join token, JoinQueue names the visitor id and sends no Authorization", async () => {
  const { client, calls, auth } = fakeServer({
    join: [() => queued(1, 1)],
    streams: [
      async function* () {
        yield ready;
      },
    ],
  });
  const { finished } = run(client, (s) => s.phase === "ready", { userId: "v-0123456789abcdef0123456789abcdef" });
  await finished;
  assert.deepEqual(calls, ["join v-0123456789abcdef0123456789abcdef launch", "stream s1"]);
  assert.deepEqual(auth, ["join none", "stream none"]);
});

test("a refused join token stops with what the visitor can do about it", async () => {
  for (const [err, phase] of [
    [new ConnectError("join token required", Code.Unauthenticated), "token-missing"],
    [new ConnectError("invalid join token: expired", Code.Unauthenticated), "token-expired"],
    [new ConnectError("invalid join token: bad signature", Code.Unauthenticated), "token-invalid"],
    [new ConnectError("invalid join token: wrong issuer", Code.Unauthenticated), "token-invalid"],
    [new ConnectError("invalid join token: exp is required", Code.Unauthenticated), "token-invalid"],
    [new ConnectError("invalid join token: malformed", Code.Unauthenticated), "token-invalid"],
    [new ConnectError("user_id does not match the join token", Code.PermissionDenied), "token-mismatch"],
    [new ConnectError("join token is for another event", Code.PermissionDenied), "token-mismatch"],
  ] as const) {
    const { client, calls } = fakeServer({
      join: [
        () => {
          throw err;
        },
      ],
    });
    const { states, finished } = run(client, (s) => s.phase === phase);
    await finished;
    assert.equal(states.at(-1)!.connection, "idle", err.message);
    assert.deepEqual(calls, ["join u1 launch"], err.message);
  }
});

/** beat is a heartbeat: the state again, marked. */
const q = (position: number, queueLength: number) => ({ sessionId: "s1", status: SessionStatus.QUEUED, position, queueLength });
const beat = (position: number, queueLength: number) => ({ ...q(position, queueLength), heartbeat: true });

const ms = (n: number) => ({ seconds: BigInt(Math.floor(n / 1000)), nanos: (n % 1000) * 1e6 });

const sleep = (n: number) => new Promise((r) => setTimeout(r, n));

test("silenceLimit: two to two and a half heartbeat intervals plus slack, else the fallback", () => {
  assert.equal(silenceLimit(20_000, 45_000, 1_000, 0), 41_000);
  assert.equal(silenceLimit(20_000, 45_000, 1_000, 0.999999) < 51_000, true);
  assert.equal(silenceLimit(1_000, 45_000, 1_000, 0.5), 3_250);
  assert.equal(silenceLimit(undefined, 45_000, 1_000, 0), 45_000);
  assert.equal(silenceLimit(0, 45_000, 1_000, 1), 67_500);
});

test("a stream silent for two heartbeat intervals is reopened at once, not counted as a failure", async () => {
  let opened = 0;
  const { client, calls } = fakeServer({
    join: [() => queued(2, 2)],
    streams: [
      async function* (ctx): AsyncGenerator<Update> {
        opened++;
        yield { ...q(2, 2), heartbeatInterval: ms(10) };
        await waitForever(ctx);
      },
      async function* (): AsyncGenerator<Update> {
        yield { ...q(2, 2), heartbeatInterval: ms(10) };
        yield ready;
      },
    ],
  });
  // The fallback would wait a minute: only the interval can reopen it this soon.
  const { states, finished } = run(client, (s) => s.phase === "ready", { quietMs: 60_000, heartbeatSlackMs: 0 });
  await finished;
  assert.equal(opened, 1);
  assert.deepEqual(calls, ["join u1 launch", "stream s1", "stream s1"]);
  assert.ok(states.every((s) => s.connection !== "reconnecting"), "a missed heartbeat counted as a failure");
  assert.deepEqual([...new Set(states.filter((s) => s.phase === "queued").map((s) => s.position))], [2]);
});

test("heartbeats keep a quiet stream open past the fallback, and show the same place", async () => {
  const { client, calls } = fakeServer({
    join: [() => queued(2, 2)],
    streams: [
      async function* (): AsyncGenerator<Update> {
        yield { ...q(2, 2), heartbeatInterval: ms(50) };
        // Ten heartbeats, 10 ms apart: each well inside 2 × 50 ms, and
        // together far past the 20 ms fallback.
        for (let i = 0; i < 10; i++) {
          await sleep(10);
          yield beat(2, 2);
        }
        yield ready;
      },
    ],
  });
  const { states, finished } = run(client, (s) => s.phase === "ready", { quietMs: 20, heartbeatSlackMs: 0 });
  await finished;
  assert.deepEqual(calls, ["join u1 launch", "stream s1"]);
  assert.ok(
    states.filter((s) => s.phase === "queued").every((s) => s.position === 2 && s.queueLength === 2),
    "a heartbeat changed the place shown",
  );
});

test("fair start and held places reach the state; a join's answer keeps what the stream said", async () => {
  const saleStartsAt = { seconds: 1_900_000_000n, nanos: 0 };
  const heldUntil = { seconds: 1_900_000_600n, nanos: 500_000_000 };
  const { client } = fakeServer({
    join: [() => queued(5, 5)],
    streams: [
      async function* (ctx): AsyncGenerator<Update> {
        yield { ...q(5, 5), fairStart: { saleStartsAt, seedCommitment: "c0ffee", placed: false } };
        yield { ...q(3, 5), fairStart: { saleStartsAt, seedCommitment: "c0ffee", placed: true, seed: "5eed" } };
        yield { ...q(1, 5), held: true, heldUntil };
        yield queued(1, 4);
        await waitForever(ctx);
      },
    ],
  });
  const { room, states, finished } = run(client, (s) => s.phase === "queued" && s.queueLength === 4);
  await finished;
  room.stop();
  const seen = states.filter((s) => s.phase === "queued");
  assert.deepEqual(seen[0].fairStart, undefined); // the join's answer
  assert.deepEqual(seen[1].fairStart, { saleStartsAt: 1_900_000_000_000, seedCommitment: "c0ffee", placed: false, seed: undefined });
  assert.deepEqual(seen[2].fairStart, { saleStartsAt: 1_900_000_000_000, seedCommitment: "c0ffee", placed: true, seed: "5eed" });
  assert.equal(seen[3].fairStart, undefined);
  assert.equal(seen[3].held, true);
  assert.equal(seen[3].heldUntil, 1_900_000_600_500);
  assert.equal(seen[4].held, false);
  assert.equal(seen[4].heldUntil, undefined);
});

test("progress counts from the drawn place, not from the pre-queue's bound", async () => {
  const saleStartsAt = { seconds: 1_900_000_000n, nanos: 0 };
  const unplaced = { saleStartsAt, seedCommitment: "c0ffee", placed: false };
  const placed = { ...unplaced, placed: true, seed: "5eed" };
  const { client } = fakeServer({
    join: [() => ({ ...q(5, 5), fairStart: unplaced })],
    streams: [
      async function* (ctx): AsyncGenerator<Update> {
        yield { ...q(6, 6), fairStart: unplaced };
        yield { ...q(3, 6), fairStart: placed };
        yield { ...q(2, 5), fairStart: placed };
        await waitForever(ctx);
      },
    ],
  });
  const storage = memoryStorage();
  const { room, states, finished } = run(client, (s) => s.position === 2, { storage });
  await finished;
  room.stop();
  assert.deepEqual(
    states.filter((s) => s.phase === "queued").map((s) => [s.position, s.startPosition]),
    [
      [5, undefined],
      [6, undefined],
      [3, 3],
      [2, 3],
    ],
  );
  assert.equal(storage.getItem("waitroom.start.s1"), "3");
});

test("the lane and a move back come from the server's messages", async () => {
  const { client } = fakeServer({
    join: [() => ({ ...queued(1, 1), lane: "general" })],
    streams: [
      async function* () {
        yield { ...queued(1, 1), lane: "general" };
        yield { ...queued(2, 2), lane: "general", movedBack: true };
        yield { ...queued(1, 1), lane: "general" };
        yield ready;
      },
    ],
  });
  const { states, finished } = run(client, (s) => s.phase === "ready");
  await finished;
  const q = states.filter((s) => s.phase === "queued");
  assert.ok(q.every((s) => s.lane === "general"), JSON.stringify(q));
  assert.deepEqual(
    q.map((s) => [s.position, s.movedBack ?? false]),
    [
      [1, false],
      [1, false],
      [2, true],
      [1, false],
    ],
  );
  assert.equal(states.at(-1)!.lane, undefined);
});
