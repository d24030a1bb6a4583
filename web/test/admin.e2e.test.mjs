// End-to-end: the operators' dashboard at /admin, against the real waitroom
// binary, in headless Chromium. A wrong token is refused; the right one
// signs in and lives in sessionStorage only; an event's figures move live as
// the test's visitors join (from WatchEvent's stream, and from GetEvent
// polled each second when WatchEvent is made to answer Unimplemented);
// pause and resume, capacity and admission rate each ask first and change
// only their own field.

import assert from "node:assert/strict";
import { copyFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { call, repoDir, resultsDir, startServer, startStack, visible, waitText } from "./harness.mjs";

const adminToken = "e2e-dashboard-token-9f8e7d6c";
const admin = { Authorization: `Bearer ${adminToken}` };
const event = "launch-night";
const watchPath = "**/waitroom.v1.EventAdminService/WatchEvent";

let stack;
let browser;
let server;
let ctx;
let page;
// Every URL the browser asked for, and everything it logged: the token must be in none.
const urls = [];
const logs = [];

before(async () => {
  stack = await startStack({ QUEUE_PROCESS_INTERVAL: "200ms", WAITROOM_ADMIN_TOKEN: adminToken });
  ({ browser, server } = stack);
  ctx = await browser.newContext({ viewport: { width: 1280, height: 900 }, locale: "en-US", colorScheme: "light" });
  page = await ctx.newPage();
  page.on("request", (r) => urls.push(r.url()));
  page.on("console", (m) => logs.push(m.text()));
  page.on("pageerror", (err) => logs.push(`page error: ${err.message}`));
});

after(async () => {
  await ctx?.close().catch(() => {});
  await stack?.stop();
});

const adminCall = (method, body) => call(server.base, `EventAdminService/${method}`, body, admin);
const getEvent = async (id = event) => (await adminCall("GetEvent", { event_id: id })).event;

let users = 0;
// The sessions joinLine made, in the order they joined: the order of admission.
const line = [];
/** joinLine puts n new visitors in line. */
async function joinLine(n) {
  for (let i = 0; i < n; i++) {
    const res = await call(server.base, "WaitroomService/JoinQueue", { user_id: `dash-user-${++users}`, event_id: event });
    line.push(res.session_id);
  }
}

/**
 * openStream starts a server stream over the Connect protocol's framing and
 * reads its first frame: flags 0 is a message, 2 the end of the stream
 * (with its error, if any). close ends it.
 */
async function openStream(method, body, headers = {}) {
  const json = Buffer.from(JSON.stringify(body));
  const frame = Buffer.alloc(5 + json.length);
  frame.writeUInt32BE(json.length, 1);
  json.copy(frame, 5);
  const abort = new AbortController();
  const res = await fetch(`${server.base}/waitroom.v1.${method}`, {
    method: "POST",
    headers: { "Content-Type": "application/connect+json", ...headers },
    body: frame,
    signal: abort.signal,
  });
  const { value } = await res.body.getReader().read();
  return { message: res.status === 200 && value[0] === 0, close: () => abort.abort() };
}

/** servesWatchEvent asks the server itself whether it streams an event's figures. */
async function servesWatchEvent() {
  const s = await openStream("EventAdminService/WatchEvent", { event_id: event }, admin);
  s.close();
  return s.message;
}

async function shot(name) {
  await page.screenshot({ path: join(resultsDir, name), animations: "disabled", fullPage: true });
}

/** confirm answers the dialog a control opens, after checking its question. */
async function confirm(question, answer = "#confirm-yes") {
  await visible(page, "#confirm");
  assert.match(await page.locator("#confirm-text").textContent(), question);
  await page.locator(answer).click();
  await page.locator("#confirm").waitFor({ state: "hidden" });
}

async function signIn(token) {
  await page.locator("#token").fill(token);
  await page.locator("#signin-button").click();
}

/** selectEvent opens an event's live view from the list. */
async function selectEvent(id) {
  await page.locator(`#events tr[data-event="${id}"] a`).click();
  await waitText(page, "#event-title", id);
}

describe("operators' dashboard in the browser", { timeout: 600_000 }, () => {
  const settings = { max_concurrent: 2, checkout_window: "900s", checkout_url: "https://shop.example.test/pay", admission_rate: 50 };

  before(async () => {
    await adminCall("PutEvent", { event: { event_id: event, ...settings } });
    await adminCall("PutEvent", { event: { event_id: "encore", max_concurrent: 10 } });
  });

  it("refuses a wrong token and keeps nothing of it", async () => {
    await page.goto(`${server.base}/admin`);
    await visible(page, "#signin-view");
    await signIn("not-the-token");
    await waitText(page, "#signin-error", "That is not this server's admin token. Check it and sign in again.");
    assert.equal(await page.evaluate(() => sessionStorage.length), 0);
    assert.equal(await page.locator("#dash-view").isHidden(), true);
  });

  it("signs in with the admin token, kept in sessionStorage only, and lists the events", async () => {
    await signIn(adminToken);
    await visible(page, "#dash-view");
    assert.equal(await page.evaluate(() => sessionStorage.getItem("waitroom.admin-token")), adminToken);
    assert.deepEqual(await page.locator("#events tr").evaluateAll((rows) => rows.map((r) => r.dataset.event)), ["encore", event]);
    await waitText(page, `#events tr[data-event="${event}"] td:nth-child(4)`, "0 of 2");
    // A reload keeps the tab signed in.
    await page.reload();
    await visible(page, "#dash-view");
  });

  it("shows the event's figures moving as visitors join, from WatchEvent's stream", async () => {
    assert.ok(await servesWatchEvent(), "the server does not stream WatchEvent");
    await selectEvent(event);
    await page.waitForFunction(() => document.querySelector("#source")?.dataset.connection === "live");
    assert.equal(await page.locator("#source").getAttribute("data-source"), "stream");
    await waitText(page, "#source-text", "Live");
    await waitText(page, "#f-queue", "0");
    await waitText(page, "#f-limit", "50/s");

    await joinLine(5);
    // Two are admitted (capacity 2); three wait.
    await waitText(page, "#f-checkout", "2 of 2");
    await waitText(page, "#f-queue", "3");
    await waitText(page, "#f-joined", "5");
    await waitText(page, "#f-admitted", "2");
    assert.notEqual(await page.locator("#f-wait").textContent(), "–");
    await joinLine(2);
    await waitText(page, "#f-queue", "5");
    await waitText(page, "#f-joined", "7");
    // The last in line watches their place: one open stream.
    const visitor = await openStream("WaitroomService/StreamQueuePosition", { session_id: line.at(-1) });
    assert.ok(visitor.message, "no first position message");
    await waitText(page, "#f-streams", "1");
    visitor.close();
    await waitText(page, "#f-streams", "0");
    const d = await page.locator('#chart path[data-series="queue"]').getAttribute("d");
    assert.match(d, /^M[\d.]+ [\d.]+(L[\d.]+ [\d.]+)+$/, "the queue line has points");
    await shot("admin-01-live.png");
  });

  it("falls back to polling GetEvent when WatchEvent is not served, and says so", async () => {
    // 404 is how a server without the method answers: Unimplemented.
    await page.route(watchPath, (route) => route.fulfill({ status: 404, body: "404 page not found" }));
    await page.reload();
    await visible(page, "#detail");
    await waitText(page, "#source-text", "Polling every second");
    assert.match(await page.locator("#source-text").getAttribute("title"), /does not stream live figures/);
    await waitText(page, "#f-queue", "5");
    await joinLine(1);
    await waitText(page, "#f-queue", "6");
    assert.equal(await page.locator("#f-joined").textContent(), "–");
    await shot("admin-02-polling.png");
    await page.unroute(watchPath);
    await page.reload();
    await waitText(page, "#event-title", event);
  });

  it("pauses and resumes after confirmation, keeping capacity, window, URL and rate", async () => {
    await waitText(page, "#state-button", "Pause admission");
    // Cancel changes nothing.
    await page.locator("#state-button").click();
    await confirm(/^Pause launch-night\?/, "#confirm-no");
    assert.equal((await getEvent()).state, "EVENT_STATE_ACTIVE");

    await page.locator("#state-button").click();
    await confirm(/^Pause launch-night\?/);
    await waitText(page, "#control-done", "Paused launch-night.");
    await waitText(page, "#event-state", "paused");
    await waitText(page, "#state-button", "Resume admission");
    let e = await getEvent();
    assert.equal(e.state, "EVENT_STATE_PAUSED");
    assert.deepEqual(
      { max_concurrent: e.max_concurrent, checkout_window: e.checkout_window, checkout_url: e.checkout_url, admission_rate: e.admission_rate },
      settings,
    );
    await waitText(page, `#events tr[data-event="${event}"] td:nth-child(2)`, "paused");

    await page.locator("#state-button").click();
    await confirm(/^Resume launch-night\?/);
    await waitText(page, "#control-done", "Resumed launch-night.");
    await waitText(page, "#event-state", "active");
    e = await getEvent();
    assert.equal(e.state, "EVENT_STATE_ACTIVE");
    assert.deepEqual(
      { max_concurrent: e.max_concurrent, checkout_window: e.checkout_window, checkout_url: e.checkout_url, admission_rate: e.admission_rate },
      settings,
    );
  });

  it("changes the capacity and the admission rate after confirmation, and explains what it refuses", async () => {
    await page.locator("#capacity").fill("4");
    await page.locator("#capacity-form button").click();
    await confirm(/^Change launch-night's checkout capacity from 2 to 4\?/);
    await waitText(page, "#control-done", "Capacity set to 4.");
    // Two more slots: two more admitted.
    await waitText(page, "#f-checkout", "4 of 4");
    let e = await getEvent();
    assert.equal(e.max_concurrent, 4);
    assert.equal(e.admission_rate, 50);
    assert.equal(e.checkout_url, settings.checkout_url);

    await page.locator("#rate").fill("2.5");
    await page.locator("#rate-form button").click();
    await confirm(/^Limit launch-night's admission to 2\.5\/s \(now 50\/s\)\?/);
    await waitText(page, "#control-done", "Admission rate set to 2.5/s.");
    await waitText(page, "#f-limit", "2.5/s");
    e = await getEvent();
    assert.equal(e.admission_rate, 2.5);
    assert.equal(e.max_concurrent, 4);
    assert.equal(e.checkout_window, "900s");

    await page.locator("#rate").fill("-3");
    await page.locator("#rate-form button").click();
    await waitText(page, "#control-error", "The admission rate is users per second, from 0 (unlimited) to 1,000,000.");
    assert.equal(await page.locator("#confirm").isHidden(), true);

    // The server's own refusal is shown as it says it: here the event is gone.
    await adminCall("PutEvent", { event: { event_id: "short-lived" } });
    await page.evaluate(() => (location.hash = "#short-lived"));
    await waitText(page, "#event-title", "short-lived");
    await page.locator("#state-button:enabled").waitFor();
    await waitText(page, "#state-button", "Pause admission");
    await adminCall("DeleteEvent", { event_id: "short-lived", force: true });
    await page.locator("#state-button").click();
    await confirm(/^Pause short-lived\?/);
    await waitText(page, "#control-error", "The change was not made: event not found (not found)");
    await shot("admin-03-error.png");
  });

  it("takes a picture of a busy event for the README", async () => {
    await page.evaluate((id) => (location.hash = `#${id}`), event);
    await waitText(page, "#event-title", event);
    // Traffic: visitors arrive in waves; those admitted complete at once.
    const until = Date.now() + (process.env.WAITROOM_DOCS_SCREENSHOT ? 55_000 : 4_000);
    for (let i = 0; Date.now() < until; i++) {
      await joinLine(i % 20 < 6 ? 5 : 0);
      while (line.length > 0) {
        const done = await call(server.base, "WaitroomService/CompleteCheckout", { session_id: line[0] }).then(
          () => true,
          () => false, // not admitted yet: nor is anyone behind
        );
        if (!done) break;
        line.shift();
      }
      await new Promise((r) => setTimeout(r, 500));
    }
    await page.locator("#control-done").evaluate((e) => (e.hidden = true));
    await page.locator("#control-error").evaluate((e) => (e.hidden = true));
    await shot("admin-dashboard.png");
    if (process.env.WAITROOM_DOCS_SCREENSHOT) {
      await copyFile(join(resultsDir, "admin-dashboard.png"), join(repoDir, "docs", "admin-dashboard.png"));
    }
  });

  it("pages through the events, 50 at a time", async () => {
    for (let i = 0; i < 50; i++) await adminCall("PutEvent", { event: { event_id: `page-${String(i).padStart(2, "0")}` } });
    await page.reload();
    await visible(page, "#more");
    const rows = () => page.locator("#events tr").evaluateAll((trs) => trs.map((r) => r.dataset.event));
    const first = await rows();
    assert.equal(first.length, 50);
    assert.deepEqual(first.slice(0, 3), ["encore", event, "page-00"]);
    await page.locator("#more").click();
    await page.waitForFunction(() => document.querySelectorAll("#events tr").length === 52);
    assert.deepEqual((await rows()).slice(-2), ["page-48", "page-49"]);
    assert.equal(await page.locator("#more").isHidden(), true);
    // The list is read again every 5 s, both pages of it.
    await page.evaluate(() => (document.querySelector("#events tr:last-child td:nth-child(2)").textContent = "stale"));
    await waitText(page, "#events tr:last-child td:nth-child(2)", "active");
    assert.equal((await rows()).length, 52);
  });

  it("explains an event that is not there", async () => {
    await page.evaluate(() => (location.hash = "#no such event"));
    await waitText(page, "#detail-error", "There is no event with this id: it may have been deleted.");
  });

  it("signs out, forgetting the token, and never put it in a URL or a log", async () => {
    await page.locator("#signout").click();
    await visible(page, "#signin-view");
    assert.equal(await page.evaluate(() => sessionStorage.getItem("waitroom.admin-token")), null);
    await page.reload();
    await visible(page, "#signin-view");
    assert.ok(urls.length > 10, `only ${urls.length} requests seen`);
    for (const u of [...urls, page.url()]) assert.ok(!u.includes(adminToken), `the token is in ${u}`);
    for (const l of logs) assert.ok(!l.includes(adminToken), `the token is in a log line: ${l}`);
    assert.ok(!server.log().includes(adminToken), "the token is in the server's log");
    assert.deepEqual(logs.filter((l) => /Content Security Policy|page error/i.test(l)), []);
  });
});

describe("operators' dashboard on a server without an admin token", { timeout: 120_000 }, () => {
  let bare;
  before(async () => {
    bare = await startServer(stack.bin, { WAITROOM_STORE: "memory" });
  });
  after(async () => {
    await bare?.stop();
  });

  it("says that the admin API is off", async () => {
    await page.goto(`${bare.base}/admin`);
    await signIn("any-token-at-all-123");
    await waitText(page, "#signin-error", "The admin API is off on this server: it needs WAITROOM_ADMIN_TOKEN set.");
    assert.equal(await page.evaluate(() => sessionStorage.length), 0);
  });
});
