import assert from "node:assert/strict";
import { test } from "node:test";
import { EventState } from "../../src/gen/waitroom/v1/admin_pb";
import { agoLabel, box, chartModel, compact, linePath, niceScale, tickValues, windowFor, xOf, yOf } from "../../src/adminchart";
import type { Sample } from "../../src/adminstats";

test("niceScale holds the value in about four round steps", () => {
  assert.deepEqual(niceScale(0, 4, 1), { max: 4, step: 1 });
  assert.deepEqual(niceScale(3, 4, 1), { max: 3, step: 1 });
  assert.deepEqual(niceScale(7, 4, 1), { max: 8, step: 2 });
  assert.deepEqual(niceScale(100, 4, 1), { max: 100, step: 25 });
  assert.deepEqual(niceScale(101, 4, 1), { max: 150, step: 50 });
  assert.deepEqual(niceScale(9_500, 4, 1), { max: 10_000, step: 2500 });
  assert.deepEqual(niceScale(0.2, 4, 0.5), { max: 0.5, step: 0.5 });
  assert.deepEqual(niceScale(0, 4, 0.5), { max: 2, step: 0.5 });
  assert.deepEqual(niceScale(3.3, 4, 0.5), { max: 4, step: 1 });
  // Counts of people never get half steps.
  assert.deepEqual(niceScale(9, 4, 1), { max: 9, step: 3 });
  assert.deepEqual(niceScale(10, 4, 1), { max: 12, step: 3 });
  for (const v of [1, 5, 13, 77, 420, 1234, 99_999]) {
    const s = niceScale(v, 4, 1);
    assert.ok(s.max >= v, `${v}: max ${s.max}`);
    assert.ok(s.max / s.step <= 6, `${v}: ${s.max / s.step} steps`);
  }
});

test("tickValues run from 0 to max", () => {
  assert.deepEqual(tickValues({ max: 2, step: 0.5 }), [0, 0.5, 1, 1.5, 2]);
  assert.deepEqual(tickValues({ max: 0.3, step: 0.1 }), [0, 0.1, 0.2, 0.3]);
});

test("xOf and yOf map the frame onto the box", () => {
  const f = { start: 0, end: 1000, scale: { max: 10, step: 5 } };
  assert.equal(xOf(f, 0), box.left);
  assert.equal(xOf(f, 1000), box.width - box.right);
  assert.equal(yOf(f, 0), box.height - box.bottom);
  assert.equal(yOf(f, 10), box.top);
  // Off the scale stays on the chart.
  assert.equal(yOf(f, 50), box.top);
});

test("linePath breaks at gaps and leaves out what is outside the window", () => {
  const f = { start: 0, end: 1000, scale: { max: 10, step: 5 } };
  const d = linePath(
    [
      { at: -10, value: 5 },
      { at: 0, value: 0 },
      { at: 500, value: 10 },
      { at: 600, value: undefined },
      { at: 1000, value: 5 },
    ],
    f,
  );
  const mid = (box.left + box.width - box.right) / 2;
  assert.equal(d, `M${box.left.toFixed(1)} ${(box.height - box.bottom).toFixed(1)}L${mid.toFixed(1)} ${box.top.toFixed(1)}M${(box.width - box.right).toFixed(1)} ${yOf(f, 5).toFixed(1)}`);
  assert.equal(linePath([], f), "");
});

test("chartModel ends at the latest sample and scales both series", () => {
  const t0 = 1_800_000_000_000;
  const samples: Sample[] = [];
  for (let sec = 0; sec <= 60; sec++) {
    samples.push({
      source: "stream",
      at: t0 + sec * 1000,
      state: EventState.ACTIVE,
      queueLength: 300 - sec * 2,
      processing: 10,
      maxConcurrent: 10,
      rateLimit: 2,
      totals: { joined: 300, admitted: sec * 2, completed: 0, expired: 0, left: 0 },
    });
  }
  const m = chartModel(samples, 60_000);
  assert.deepEqual(m.queueScale, { max: 300, step: 100 });
  assert.deepEqual(m.rateScale, { max: 2, step: 0.5 });
  assert.equal(m.rateEstimated, false);
  assert.deepEqual(m.times.map((t) => t.label), ["-1 min", "-30 s", "now"]);
  assert.deepEqual(chartModel(samples, 300_000).times.map((t) => t.label), ["-5 min", "-4 min", "-3 min", "-2 min", "-1 min", "now"]);
  assert.equal(m.times[2].x, box.width - box.right);
  assert.equal(m.times[0].x, box.left);
  assert.match(m.queuePath, /^M44\.0 12\.0(L[\d.]+ [\d.]+){60}$/);
  // The first sample has no rate yet: the line starts at the second second.
  assert.ok(m.ratePath.startsWith("M"));
  assert.equal(m.ratePath.split("M").length, 2);
  assert.deepEqual(m.rateTicks.map((t) => t.label), ["0/s", "0.5/s", "1/s", "1.5/s", "2/s"]);
});

test("chartModel of nothing draws empty axes", () => {
  const m = chartModel([]);
  assert.equal(m.queuePath, "");
  assert.equal(m.ratePath, "");
  assert.deepEqual(m.queueTicks.map((t) => t.label), ["0", "1", "2", "3", "4"]);
});

test("agoLabel", () => {
  assert.deepEqual([0, 30_000, 60_000, 90_000, 120_000].map(agoLabel), ["now", "-30 s", "-1 min", "-90 s", "-2 min"]);
});

test("compact labels", () => {
  assert.equal(compact(950), "950");
  assert.equal(compact(12_500), "12.5k");
  assert.equal(compact(2_000_000), "2M");
  assert.equal(compact(0.25), "0.25");
});

test("windowFor grows with the history, from one minute to five", () => {
  const at = (sec: number): Sample => ({ source: "poll", at: sec * 1000, state: EventState.ACTIVE, queueLength: 0, processing: 0, maxConcurrent: 1, rateLimit: 0 });
  assert.equal(windowFor([]), 60_000);
  assert.equal(windowFor([at(0), at(25)]), 60_000);
  assert.equal(windowFor([at(0), at(61)]), 120_000);
  assert.equal(windowFor([at(0), at(600)]), 300_000);
});

test("chartModel leaves out a polled rate of 0, which proves nothing", () => {
  const polled = (sec: number, processing: number): Sample => ({
    source: "poll",
    at: 1_000_000 + sec * 1000,
    state: EventState.ACTIVE,
    queueLength: 10,
    processing,
    maxConcurrent: 4,
    rateLimit: 0,
  });
  const full = [0, 1, 2, 3].map((sec) => polled(sec, 4));
  const m = chartModel(full);
  assert.equal(m.ratePath, "");
  assert.equal(m.rateEstimated, true);
  assert.notEqual(chartModel([...full, polled(4, 4), polled(5, 2), polled(6, 4)]).ratePath, "");
});
