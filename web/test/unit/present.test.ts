import assert from "node:assert/strict";
import { test } from "node:test";
import { clockTime, countdownText, queueText } from "../../src/present";
import type { State } from "../../src/room";

const now = Date.UTC(2026, 11, 5, 18, 0, 0);
const base: State = { phase: "queued", connection: "live", failures: 0, sessionId: "s1", position: 7, queueLength: 12 };

test("countdownText says how far off a moment is", () => {
  assert.equal(countdownText(125_000), "in 2 min 5 s");
  assert.equal(countdownText(45_400), "in 45 s");
  assert.equal(countdownText(3_725_000), "in 1 h 2 min");
  assert.equal(countdownText(999), "any moment now");
  assert.equal(countdownText(-5_000), "any moment now");
});

test("clockTime shows a clock, and the day when it is far off", () => {
  assert.equal(clockTime(now + 65 * 60_000, now, "UTC"), "7:05 PM");
  assert.equal(clockTime(now + 2 * 86_400_000, now, "UTC"), "Mon, Dec 7, 6:00 PM");
});

test("a place in line reads as before without a fair start or a held place", () => {
  const t = queueText(base, now, "UTC");
  assert.equal(t.title, "You're in line");
  assert.equal(t.placeLabel, "Your place in line");
  assert.equal(t.position, "7");
  assert.equal(t.ahead, "6 people");
  assert.equal(t.documentTitle, "#7 in line · Waiting room");
  assert.equal(t.announcement, "You are number 7 in line. 6 people are ahead of you.");
  assert.equal(t.prequeue, undefined);
  assert.equal(t.held, undefined);
  assert.equal(t.draw, undefined);
});

test("before a fair start the position is a bound, with a countdown to the sale and the seed's commitment", () => {
  const s: State = {
    ...base,
    position: 12,
    fairStart: { saleStartsAt: now + 125_000, seedCommitment: "9f86d081", placed: false },
  };
  const t = queueText(s, now, "UTC");
  assert.equal(t.title, "The sale hasn't started yet");
  assert.equal(t.placeLabel, "Your place in line will be at most");
  assert.equal(t.position, "12");
  assert.equal(t.ahead, "Up to 11 people");
  assert.equal(t.wait, "Not known yet");
  assert.equal(t.documentTitle, "At most #12 in line · Waiting room");
  assert.match(t.prequeue ?? "", /^The sale starts at 6:02 PM, in 2 min 5 s\. Everyone who arrives before then gets a place in a random order/);
  assert.equal(t.announcement, "The sale hasn't started yet. Your place in line will be at most number 12.");
  assert.equal(t.draw?.commitment, "9f86d081");
  assert.equal(t.draw?.seed, undefined);
  // A second on, the countdown moves and what is announced does not.
  const later = queueText(s, now + 1_000, "UTC");
  assert.match(later.prequeue ?? "", /in 2 min 4 s/);
  assert.equal(later.announcement, t.announcement);
});

test("once the start has come and until the draw, the page says the places are being drawn", () => {
  const s: State = { ...base, position: 12, fairStart: { saleStartsAt: now + 125_000, seedCommitment: "9f86d081", placed: false } };
  const before = queueText(s, now + 124_000, "UTC");
  assert.match(before.prequeue ?? "", /in 1 s\./);
  for (const at of [now + 124_001, now + 125_000, now + 126_500]) {
    const t = queueText(s, at, "UTC");
    assert.equal(t.title, "The sale is starting");
    assert.equal(t.documentTitle, "The sale is starting · Waiting room");
    assert.match(t.prequeue ?? "", /^The sale is starting: everyone who arrived before it is being placed in line in a random order\./);
    // Still a bound until the draw's result arrives.
    assert.equal(t.placeLabel, "Your place in line will be at most");
    assert.equal(t.position, "12");
    assert.equal(t.announcement, "The sale is starting. Your place in line is being drawn.");
    assert.equal(t.draw?.seed, undefined);
  }
});

test("after the draw the position is exact and the revealed seed is there to check", () => {
  const s: State = { ...base, position: 3, fairStart: { saleStartsAt: now - 60_000, seedCommitment: "9f86d081", placed: true, seed: "74657374" } };
  const t = queueText(s, now, "UTC");
  assert.equal(t.placeLabel, "Your place in line");
  assert.equal(t.position, "3");
  assert.equal(t.ahead, "2 people");
  assert.equal(t.prequeue, "Your place was drawn at random when the sale started, at 5:59 PM.");
  assert.equal(t.draw?.summary, "How your place was drawn");
  assert.equal(t.draw?.seed, "74657374");
  assert.equal(t.draw?.commitment, "9f86d081");
  // Without the start's time the page still says when the draw was.
  const { saleStartsAt: _, ...noStart } = s.fairStart!;
  assert.equal(queueText({ ...s, fairStart: noStart }, now, "UTC").prequeue, "Your place was drawn at random when the sale started.");
});

test("a held place says the turn came while away and until when it is held", () => {
  const s: State = { ...base, position: 1, held: true, heldUntil: now + 9 * 60_000 + 30_000 };
  const t = queueText(s, now, "UTC");
  assert.equal(t.title, "Your turn came while you were away");
  assert.equal(
    t.held,
    "Your turn came while you were away; your place is held until 6:09 PM (in 9 min 30 s). Keep this page open and you'll go first.",
  );
  assert.equal(t.announcement, "Your turn came while you were away. Your place is held until 6:09 PM.");
  assert.equal(queueText(s, now + 5_000, "UTC").announcement, t.announcement);
  // A place held after a fair start says only that.
  const drawn = queueText({ ...s, fairStart: { saleStartsAt: now - 60_000, seedCommitment: "9f86d081", placed: true, seed: "74" } }, now, "UTC");
  assert.equal(drawn.prequeue, undefined);
  assert.equal(drawn.draw?.seed, "74");
});

test("a priority lane shows as a label, and a move back is announced", () => {
  const s: State = { ...base, position: 4, lane: "vip" };
  const t = queueText(s, now, "UTC");
  assert.equal(t.lane, "vip lane");
  assert.equal(t.position, "4");
  assert.equal(queueText({ ...base, position: 4 }, now, "UTC").lane, undefined);
  assert.equal(
    queueText({ ...s, movedBack: true }, now, "UTC").announcement,
    "Your place moved back to number 4: people joined a lane served before yours.",
  );
});
