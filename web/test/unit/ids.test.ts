import assert from "node:assert/strict";
import { test } from "node:test";
import { parseLocation, takeJoinToken, visitorId } from "../../src/ids";

class MemoryStorage implements Storage {
  private items = new Map<string, string>();
  get length() {
    return this.items.size;
  }
  clear() {
    this.items.clear();
  }
  getItem(key: string) {
    return this.items.get(key) ?? null;
  }
  key(i: number) {
    return [...this.items.keys()][i] ?? null;
  }
  removeItem(key: string) {
    this.items.delete(key);
  }
  setItem(key: string, value: string) {
    this.items.set(key, value);
  }
}

test("parseLocation finds the event and the API base", () => {
  assert.deepEqual(parseLocation(new URL("https://q.example.test/e/tour-2026.london_1?x=1")), {
    eventId: "tour-2026.london_1",
    baseUrl: "https://q.example.test",
  });
  assert.deepEqual(parseLocation(new URL("http://127.0.0.1:8080/waitroom/e/demo")), {
    eventId: "demo",
    baseUrl: "http://127.0.0.1:8080/waitroom",
  });
  for (const bad of ["/", "/e/", "/e/bad%20id", "/e/a/b", "/e/" + "x".repeat(65), "/checkout"]) {
    assert.equal(parseLocation(new URL("https://q.example.test" + bad)), undefined, bad);
  }
});

test("visitorId keeps one random 128-bit id per browser", () => {
  const storage = new MemoryStorage();
  const first = visitorId(storage);
  assert.match(first, /^v-[0-9a-f]{32}$/);
  assert.equal(storage.getItem("waitroom.visitor"), first);
  assert.equal(visitorId(storage), first);
  assert.notEqual(visitorId(new MemoryStorage()), first);
});

test("visitorId replaces a stored id that is not 128 random bits", () => {
  for (const old of ["shop:42@eu", "alice@example.com", "v-1234", "v-" + "0".repeat(31) + "G", ""]) {
    const storage = new MemoryStorage();
    storage.setItem("waitroom.visitor", old);
    const id = visitorId(storage);
    assert.match(id, /^v-[0-9a-f]{32}$/, old);
    assert.equal(storage.getItem("waitroom.visitor"), id);
  }
});

test("visitorId works where storage throws", () => {
  const broken = new MemoryStorage();
  broken.getItem = () => {
    throw new Error("denied");
  };
  broken.setItem = () => {
    throw new Error("denied");
  };
  assert.match(visitorId(broken), /^v-[0-9a-f]{32}$/);
  assert.match(visitorId(undefined), /^v-[0-9a-f]{32}$/);
});

const jwt = "eyJhbGciOiJFZERTQSJ9.eyJzdWIiOiJ1MSJ9.c2lnbmF0dXJl";

test("takeJoinToken takes the link's token, keeps it for the tab, and gives the address without it", () => {
  const tab = new MemoryStorage();
  const got = takeJoinToken(
    new URL(`https://q.example.test/e/demo?utm_source=mail&join_token=${jwt}&note=a%20b&flag#top`),
    "demo",
    tab,
  );
  assert.deepEqual(got, {
    token: jwt,
    fromLink: true,
    malformed: false,
    cleanUrl: "https://q.example.test/e/demo?utm_source=mail&note=a%20b&flag#top",
  });
  assert.equal(tab.getItem("waitroom.join_token.demo"), jwt);
  assert.equal(
    takeJoinToken(new URL(`https://q.example.test/e/demo?join_token=${jwt}`), "demo", tab).cleanUrl,
    "https://q.example.test/e/demo",
  );
});

test("takeJoinToken without one in the link uses the tab's token for that event", () => {
  const tab = new MemoryStorage();
  takeJoinToken(new URL(`https://q.example.test/e/demo?join_token=${jwt}`), "demo", tab);
  assert.deepEqual(takeJoinToken(new URL("https://q.example.test/e/demo"), "demo", tab), {
    token: jwt,
    fromLink: false,
    malformed: false,
  });
  assert.deepEqual(takeJoinToken(new URL("https://q.example.test/e/other"), "other", tab), {
    token: undefined,
    fromLink: false,
    malformed: false,
  });
  // A newer link replaces the kept token.
  const newer = jwt.replace("c2ln", "bmV3");
  assert.equal(takeJoinToken(new URL(`https://q.example.test/e/demo?join_token=${newer}`), "demo", tab).token, newer);
  assert.equal(takeJoinToken(new URL("https://q.example.test/e/demo"), "demo", tab).token, newer);
});

test("takeJoinToken refuses what cannot be a bearer token, and forgets the tab's old one", () => {
  for (const bad of ["", "has%20space", "a%0Ab", "%E2%82%AC", "x".repeat(8193)]) {
    const tab = new MemoryStorage();
    tab.setItem("waitroom.join_token.demo", jwt);
    const got = takeJoinToken(new URL(`https://q.example.test/e/demo?join_token=${bad}`), "demo", tab);
    assert.equal(got.malformed, true, bad);
    assert.equal(got.token, undefined, bad);
    assert.equal(got.cleanUrl, "https://q.example.test/e/demo", bad);
    assert.equal(takeJoinToken(new URL("https://q.example.test/e/demo"), "demo", tab).token, undefined, bad);
  }
});

test("takeJoinToken still cleans the address of a page that is not an event", () => {
  const url = new URL(`https://q.example.test/e/bad%20id?join_token=${jwt}`);
  const got = takeJoinToken(url, undefined, new MemoryStorage());
  assert.equal(got.cleanUrl, "https://q.example.test/e/bad%20id");
});

test("takeJoinToken works where storage throws", () => {
  const broken = new MemoryStorage();
  broken.getItem = () => {
    throw new Error("denied");
  };
  broken.setItem = () => {
    throw new Error("denied");
  };
  const url = new URL(`https://q.example.test/e/demo?join_token=${jwt}`);
  assert.equal(takeJoinToken(url, "demo", broken).token, jwt);
  assert.equal(takeJoinToken(url, "demo", undefined).token, jwt);
  assert.equal(takeJoinToken(new URL("https://q.example.test/e/demo"), "demo", broken).token, undefined);
});
