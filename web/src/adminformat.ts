// The dashboard's wording: figures, states, the controls' confirmations and
// the API's errors, as an operator reads them.

import { Code, ConnectError } from "@connectrpc/connect";
import { EventState } from "./gen/waitroom/v1/admin_pb";
import type { Fatal } from "./adminlive";
import type { Rate } from "./adminstats";

const numbers = new Intl.NumberFormat("en-US");

/** count writes a whole number with thousands separators; undefined is "–". */
export function count(n: number | undefined): string {
  return n === undefined ? "–" : numbers.format(n);
}

/** perSecond writes a rate: "12/s", "2.5/s", "0.25/s". */
export function perSecond(v: number): string {
  const digits = v >= 10 ? 0 : v >= 1 ? 1 : 2;
  return `${new Intl.NumberFormat("en-US", { maximumFractionDigits: digits }).format(v)}/s`;
}

/**
 * rateText is the admission-rate figure; a lower bound says so, and one of
 * 0 says nothing (slots freed and refilled between two polls show no rise).
 */
export function rateText(r: Rate | undefined): string {
  if (r === undefined || (!r.exact && r.perSecond === 0)) return "–";
  return r.exact ? perSecond(r.perSecond) : `≥ ${perSecond(r.perSecond)}`;
}

/** limitText is the admission_rate setting. */
export function limitText(limit: number): string {
  return limit > 0 ? perSecond(limit) : "unlimited";
}

/** duration writes a wait: "850 ms", "42 s", "4 min 05 s", "1 h 02 min". */
export function duration(secs: number | undefined): string {
  if (secs === undefined) return "–";
  if (secs < 1) return `${Math.round(secs * 1000)} ms`;
  if (secs < 60) return `${Math.round(secs)} s`;
  const s = Math.round(secs);
  if (s < 3600) return `${Math.floor(s / 60)} min ${String(s % 60).padStart(2, "0")} s`;
  return `${Math.floor(s / 3600)} h ${String(Math.floor((s % 3600) / 60)).padStart(2, "0")} min`;
}

/** waits writes the p50 and p90 waits, sharing a unit they have in common: "75 / 79 ms". */
export function waits(p50: number | undefined, p90: number | undefined): string {
  if (p50 === undefined || p90 === undefined) return "–";
  const a = duration(p50);
  const b = duration(p90);
  const unit = / (ms|s)$/.exec(a)?.[0];
  if (unit && b.endsWith(unit) && !b.includes("min")) return `${a.slice(0, -unit.length)} / ${b}`;
  return `${a} / ${b}`;
}

export function stateName(s: EventState): string {
  switch (s) {
    case EventState.ACTIVE:
      return "active";
    case EventState.PAUSED:
      return "paused";
    case EventState.CLOSED:
      return "closed";
  }
  return "unknown";
}

/** The state control: what pressing it does, and how it is confirmed. */
export interface StateAction {
  label: string;
  target: EventState;
  question: string;
  done: string;
}

/** stateAction is the one state change offered for an event in state s. */
export function stateAction(eventId: string, s: EventState): StateAction {
  if (s === EventState.ACTIVE || s === EventState.UNSPECIFIED) {
    return {
      label: "Pause admission",
      target: EventState.PAUSED,
      question: `Pause ${eventId}? Nobody more is admitted until it resumes; visitors can still join and keep their places.`,
      done: `Paused ${eventId}.`,
    };
  }
  if (s === EventState.PAUSED) {
    return {
      label: "Resume admission",
      target: EventState.ACTIVE,
      question: `Resume ${eventId}? Admission starts again at the next pass.`,
      done: `Resumed ${eventId}.`,
    };
  }
  return {
    label: "Reopen",
    target: EventState.ACTIVE,
    question: `Reopen ${eventId}? It takes new joins and admits again.`,
    done: `Reopened ${eventId}.`,
  };
}

/** capacityQuestion confirms a new max_concurrent. */
export function capacityQuestion(eventId: string, from: number, to: number): string {
  const change = to < from ? " Nobody in checkout is removed; admission waits until fewer than that are." : "";
  return `Change ${eventId}'s checkout capacity from ${count(from)} to ${count(to)}?${change}`;
}

/** rateQuestion confirms a new admission_rate. */
export function rateQuestion(eventId: string, from: number, to: number): string {
  if (to === 0) return `Remove ${eventId}'s admission rate limit (now ${limitText(from)})? Only the checkout capacity will hold admission back.`;
  return `Limit ${eventId}'s admission to ${perSecond(to)} (now ${limitText(from)})?`;
}

/** parseCapacity reads the capacity field: a whole number from 1. */
export function parseCapacity(text: string): number | string {
  const v = Number(text.trim());
  if (text.trim() === "" || !Number.isInteger(v) || v < 1 || v > 2_147_483_647) {
    return "Capacity is a whole number of people, at least 1.";
  }
  return v;
}

/** parseRate reads the admission-rate field: users per second, 0 for unlimited. */
export function parseRate(text: string): number | string {
  const v = Number(text.trim());
  if (text.trim() === "" || !Number.isFinite(v) || v < 0 || v > 1_000_000) {
    return "The admission rate is users per second, from 0 (unlimited) to 1,000,000.";
  }
  return v;
}

/** fatalText explains an error the dashboard cannot retry its way out of. */
export function fatalText(f: Fatal): string {
  switch (f) {
    case "unauthenticated":
      return "That is not this server's admin token. Check it and sign in again.";
    case "disabled":
      return "The admin API is off on this server: it needs WAITROOM_ADMIN_TOKEN set.";
    case "not-found":
      return "There is no event with this id: it may have been deleted.";
  }
}

/** errorText says why a call failed: the server's own message and its code. */
export function errorText(err: unknown): string {
  const ce = ConnectError.from(err);
  const code = Code[ce.code]?.replace(/([a-z])([A-Z])/g, "$1 $2").toLowerCase() ?? "unknown";
  const message = ce.rawMessage || "no message";
  if (ce.code === Code.Unavailable || ce.code === Code.Unknown) {
    return `The server could not be reached or did not answer (${message}). Try again.`;
  }
  return `${message} (${code})`;
}
