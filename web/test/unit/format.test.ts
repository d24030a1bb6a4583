import assert from "node:assert/strict";
import { test } from "node:test";
import { announcement, checkoutHref, people, progressPercent, waitText } from "../../src/format";

test("checkoutHref appends the token, relative to the page's origin", () => {
  const origin = "https://queue.example.test";
  assert.equal(checkoutHref("/checkout", "a.b.c", origin), "https://queue.example.test/checkout?token=a.b.c");
  assert.equal(
    checkoutHref("https://shop.example.test/pay?cart=7", "a.b.c", origin),
    "https://shop.example.test/pay?cart=7&token=a.b.c",
  );
  assert.equal(checkoutHref("", "t", origin), "https://queue.example.test/?token=t");
  assert.equal(checkoutHref("/checkout?token=old", "new", origin), "https://queue.example.test/checkout?token=new");
});

test("checkoutHref refuses anything but http and https", () => {
  assert.equal(checkoutHref("javascript:alert(1)", "t", "https://q.example.test"), undefined);
  assert.equal(checkoutHref("data:text/html,hi", "t", "https://q.example.test"), undefined);
});

test("waitText reads like a person", () => {
  assert.equal(waitText(undefined), "Not known yet");
  assert.equal(waitText(0), "Not known yet");
  assert.equal(waitText(42), "Under a minute");
  assert.equal(waitText(60), "About 1 minute");
  assert.equal(waitText(60 * 14 + 40), "About 15 minutes");
  assert.equal(waitText(3600), "About 1 hour");
  assert.equal(waitText(3600 * 2 + 60 * 5), "About 2 hours 5 min");
});

test("people and announcements agree in number", () => {
  assert.equal(people(0), "No one");
  assert.equal(people(1), "1 person");
  assert.equal(people(12345), "12,345 people");
  assert.equal(announcement(1), "You are next in line.");
  assert.equal(announcement(2), "You are number 2 in line. 1 person is ahead of you.");
  assert.equal(announcement(1001), "You are number 1,001 in line. 1,000 people are ahead of you.");
});

test("progressPercent runs from arrival to admission", () => {
  assert.equal(progressPercent(10, 10), 2); // a sliver on arrival
  assert.equal(progressPercent(5, 10), 50);
  assert.equal(progressPercent(1, 2), 50);
  assert.equal(progressPercent(0, 10), 100);
  assert.equal(progressPercent(12, 10), 2); // moved back (someone's place restored): never negative
});
