// End-to-end: a fair start in the browser, through the real server. Visitors
// who arrive before the sale see it has not started, a live countdown to the
// start and the seed's commitment; at the start the pre-queue is placed, and
// each page shows the place the revealed seed gives it: the session ids sorted
// by HMAC-SHA256(seed, session_id), smallest first. The test recomputes that
// order itself, checks the seed against the commitment published before the
// start, and runs `waitroom verify-shuffle` against the server.

import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { createHash, createHmac } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { promisify } from "node:util";
import { call, phone, resultsDir, startStack, visible, waitText } from "./harness.mjs";

const adminToken = "e2e-admin-token-0123456789";
const admin = { Authorization: `Bearer ${adminToken}` };
const event = "fair-start";
const visitors = 3;

let stack;
let browser;
let server;
const contexts = [];
// Page errors and Content-Security-Policy violations, on any page.
const problems = [];

before(async () => {
  stack = await startStack({ QUEUE_PROCESS_INTERVAL: "200ms", WAITROOM_ADMIN_TOKEN: adminToken });
  ({ browser, server } = stack);
});

after(async () => {
  for (const ctx of contexts) await ctx.close().catch(() => {});
  await stack?.stop();
});

/** open loads the event's page in a fresh phone-sized context: a new visitor. */
async function open() {
  const ctx = await phone(browser);
  contexts.push(ctx);
  const page = await ctx.newPage();
  page.on("pageerror", (err) => problems.push(`page error at ${page.url()}: ${err.message}`));
  page.on("console", (msg) => {
    if (/Content Security Policy/i.test(msg.text())) problems.push(`${page.url()}: ${msg.text()}`);
  });
  await page.goto(`${server.base}/e/${event}`);
  return page;
}

const shot = (page, name) => page.screenshot({ path: join(resultsDir, name), animations: "disabled" });
const text = async (page, selector) => ((await page.locator(selector).textContent()) ?? "").trim();
const sessionOf = (page) => page.evaluate((key) => sessionStorage.getItem(key), `waitroom.session.${event}`);

/** getEvent is the event as the admin API shows it. */
async function getEvent() {
  return (await call(server.base, "EventAdminService/GetEvent", { event_id: event }, admin)).event;
}

/** setStart moves the event's sale_starts_at to ms from now. */
async function setStart(ms) {
  const at = new Date(Date.now() + ms).toISOString();
  await call(
    server.base,
    "EventAdminService/UpdateEvent",
    { update_mask: "saleStartsAt", event: { event_id: event, sale_starts_at: at } },
    admin,
  );
}

/** drawnOrder is the documented order: ids by HMAC-SHA256(seed, id), smallest first. */
function drawnOrder(seedHex, ids) {
  const key = Buffer.from(seedHex, "hex");
  const mac = (id) => createHmac("sha256", key).update(id, "utf8").digest();
  return [...ids].sort((a, b) => Buffer.compare(mac(a), mac(b)));
}

