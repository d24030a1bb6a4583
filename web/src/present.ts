// What the queue section says for a State, as plain data: main.ts puts it in
// the DOM, and the unit tests read it without one.

import { announcement, num, people, waitText } from "./format";
import type { State } from "./room";

/** QueueText is every text of the queue section. */
export interface QueueText {
  title: string;
  /** The label of the big number; "at most" while it is only a bound. */
  placeLabel: string;
  position: string;
  ahead: string;
  length: string;
  wait: string;
  documentTitle: string;
  /** What a screen reader hears when it changes. */
  announcement: string;
  /**
   * A fair start: before it, when the sale starts and how places are given;
   * at it, that places are being drawn; after it, when they were drawn.
   */
  prequeue?: string;
  /** The visitor's turn came while they were away. */
  held?: string;
  /** The fair start's draw, to check it: shown in a details element. */
  draw?: DrawText;
  /** The visitor's priority lane, as a small label. */
  lane?: string;
}

/** DrawText explains a fair start's draw and gives what checks it. */
export interface DrawText {
  summary: string;
  text: string;
  commitment: string;
  /** The seed, once revealed. */
  seed?: string;
}

/**
 * queueText is the queue section for a queued State at time now (ms since
 * the epoch); timeZone is for tests (the browser's own when undefined).
 */
export function queueText(s: Readonly<State>, now: number, timeZone?: string): QueueText {
  const position = s.position ?? 0;
  const fs = s.fairStart;
  const base: QueueText = {
    title: position <= 1 ? "You're next" : "You're in line",
    placeLabel: "Your place in line",
    position: position > 0 ? num(position) : "–",
    ahead: position > 0 ? people(Math.max(0, position - 1)) : "–",
    length: s.queueLength !== undefined ? people(s.queueLength) : "–",
    wait: waitText(s.waitSeconds),
    documentTitle: `#${num(position)} in line · Waiting room`,
    announcement: announcement(position),
  };
  if (fs && !fs.placed) {
    // Position is the pre-queue's size: the furthest back the draw can
    // place anyone. Say so rather than show it as a place.
    const starts = fs.saleStartsAt;
    const when = starts === undefined ? "soon" : `at ${clockTime(starts, now, timeZone)}, ${countdownText(starts - now)}`;
    base.title = "The sale hasn't started yet";
    base.placeLabel = "Your place in line will be at most";
    base.ahead = position > 1 ? `Up to ${people(position - 1)}` : "No one";
    base.wait = "Not known yet";
    base.documentTitle = `At most #${num(position)} in line · Waiting room`;
    base.prequeue =
      `The sale starts ${when}. Everyone who arrives before then gets a place in a random order, ` +
      "drawn when the sale starts, so there is no need to hurry. Keep this page open.";
    base.announcement =
      position > 0
        ? `The sale hasn't started yet. Your place in line will be at most number ${num(position)}.`
        : "The sale hasn't started yet.";
    if (starts !== undefined && starts - now < 1000) {
      // The start has come and the placement is on its way (the next
      // processor pass): say what is happening rather than count on.
      base.title = "The sale is starting";
      base.documentTitle = "The sale is starting · Waiting room";
      base.prequeue =
        "The sale is starting: everyone who arrived before it is being placed in line in a random order. " +
        "Your place appears here in a moment. Keep this page open.";
      base.announcement = "The sale is starting. Your place in line is being drawn.";
    }
    base.draw = {
      summary: "How the order is drawn",
      text:
        "The draw's secret seed is fixed before the sale starts. This fingerprint of it (SHA-256) is published now, " +
        "so the seed cannot be changed later; it is revealed when the sale starts, and anyone can then check the order.",
      commitment: fs.seedCommitment,
    };
  } else if (fs?.placed) {
    const starts = fs.saleStartsAt;
    base.prequeue =
      starts === undefined
        ? "Your place was drawn at random when the sale started."
        : `Your place was drawn at random when the sale started, at ${clockTime(starts, now, timeZone)}.`;
    base.draw = {
      summary: "How your place was drawn",
      text:
        "Everyone who arrived before the sale started was placed in a random order drawn from this seed. " +
        "Its SHA-256 is the fingerprint published before the start, so the order was fixed in advance.",
      commitment: fs.seedCommitment,
      seed: fs.seed,
    };
  }
  if (s.lane) {
    base.lane = `${s.lane} lane`;
    if (s.movedBack) {
      base.announcement = `Your place moved back to number ${num(position)}: people joined a lane served before yours.`;
    }
  }
  if (s.held) {
    const until = s.heldUntil;
    const clock = until === undefined ? "for a while" : `until ${clockTime(until, now, timeZone)}`;
    const by = until === undefined ? clock : `${clock} (${countdownText(until - now)})`;
    base.title = "Your turn came while you were away";
    base.prequeue = undefined;
    base.held = `Your turn came while you were away; your place is held ${by}. Keep this page open and you'll go first.`;
    // No countdown: a screen reader hears it once, not every few seconds.
    base.announcement = `Your turn came while you were away. Your place is held ${clock}.`;
  }
  return base;
}

/** countdownText says how far off a moment is: "in 2 min 5 s". */
export function countdownText(ms: number): string {
  if (!Number.isFinite(ms) || ms < 1000) return "any moment now";
  const total = Math.floor(ms / 1000);
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const sec = total % 60;
  if (h > 0) return `in ${h} h ${m} min`;
  if (m > 0) return `in ${m} min ${sec} s`;
  return `in ${sec} s`;
}

/**
 * clockTime is a moment as a clock shows it: "7:05 PM", with the day when it
 * is more than 12 hours from now.
 */
export function clockTime(at: number, now: number, timeZone?: string): string {
  const far = Math.abs(at - now) > 12 * 3600 * 1000;
  return new Intl.DateTimeFormat("en-US", {
    hour: "numeric",
    minute: "2-digit",
    timeZone,
    ...(far ? { weekday: "short", month: "short", day: "numeric" } : {}),
  }).format(at);
}
