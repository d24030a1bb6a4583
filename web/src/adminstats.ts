// One event's figures over time, independent of the DOM: samples from
// WatchEvent's EventStats or, on a server that does not stream them, from
// GetEvent polled each second; the admission rate worked out from successive
// samples; the last few minutes the chart shows.

import type { Duration } from "@bufbuild/protobuf/wkt";
import { EventState, type Event, type EventStats } from "./gen/waitroom/v1/admin_pb";

/** Where a sample came from: the WatchEvent stream, or GetEvent polled. */
export type Source = "stream" | "poll";

/** Totals since the event was created: only the stream has them. */
export interface Totals {
  joined: number;
  admitted: number;
  completed: number;
  expired: number;
  left: number;
}

/** Sample is an event's figures at one moment. */
export interface Sample {
  source: Source;
  /** When the dashboard received it, ms since the epoch. */
  at: number;
  state: EventState;
  queueLength: number;
  /** Admitted sessions holding a checkout slot. */
  processing: number;
  maxConcurrent: number;
  /** The admission_rate setting, users per second; 0 is unlimited. */
  rateLimit: number;
  totals?: Totals;
  /** The server's admission rate over the last minute. */
  admittedPerSecond?: number;
  /** Wait from join to admission of recent admissions, in seconds. */
  waitP50?: number;
  waitP90?: number;
  waitSamples?: number;
  openStreams?: number;
  replicasReporting?: number;
}

/** How far back the chart looks. */
export const chartWindowMs = 5 * 60_000;
/** The chart's admission rate is the admissions of this long, per second. */
export const rateWindowMs = 10_000;

function seconds(d: Duration | undefined): number | undefined {
  return d === undefined ? undefined : Number(d.seconds) + d.nanos / 1e9;
}

/** sampleFromStats reads one WatchEvent message. */
export function sampleFromStats(s: EventStats, at: number): Sample {
  return {
    source: "stream",
    at,
    state: s.state,
    queueLength: s.queueLength,
    processing: s.processing,
    maxConcurrent: s.maxConcurrent,
    rateLimit: s.admissionRateLimit,
    totals: {
      joined: Number(s.joinedTotal),
      admitted: Number(s.admittedTotal),
      completed: Number(s.completedTotal),
      expired: Number(s.expiredTotal),
      left: Number(s.leftTotal),
    },
    admittedPerSecond: s.admittedPerSecond,
    waitP50: seconds(s.waitP50),
    waitP90: seconds(s.waitP90),
    waitSamples: s.waitSamples,
    openStreams: Number(s.openStreams),
    replicasReporting: s.replicasReporting,
  };
}

/** sampleFromEvent reads one GetEvent answer: counts and settings only. */
export function sampleFromEvent(e: Event, at: number): Sample {
  return {
    source: "poll",
    at,
    state: e.state,
    queueLength: e.queueLength,
    processing: e.processing,
    maxConcurrent: e.maxConcurrent,
    rateLimit: e.admissionRate,
  };
}

/** Rate is an admission rate and how much it can be trusted. */
export interface Rate {
  perSecond: number;
  /**
   * exact: counted from the admitted totals. Otherwise a lower bound: the
   * rises of the in-checkout count, which misses an admission whose slot
   * freed in the same second.
   */
  exact: boolean;
}

/**
 * rateAt is the admission rate over the rateWindowMs before samples[i],
 * from the samples of the same source in that window. It needs two samples
 * at least a second apart.
 */
export function rateAt(samples: readonly Sample[], i: number, windowMs = rateWindowMs): Rate | undefined {
  const end = samples[i];
  if (end === undefined) return undefined;
  let j = i;
  while (j > 0 && samples[j - 1].source === end.source && end.at - samples[j - 1].at <= windowMs) j--;
  const start = samples[j];
  const secs = (end.at - start.at) / 1000;
  if (secs < 1) return undefined;
  if (start.totals && end.totals && end.totals.admitted >= start.totals.admitted) {
    return { perSecond: (end.totals.admitted - start.totals.admitted) / secs, exact: true };
  }
  // A total that went down is a new event under the same id: count rises
  // of the in-checkout figure instead.
  let rises = 0;
  for (let k = j + 1; k <= i; k++) rises += Math.max(0, samples[k].processing - samples[k - 1].processing);
  return { perSecond: rises / secs, exact: false };
}

/** History keeps an event's samples of the last chartWindowMs (and the rate window before it). */
export class History {
  private list: Sample[] = [];

  constructor(private readonly keepMs = chartWindowMs + rateWindowMs) {}

  add(s: Sample): void {
    // A clock that went back (the computer's time was set) starts afresh.
    const last = this.list.at(-1);
    if (last !== undefined && s.at < last.at) this.list = [];
    this.list.push(s);
    const from = s.at - this.keepMs;
    let drop = 0;
    while (drop < this.list.length && this.list[drop].at < from) drop++;
    if (drop > 0) this.list.splice(0, drop);
  }

  get samples(): readonly Sample[] {
    return this.list;
  }

  get latest(): Sample | undefined {
    return this.list.at(-1);
  }

  clear(): void {
    this.list = [];
  }
}