describe("a fair start in the browser", { timeout: 600_000 }, () => {
  const pages = [];
  const sessions = [];
  let commitment;

  it("shows visitors who arrive before the sale a live countdown to it and the seed's commitment", async () => {
    // Paused, with room for one: the start places the pre-queue, and the
    // places stay put until the test opens the event.
    const { event: created } = await call(
      server.base,
      "EventAdminService/PutEvent",
      {
        event: {
          event_id: event,
          state: "EVENT_STATE_PAUSED",
          max_concurrent: 1,
          sale_starts_at: new Date(Date.now() + 10 * 60_000).toISOString(),
        },
      },
      admin,
    );
    commitment = created.seed_commitment;
    assert.match(commitment, /^[0-9a-f]{64}$/);
    assert.ok(!created.seed, "the seed was revealed before the start");

    for (let i = 0; i < visitors; i++) {
      const page = await open();
      pages.push(page);
      await waitText(page, "#title", "The sale hasn't started yet");
      await waitText(page, "#place-label", "Your place in line will be at most");
      await waitText(page, "#connection-text", "Live: updates as the line moves");
      sessions.push(await sessionOf(page));
    }
    assert.equal(new Set(sessions).size, visitors, `sessions: ${sessions}`);
    for (const page of pages) {
      // Everyone's bound is the pre-queue's size, and grows with it, live.
      await waitText(page, "#position", String(visitors));
      assert.match(await text(page, "#wait"), /^Not known yet$/);
      assert.match(await text(page, "#prequeue"), /^The sale starts at \d{1,2}:\d{2} [AP]M, in ([1-9] min \d{1,2}|10 min 0) s\. /);
      // The draw's fingerprint is there to note down; the seed is not.
      await page.locator("#draw-summary").click();
      await visible(page, "#commitment");
      assert.equal(await text(page, "#commitment"), commitment);
      assert.equal(await page.locator("#seed-row").isHidden(), true);
    }
    // The countdown moves on by itself.
    const before = await text(pages[0], "#prequeue");
    await pages[0].waitForFunction(
      (was) => document.querySelector("#prequeue")?.textContent?.trim() !== was,
      before,
      { timeout: 30_000, polling: 100 },
    );
    assert.match(await text(pages[0], "#prequeue"), /, in ([1-9] min \d{1,2}|10 min 0) s\. /);
    await shot(pages[0], "20-fair-start-before.png");
  });

  it("follows the start when it moves, counting down in seconds", async () => {
    // Time enough for every page to hear of it on a busy machine.
    await setStart(30_000);
    for (const page of pages) {
      await page.waitForFunction(
        () => /, in ([1-9]|[12]\d|30) s\. /.test(document.querySelector("#prequeue")?.textContent ?? ""),
        null,
        { timeout: 25_000, polling: 100 },
      );
    }
    assert.equal((await getEvent()).seed_commitment, commitment, "moving the start changed the commitment");
  });

  it("places the pre-queue at the start in the order the revealed seed gives, and each page shows its drawn place", async () => {
    for (const page of pages) await waitText(page, "#place-label", "Your place in line", 90_000);
    const ev = await getEvent();
    assert.match(ev.seed ?? "", /^[0-9a-f]{64}$/);
    assert.equal(ev.seed_commitment, commitment);
    // The commitment published before the start is the SHA-256 of the seed.
    assert.equal(createHash("sha256").update(Buffer.from(ev.seed, "hex")).digest("hex"), commitment);
    assert.equal(Number(ev.pre_queue_placed), visitors);
    assert.ok(ev.placed_at, "no placed_at");

    const order = drawnOrder(ev.seed, sessions);
    for (const [i, page] of pages.entries()) {
      const place = order.indexOf(sessions[i]) + 1;
      await waitText(page, "#position", String(place));
      assert.equal(await text(page, "#title"), place === 1 ? "You're next" : "You're in line");
      // Progress counts from the drawn place, not from the bound shown
      // before: the bar is at its start (its smallest visible width).
      assert.ok((await page.locator("#progress").evaluate((e) => e.value)) <= 2, `progress at place ${place}`);
      assert.equal(await text(page, "#ahead"), place === 1 ? "No one" : `${place - 1} ${place === 2 ? "person" : "people"}`);
      assert.match(await text(page, "#prequeue"), /^Your place was drawn at random when the sale started, at \d{1,2}:\d{2} [AP]M\.$/);
      await visible(page, "#seed-row");
      assert.equal(await text(page, "#seed"), ev.seed);
      assert.equal(await text(page, "#commitment"), commitment);
      await shot(page, `21-fair-start-drawn-${place}.png`);
    }
    // The operators' list is the same order.
    const listed = await call(server.base, "EventAdminService/ListPreQueue", { event_id: event }, admin);
    assert.deepEqual(listed.session_ids, order);
  });

  it("verifies with `waitroom verify-shuffle` against the server and the commitment", async () => {
    const dir = await mkdtemp(join(tmpdir(), "waitroom-e2e-ids-"));
    try {
      const ids = join(dir, "ids.txt");
      await writeFile(ids, sessions.map((s) => `${s}\n`).join(""));
      const { stdout } = await promisify(execFile)(
        stack.bin,
        ["verify-shuffle", "-server", server.base, "-event", event, "-commitment", commitment, "-ids", ids],
        { env: { PATH: process.env.PATH, HOME: process.env.HOME, WAITROOM_ADMIN_TOKEN: adminToken } },
      );
      const printed = stdout
        .split("\n")
        .filter((l) => /^\d+\t/.test(l))
        .map((l) => l.split("\t")[1]);
      assert.deepEqual(printed, drawnOrder((await getEvent()).seed, sessions), stdout);
      assert.match(stdout, /OK/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("queues a visitor who arrives after the start behind the drawn places, and admits in the drawn order", async () => {
    const late = await open();
    await waitText(late, "#position", String(visitors + 1));
    await waitText(late, "#place-label", "Your place in line");
    assert.equal(await late.locator("#prequeue").isHidden(), true);
    assert.equal(await late.locator("#draw").isHidden(), true);

    const order = drawnOrder((await getEvent()).seed, sessions);
    const first = pages[sessions.indexOf(order[0])];
    await call(
      server.base,
      "EventAdminService/UpdateEvent",
      { update_mask: "state", event: { event_id: event, state: "EVENT_STATE_ACTIVE" } },
      admin,
    );
    await visible(first, "#ready");
    for (const [i, id] of order.slice(1).entries()) {
      await waitText(pages[sessions.indexOf(id)], "#position", String(i + 1));
    }
    await waitText(late, "#position", String(visitors));
  });

  it("runs without page errors and within its Content-Security-Policy", () => {
    assert.deepEqual(problems, []);
  });
});
