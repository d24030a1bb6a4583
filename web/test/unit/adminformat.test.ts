import assert from "node:assert/strict";
import { test } from "node:test";
import { Code, ConnectError } from "@connectrpc/connect";
import { EventState } from "../../src/gen/waitroom/v1/admin_pb";
import {
  capacityQuestion,
  count,
  duration,
  errorText,
  limitText,
  parseCapacity,
  parseRate,
  perSecond,
  rateQuestion,
  rateText,
  stateAction,
  waits,
} from "../../src/adminformat";

test("figures read plainly", () => {
  assert.equal(count(12_345), "12,345");
  assert.equal(count(undefined), "–");
  assert.equal(perSecond(12.4), "12/s");
  assert.equal(perSecond(2.45), "2.5/s");
  assert.equal(perSecond(0.25), "0.25/s");
  assert.equal(limitText(0), "unlimited");
  assert.equal(rateText({ perSecond: 3, exact: true }), "3/s");
  assert.equal(rateText({ perSecond: 3, exact: false }), "≥ 3/s");
  assert.equal(rateText({ perSecond: 0, exact: true }), "0/s");
  assert.equal(rateText({ perSecond: 0, exact: false }), "–");
  assert.equal(duration(0.85), "850 ms");
  assert.equal(duration(42.2), "42 s");
  assert.equal(duration(245), "4 min 05 s");
  assert.equal(duration(3720), "1 h 02 min");
  assert.equal(duration(undefined), "–");
  assert.equal(waits(0.075, 0.079), "75 / 79 ms");
  assert.equal(waits(12, 42), "12 / 42 s");
  assert.equal(waits(0.5, 3), "500 ms / 3 s");
  assert.equal(waits(30, 245), "30 s / 4 min 05 s");
  assert.equal(waits(undefined, undefined), "–");
});

test("the state control pauses an active event and resumes a paused one", () => {
  assert.equal(stateAction("e", EventState.ACTIVE).target, EventState.PAUSED);
  assert.equal(stateAction("e", EventState.ACTIVE).label, "Pause admission");
  assert.equal(stateAction("e", EventState.PAUSED).target, EventState.ACTIVE);
  assert.equal(stateAction("e", EventState.PAUSED).label, "Resume admission");
  assert.equal(stateAction("e", EventState.CLOSED).label, "Reopen");
  assert.match(stateAction("launch", EventState.ACTIVE).question, /^Pause launch\?/);
});

test("confirmations say what changes", () => {
  assert.equal(capacityQuestion("e", 100, 150), "Change e's checkout capacity from 100 to 150?");
  assert.match(capacityQuestion("e", 100, 10), /Nobody in checkout is removed/);
  assert.equal(rateQuestion("e", 0, 5), "Limit e's admission to 5/s (now unlimited)?");
  assert.match(rateQuestion("e", 5, 0), /^Remove e's admission rate limit \(now 5\/s\)/);
});

test("the fields take only what the API accepts", () => {
  assert.equal(parseCapacity(" 150 "), 150);
  for (const bad of ["", "0", "-1", "1.5", "abc", "3000000000"]) assert.equal(typeof parseCapacity(bad), "string", bad);
  assert.equal(parseRate("0"), 0);
  assert.equal(parseRate("2.5"), 2.5);
  for (const bad of ["", "-1", "1e7", "x"]) assert.equal(typeof parseRate(bad), "string", bad);
});

test("errorText gives the server's message and its code", () => {
  assert.equal(errorText(new ConnectError("admission_rate must be at most 1000000", Code.InvalidArgument)), "admission_rate must be at most 1000000 (invalid argument)");
  assert.match(errorText(new ConnectError("fetch failed", Code.Unavailable)), /could not be reached/);
});
