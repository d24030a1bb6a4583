import assert from "node:assert/strict";
import { test } from "node:test";
import { parseLocation, visitorId } from "../../src/ids";

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

test("visitorId keeps one random id per browser", () => {
  const storage = new MemoryStorage();
  const first = visitorId(new URL("https://q.example.test/e/demo"), storage);
  assert.ok(first.ok);
  assert.match(first.userId, /^v-[0-9a-f]{32}$/);
  const again = visitorId(new URL("https://q.example.test/e/other"), storage);
  assert.deepEqual(again, first);
  const elsewhere = visitorId(new URL("https://q.example.test/e/demo"), new MemoryStorage());
  assert.ok(elsewhere.ok);
  assert.notEqual(elsewhere.userId, first.userId);
});

test("visitorId takes the embedding site's user_id, and checks it", () => {
  const storage = new MemoryStorage();
  assert.deepEqual(visitorId(new URL("https://q.example.test/e/demo?user_id=shop:42@eu"), storage), {
    ok: true,
    userId: "shop:42@eu",
  });
  assert.equal(storage.length, 0, "a given id is not stored over the browser's own");
  const bad = visitorId(new URL("https://q.example.test/e/demo?user_id=has%20space"), storage);
  assert.equal(bad.ok, false);
});

test("visitorId works where storage throws", () => {
  const broken = new MemoryStorage();
  broken.getItem = () => {
    throw new Error("denied");
  };
  broken.setItem = () => {
    throw new Error("denied");
  };
  const id = visitorId(new URL("https://q.example.test/e/demo"), broken);
  assert.ok(id.ok);
  assert.ok(visitorId(new URL("https://q.example.test/e/demo"), undefined).ok);
});
