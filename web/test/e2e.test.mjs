// End-to-end: the real waitroom binary, the embedded page, headless Chromium.
// Event capacity 1: A is admitted; B and C wait at 1 and 2 and watch their
// places move live; A completes checkout; B is sent to checkout with a token
// that verifies against the JWKS; C moves to 1, and a reload keeps it there.
// In token mode, the page joins with the join token of the shop's link and
// explains a missing, expired or foreign one.

import assert from "node:assert/strict";
import { copyFile, mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { createRemoteJWKSet, decodeJwt, jwtVerify } from "jose";
import {
  buildServer,
  call,
  launchBrowser,
  phone,
  repoDir,
  resultsDir,
  shopKeys,
  startProxy,
  startServer,
  visible,
  waitText,
} from "./harness.mjs";

const adminToken = "e2e-admin-token-0123456789";
const admin = { Authorization: `Bearer ${adminToken}` };
const event = "launch-night";

let build;
let browser;
const contexts = [];
// Anything the page's Content-Security-Policy blocked, on any page.
const cspViolations = [];

before(async () => {
  await mkdir(resultsDir, { recursive: true });
  build = await buildServer();
  browser = await launchBrowser();
});

after(async () => {
  for (const ctx of contexts) await ctx.close().catch(() => {});
  await browser?.close();
  await build?.cleanup();
});

/**
 * open loads a page in a fresh phone-sized context: a new visitor. watch, if
 * given, sees the page before it loads.
 */
async function open(url, watch) {
  const ctx = await phone(browser);
  contexts.push(ctx);
  const page = await ctx.newPage();
  watch?.(page);
  page.on("pageerror", (err) => {
    console.error(`page error at ${page.url()}: ${err.message}`);
  });
  page.on("console", (msg) => {
    if (/Content Security Policy/i.test(msg.text())) cspViolations.push(`${page.url()}: ${msg.text()}`);
  });
  await page.goto(url);
  return page;
}

async function shot(page, name) {
  // Finished transitions: the progress bar is drawn where it ends up.
  await page.screenshot({ path: join(resultsDir, name), animations: "disabled" });
}

/** cardShot saves just the card, with a margin: the picture for the README. */
async function cardShot(page, name) {
  const box = await page.locator("main").boundingBox();
  const m = 16;
  const clip = { x: Math.max(0, box.x - m), y: Math.max(0, box.y - m), width: box.width + 2 * m, height: box.height + 2 * m };
  await page.screenshot({ path: join(resultsDir, name), clip, animations: "disabled" });
}

/** tokenFrom reads the checkout token the page appended to checkout_url. */
function tokenFrom(page) {
  const url = new URL(page.url());
  assert.equal(url.pathname, "/checkout", `expected the checkout page, at ${page.url()}`);
  const token = url.searchParams.get("token");
  assert.ok(token, "no ?token= on the checkout URL");
  return token;
}

/** storedVisitor is the visitor id the page keeps in localStorage. */
function storedVisitor(page) {
  return page.evaluate(() => localStorage.getItem("waitroom.visitor"));
}

describe("waiting room in the browser", { timeout: 600_000 }, () => {
  let server;
  // C reaches the server through a proxy the test can cut.
  let proxy;
  let pageA, pageB, pageC;
  let userB, userC;
  let tokenB;
  const visitor = (query = "") => open(`${server.base}/e/${event}${query}`);

  before(async () => {
    server = await startServer(build.bin, {
      QUEUE_PROCESS_INTERVAL: "200ms",
      QUEUE_DEFAULT_MAX_CONCURRENT: "1",
      WAITROOM_ADMIN_TOKEN: adminToken,
    });
    proxy = await startProxy(server.port);
  });

  after(async () => {
    await proxy?.close();
    await server?.stop();
  });

  it("admits visitor A, as their own random visitor id, and shows that it is their turn", async () => {
    // A link cannot choose who the visitor is: user_id is ignored.
    pageA = await visitor("?user_id=visitor-a");
    await visible(pageA, "#ready");
    await waitText(pageA, "#ready-title", "It's your turn");
    const href = await pageA.locator("#go").getAttribute("href");
    assert.match(href, /\/checkout\?token=[\w-]+\.[\w-]+\.[\w-]+$/);
    const userA = await storedVisitor(pageA);
    assert.match(userA, /^v-[0-9a-f]{32}$/);
    assert.equal(decodeJwt(new URL(href).searchParams.get("token")).sub, userA);
    await shot(pageA, "01-a-its-your-turn.png");
  });

  it("shows B and C positions 1 and 2, updating live", async () => {
    pageB = await visitor();
    await waitText(pageB, "#position", "1");
    await waitText(pageB, "#length", "1 person");
    await waitText(pageB, "#connection-text", "Live: updates as the line moves");
    userB = await storedVisitor(pageB);
    assert.match(userB, /^v-[0-9a-f]{32}$/);

    pageC = await open(`${proxy.base}/e/${event}`);
    await waitText(pageC, "#position", "2");
    await waitText(pageC, "#ahead", "1 person");
    userC = await storedVisitor(pageC);
    assert.notEqual(userC, userB);
    // B's page learns of C without a reload.
    await waitText(pageB, "#length", "2 people");
    assert.equal(await pageB.locator("#position").textContent(), "1");
    assert.match(await pageC.locator("#announcer").textContent(), /number 2 in line/);
    await shot(pageB, "02-b-position-1.png");
    await shot(pageC, "03-c-position-2.png");
  });

  it("keeps C's place through a dropped connection", async () => {
    proxy.cut();
    await pageC.waitForFunction(() => document.querySelector("#connection")?.dataset.state !== "live", null, {
      timeout: 30_000,
    });
    assert.match(await pageC.locator("#connection-text").textContent(), /Reconnecting|Can't reach/);
    assert.equal(await pageC.locator("#position").textContent(), "2");
    await shot(pageC, "04-c-reconnecting.png");
    proxy.restore();
    await waitText(pageC, "#connection-text", "Live: updates as the line moves");
    await waitText(pageC, "#position", "2");
  });

  it("lets a visitor leave with one click, and the others see the line shrink", async () => {
    const pageD = await visitor();
    await waitText(pageD, "#position", "3");
    await waitText(pageC, "#length", "3 people");
    await pageD.locator("#leave").click();
    await waitText(pageD, "#notice-title", "You left the line");
    await visible(pageD, "#again");
    await waitText(pageC, "#length", "2 people");
    await shot(pageD, "05-d-left.png");
  });

  it("sends B to checkout with a token that verifies against the JWKS once A completes", async () => {
    await pageA.waitForURL(/\/checkout\?token=/, { timeout: 30_000 });
    await call(server.base, "WaitroomService/CompleteCheckout", { checkout_token: tokenFrom(pageA) });

    await visible(pageB, "#ready");
    // C moves up while B is admitted, without a reload.
    await waitText(pageC, "#position", "1");
    await waitText(pageC, "#title", "You're next");
    await shot(pageC, "06-c-position-1-live.png");
    await cardShot(pageC, "waiting-room.png");

    await pageB.waitForURL(/\/checkout\?token=/, { timeout: 30_000 });
    const token = (tokenB = tokenFrom(pageB));
    const jwks = createRemoteJWKSet(new URL(`${server.base}/.well-known/jwks.json`));
    const { payload, protectedHeader } = await jwtVerify(token, jwks, {
      issuer: "waitroom",
      audience: "checkout",
      algorithms: ["EdDSA", "ES256"],
    });
    assert.equal(protectedHeader.alg, "EdDSA");
    assert.equal(payload.sub, userB);
    assert.equal(payload.event, event);
    assert.ok(payload.sid, "token names no session");
    assert.ok(payload.exp > payload.iat, "token has no lifetime");
    await shot(pageB, "07-b-checkout.png");

    // Back from checkout: still their turn, offered again, not bounced.
    await pageB.goBack();
    await visible(pageB, "#ready");
    await waitText(pageB, "#countdown", "Your checkout is waiting for you.");
    assert.equal(await pageB.locator("#go").getAttribute("href"), `${server.base}/checkout?token=${token}`);
  });

  it("keeps C at position 1 across a reload", async () => {
    await pageC.reload();
    await waitText(pageC, "#position", "1");
    await waitText(pageC, "#connection-text", "Live: updates as the line moves");
    assert.equal(await storedVisitor(pageC), userC);
    await shot(pageC, "08-c-after-reload.png");
    if (process.env.WAITROOM_DOCS_SCREENSHOT) {
      await mkdir(join(repoDir, "docs"), { recursive: true });
      await copyFile(join(resultsDir, "waiting-room.png"), join(repoDir, "docs", "waiting-room.png"));
    }
  });

  it("admits C when B completes checkout", async () => {
    await call(server.base, "WaitroomService/CompleteCheckout", { checkout_token: tokenB });
    await visible(pageC, "#ready");
    await shot(pageC, "09-c-its-your-turn.png");
    await pageC.locator("#go").click();
    await pageC.waitForURL(/\/checkout\?token=/, { timeout: 30_000 });
  });

  it("shows C as done, not back in line, on Back after a completed checkout", async () => {
    await call(server.base, "WaitroomService/CompleteCheckout", { checkout_token: tokenFrom(pageC) });
    await pageC.goBack();
    await waitText(pageC, "#notice-title", "You're all done");
    await shot(pageC, "10-c-done-after-back.png");
    // The same holds for a reload: the tab keeps its session, and the server
    // says it is complete; nobody joined again.
    await pageC.reload();
    await waitText(pageC, "#notice-title", "You're all done");
    const { queue_length: waiting, processing } = (
      await call(server.base, "EventAdminService/GetEvent", { event_id: event }, admin)
    ).event;
    assert.ok(!Number(waiting ?? 0) && !Number(processing ?? 0), `C joined again: ${waiting} waiting, ${processing} in checkout`);
  });

  it("says so when the event is closed", async () => {
    await call(
      server.base,
      "EventAdminService/PutEvent",
      { event: { event_id: "closed-sale", state: "EVENT_STATE_CLOSED" } },
      admin,
    );
    const page = await open(`${server.base}/e/closed-sale`);
    await waitText(page, "#notice-title", "This sale is closed");
    await shot(page, "10-closed.png");
  });

  it("runs within its Content-Security-Policy", () => {
    assert.deepEqual(cspViolations, []);
  });

  it("says so when the event id is not valid", async () => {
    const page = await open("about:blank");
    const res = await page.goto(`${server.base}/e/not%20an%20event`);
    assert.equal(res.status(), 404);
    assert.equal(await page.locator("h1").textContent(), "We couldn't find this event");
  });
});

describe("waiting room when a session expires", { timeout: 600_000 }, () => {
  let short;

  before(async () => {
    short = await startServer(build.bin, {
      QUEUE_PROCESS_INTERVAL: "200ms",
      QUEUE_SESSION_TTL: "3s",
      WAITROOM_ADMIN_TOKEN: adminToken,
    });
  });

  after(async () => {
    await short?.stop();
  });

  it("tells the visitor their session expired and offers to join again", async () => {
    // A paused event takes joins but admits nobody, so the session can only expire.
    await call(short.base, "EventAdminService/PutEvent", { event: { event_id: "paused", state: "EVENT_STATE_PAUSED" } }, admin);
    const page = await open(`${short.base}/e/paused`);
    await waitText(page, "#notice-title", "Your session expired");
    await visible(page, "#again");
    await shot(page, "11-expired.png");
  });
});

describe("waiting room with heartbeats", { timeout: 600_000 }, () => {
  let server;
  let proxy;

  before(async () => {
    server = await startServer(build.bin, {
      QUEUE_STREAM_HEARTBEAT: "1s",
      WAITROOM_ADMIN_TOKEN: adminToken,
      WAITROOM_STORE: "memory",
    });
    proxy = await startProxy(server.port);
  });

  after(async () => {
    await proxy?.close();
    await server?.stop();
  });

  it("recovers by itself from a stream that stops hearing heartbeats, and shows the same place", async () => {
    const streams = /StreamQueuePosition$/;
    // A paused event admits nobody: only a leave moves the line.
    await call(server.base, "EventAdminService/PutEvent", { event: { event_id: "beats", state: "EVENT_STATE_PAUSED" } }, admin);
    const first = await call(server.base, "WaitroomService/JoinQueue", { user_id: "ahead-1", event_id: "beats" });
    await call(server.base, "WaitroomService/JoinQueue", { user_id: "ahead-2", event_id: "beats" });
    const page = await open(`${proxy.base}/e/beats`);
    await waitText(page, "#position", "3");
    await waitText(page, "#connection-text", "Live: updates as the line moves");

    // Heartbeats every second keep a quiet stream: the page would reopen one
    // silent for 3.5 s.
    const opened = proxy.requests(streams);
    assert.equal(opened, 1);
    await new Promise((r) => setTimeout(r, 5_000));
    assert.equal(proxy.requests(streams), opened, "a stream with heartbeats was reopened");

    // The stream's connection stays open and goes silent: no heartbeat gets
    // through, and no error either.
    assert.ok(proxy.stall(streams) >= 1, "no stream connection to stall");
    const deadline = Date.now() + 30_000;
    while (proxy.requests(streams) === opened) {
      assert.ok(Date.now() < deadline, "the page never reopened its stalled stream");
      await new Promise((r) => setTimeout(r, 100));
    }
    await waitText(page, "#connection-text", "Live: updates as the line moves");
    assert.equal(await page.locator("#position").textContent(), "3");

    // Only the new stream can bring this.
    await call(server.base, "WaitroomService/LeaveQueue", { session_id: first.session_id });
    await waitText(page, "#position", "2");
    await waitText(page, "#length", "2 people");
    await shot(page, "14-heartbeat-recovered.png");
  });
});

describe("waiting room when the server goes away", { timeout: 600_000 }, () => {
  let server;
  let dataDir;

  before(async () => {
    dataDir = await mkdtemp(join(tmpdir(), "waitroom-e2e-kept-"));
  });

  after(async () => {
    await server?.stop();
    await rm(dataDir, { recursive: true, force: true });
  });

  /**
   * joinThenLoseServer queues a visitor on a paused event, leaves and joins
   * again, then stops the server and checks the page says so and keeps the
   * place shown. It returns the page and the JoinQueue calls it makes.
   */
  async function joinThenLoseServer(env, shotName) {
    server = await startServer(build.bin, env);
    await call(server.base, "EventAdminService/PutEvent", { event: { event_id: "paused", state: "EVENT_STATE_PAUSED" } }, admin);
    const joins = [];
    const page = await open(`${server.base}/e/paused`, (p) =>
      p.on("request", (req) => /WaitroomService\/JoinQueue$/.test(req.url()) && joins.push(req.url())),
    );
    await waitText(page, "#position", "1");

    // Leave, then join again: the place is at the back of the line (here, first).
    await page.locator("#leave").click();
    await waitText(page, "#notice-title", "You left the line");
    await page.locator("#again").click();
    await waitText(page, "#position", "1");

    await server.stop();
    await page.waitForFunction(
      () => /Can't reach the waiting room/.test(document.querySelector("#connection-text")?.textContent ?? ""),
      null,
      { timeout: 60_000 },
    );
    assert.equal(await page.locator("#position").textContent(), "1");
    await visible(page, "#retry");
    if (shotName) await shot(page, shotName);
    return { page, joins, port: server.port };
  }

  it("keeps the place across a restart on the disk store, with no new join", async () => {
    const env = { QUEUE_PROCESS_INTERVAL: "200ms", WAITROOM_ADMIN_TOKEN: adminToken, WAITROOM_DATA_DIR: dataDir };
    const { page, joins, port } = await joinThenLoseServer(env, "12-unreachable.png");
    const joinsBefore = joins.length;

    // The restarted server remembers the session and that the event is
    // paused: the page reconnects to the same place and waits on.
    server = await startServer(build.bin, env, port);
    await page.waitForFunction(
      () => /^Live/.test(document.querySelector("#connection-text")?.textContent ?? ""),
      null,
      { timeout: 60_000 },
    );
    await waitText(page, "#position", "1");
    assert.equal(joins.length, joinsBefore, "the page joined again although its session was kept");

    await call(server.base, "EventAdminService/PutEvent", { event: { event_id: "paused", state: "EVENT_STATE_ACTIVE" } }, admin);
    await visible(page, "#ready", 30_000);
    assert.equal(joins.length, joinsBefore);
    await server.stop();
  });

  it("joins again by itself when a memory-store server forgot the session", async () => {
    const { page, joins, port } = await joinThenLoseServer({
      QUEUE_PROCESS_INTERVAL: "200ms",
      WAITROOM_ADMIN_TOKEN: adminToken,
      WAITROOM_STORE: "memory",
    });
    const joinsBefore = joins.length;

    // The restarted server has forgotten the session and the paused event:
    // the page joins again by itself and, alone, is admitted.
    server = await startServer(build.bin, { QUEUE_PROCESS_INTERVAL: "200ms", WAITROOM_STORE: "memory" }, port);
    await visible(page, "#ready", 60_000);
    assert.ok(joins.length > joinsBefore, "the page was admitted without joining again");
  });
});

describe("waiting room in token mode", { timeout: 600_000 }, () => {
  const issuer = "https://shop.example";
  let shop;
  let server;
  // Every WaitroomService call the pages make: who joins as whom.
  const calls = [];
  const watchCalls = (page) =>
    page.on("request", (req) => {
      const rpc = /\/waitroom\.v1\.WaitroomService\/(\w+)/.exec(req.url())?.[1];
      if (rpc) calls.push({ rpc, authorization: req.headers().authorization, body: req.postData() });
    });

  before(async () => {
    shop = await shopKeys(issuer);
    server = await startServer(build.bin, {
      QUEUE_PROCESS_INTERVAL: "200ms",
      QUEUE_DEFAULT_MAX_CONCURRENT: "1",
      WAITROOM_ADMIN_TOKEN: adminToken,
      WAITROOM_JOIN_AUTH: "token",
      WAITROOM_JOIN_ISSUER: issuer,
      WAITROOM_JOIN_KEYS_FILE: shop.file,
    });
    // Paused: visitors join and wait, nobody is admitted until it opens.
    await call(server.base, "EventAdminService/PutEvent", { event: { event_id: "members", state: "EVENT_STATE_PAUSED" } }, admin);
  });

  after(async () => {
    await server?.stop();
    await shop?.cleanup();
  });

  it("joins with the link's join token, takes it out of the address bar, and keeps it for the tab", async () => {
    const token = await shop.sign("shop-user-1");
    const page = await open(`${server.base}/e/members?ref=mail&join_token=${token}#top`, watchCalls);
    await waitText(page, "#position", "1");
    await waitText(page, "#connection-text", "Live: updates as the line moves");
    assert.equal(page.url(), `${server.base}/e/members?ref=mail#top`);
    const joins = calls.filter((c) => c.rpc === "JoinQueue");
    assert.equal(joins.length, 1);
    assert.equal(joins[0].authorization, `Bearer ${token}`);
    const sent = JSON.parse(joins[0].body);
    assert.ok(!sent.user_id && !sent.userId, `JoinQueue named a user: ${joins[0].body}`);
    assert.ok(
      calls.filter((c) => c.rpc !== "JoinQueue").every((c) => c.authorization === undefined),
      "a call other than JoinQueue carried the join token",
    );
    assert.equal(await page.evaluate(() => localStorage.getItem("waitroom.visitor")), null, "made up a visitor id");
    await shot(page, "13-token-joined.png");

    // A reload keeps the place, though the address no longer has the token.
    await page.reload();
    await waitText(page, "#position", "1");
    assert.ok(!page.url().includes("join_token"), page.url());

    // Join again, after leaving, joins with the token the tab kept.
    await page.locator("#leave").click();
    await waitText(page, "#notice-title", "You left the line");
    await page.locator("#again").click();
    await waitText(page, "#position", "1");
    assert.deepEqual(
      calls.filter((c) => c.rpc === "JoinQueue").map((c) => c.authorization),
      [`Bearer ${token}`, `Bearer ${token}`],
    );

    // The server took the user from the token: the checkout token names them.
    await call(server.base, "EventAdminService/PutEvent", { event: { event_id: "members", state: "EVENT_STATE_ACTIVE" } }, admin);
    await visible(page, "#ready");
    const href = await page.locator("#go").getAttribute("href");
    assert.equal(decodeJwt(new URL(href).searchParams.get("token")).sub, "shop-user-1");
  });

  it("shows the lane a join token's lane claim puts the visitor in", async () => {
    await call(
      server.base,
      "EventAdminService/PutEvent",
      { event: { event_id: "lanes", state: "EVENT_STATE_PAUSED", lanes: [{ name: "general", weight: 1 }, { name: "vip", weight: 3 }] } },
      admin,
    );
    const general = await open(`${server.base}/e/lanes?join_token=${await shop.sign("lane-user-1")}`);
    await waitText(general, "#position", "1");
    await waitText(general, "#lane", "general lane");
    const vip = await open(`${server.base}/e/lanes?join_token=${await shop.sign("lane-user-2", { claims: { lane: "vip" } })}`);
    await waitText(vip, "#lane", "vip lane");
    await waitText(vip, "#position", "1");
    // The vip lane is drawn first: the general visitor moves back, live.
    await waitText(general, "#position", "2");
    await shot(vip, "16-lane-vip.png");
  });

  it("sends a visitor who came without a join token back to the shop", async () => {
    const page = await open(`${server.base}/e/members`);
    await waitText(page, "#notice-title", "Please come in through the shop");
    assert.match(await page.locator("#notice-text").textContent(), /entered from the shop's site\. Go back to the shop/);
    assert.ok(await page.locator("#again").isHidden());
    await shot(page, "14-token-missing.png");
  });

  it("says an expired link has expired", async () => {
    const token = await shop.sign("shop-user-2", { iat: Math.floor(Date.now() / 1000) - 900, life: 300 });
    const page = await open(`${server.base}/e/members?join_token=${token}`);
    await waitText(page, "#notice-title", "This link has expired");
    assert.match(await page.locator("#notice-text").textContent(), /Go back to the shop for a new one/);
    assert.equal(page.url(), `${server.base}/e/members`);
    await shot(page, "15-token-expired.png");
  });

  it("says a link made for another event is not for this visitor", async () => {
    const token = await shop.sign("shop-user-3", { claims: { event_id: "another-sale" } });
    const page = await open(`${server.base}/e/members?join_token=${token}`);
    await waitText(page, "#notice-title", "This link isn't for you");
  });

  it("says a link whose token is not the shop's is not valid", async () => {
    const other = await shopKeys(issuer);
    const token = await other.sign("shop-user-4");
    await other.cleanup();
    const page = await open(`${server.base}/e/members?join_token=${token}`);
    await waitText(page, "#notice-title", "This link isn't valid");
    assert.match(await page.locator("#notice-text").textContent(), /Go back to the shop/);
  });

  it("runs within its Content-Security-Policy", () => {
    assert.deepEqual(cspViolations, []);
  });
});
