import assert from "node:assert/strict";
import { test } from "node:test";
import { EventState } from "../../src/gen/waitroom/v1/admin_pb";
import { History, rateAt, type Sample } from "../../src/adminstats";

const base = 1_800_000_000_000;

function streamed(sec: number, admitted: number, processing = 0): Sample {
  return {
    source: "stream",
    at: base + sec * 1000,
    state: EventState.ACTIVE,
    queueLength: 0,
    processing,
    maxConcurrent: 100,
    rateLimit: 0,
    totals: { joined: admitted, admitted, completed: 0, expired: 0, left: 0 },
  };
}

function polled(sec: number, processing: number): Sample {
  return { source: "poll", at: base + sec * 1000, state: EventState.ACTIVE, queueLength: 0, processing, maxConcurrent: 100, rateLimit: 0 };
}

test("rateAt counts admissions from the totals over the last 10 s", () => {
  const s = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12].map((sec) => streamed(sec, sec * 5));
  assert.deepEqual(rateAt(s, 12), { perSecond: 5, exact: true });
  // The window starts 10 s back: samples 2..12.
  const burst = [streamed(0, 0), streamed(1, 100), streamed(6, 100), streamed(11, 120)];
  assert.deepEqual(rateAt(burst, 3), { perSecond: 2, exact: true });
});

test("rateAt needs two samples a second apart", () => {
  assert.equal(rateAt([streamed(0, 0)], 0), undefined);
  assert.equal(rateAt([streamed(0, 0), { ...streamed(0, 3), at: base + 500 }], 1), undefined);
  assert.equal(rateAt([], 0), undefined);
});

test("rateAt estimates a lower bound from the in-checkout rises while polling", () => {
  // 0 → 3 → 2 (one completed) → 6: rises of 3 and 4 in 3 s.
  const s = [polled(0, 0), polled(1, 3), polled(2, 2), polled(3, 6)];
  assert.deepEqual(rateAt(s, 3), { perSecond: 7 / 3, exact: false });
});

test("rateAt does not mix sources, and survives a reset total", () => {
  const s = [polled(0, 0), polled(1, 50), streamed(2, 10), streamed(4, 20)];
  assert.deepEqual(rateAt(s, 3), { perSecond: 5, exact: true });
  // The event was deleted and made again: totals start from 0.
  const reset = [streamed(0, 500, 10), streamed(2, 4, 14)];
  assert.deepEqual(rateAt(reset, 1), { perSecond: 2, exact: false });
});

test("History keeps the chart's window and starts again when the clock goes back", () => {
  const h = new History(60_000);
  for (let sec = 0; sec <= 120; sec++) h.add(polled(sec, sec));
  assert.equal(h.samples.length, 61);
  assert.equal(h.samples[0].at, base + 60_000);
  assert.equal(h.latest?.processing, 120);
  h.add(polled(10, 1));
  assert.equal(h.samples.length, 1);
  h.clear();
  assert.equal(h.latest, undefined);
});
