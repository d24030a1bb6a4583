// The live chart's geometry, independent of the DOM: the queue length
// (left axis) and the admission rate (right axis) over the last few minutes,
// as SVG path data and axis ticks. admin.ts draws what this computes.

import { chartWindowMs, rateAt, type Sample } from "./adminstats";

/** The chart's size in SVG user units, and the margins for the axes' labels. */
export const box = { width: 640, height: 220, left: 44, right: 48, top: 12, bottom: 26 };

/** Scale is an axis from 0 to max, labelled every step. */
export interface Scale {
  max: number;
  step: number;
}

/**
 * niceScale picks an axis from 0 that holds `value`, with about `ticks`
 * steps of 1, 2, 2.5 or 5 times a power of ten, none smaller than minStep
 * (1 for counts of people).
 */
export function niceScale(value: number, ticks = 4, minStep = 0.1): Scale {
  const target = Math.max(value, 0) / ticks;
  let step = minStep;
  if (target > minStep) {
    const power = 10 ** Math.floor(Math.log10(target));
    const mult = [1, 2, 2.5, 5, 10].find((m) => m * power >= target * (1 - 1e-9)) ?? 10;
    step = Math.max(minStep, mult * power);
    // Counts of people go in whole steps.
    if (minStep >= 1) step = Math.max(minStep, Math.ceil(step));
  }
  // Nothing to show yet: the axis still has its steps.
  const max = value > 0 ? step * Math.ceil(value / step - 1e-9) : step * ticks;
  return { max: round(max), step: round(step) };
}

/** tickValues are 0, step, …, max. */
export function tickValues(s: Scale): number[] {
  const out: number[] = [];
  for (let i = 0; i * s.step <= s.max * (1 + 1e-9); i++) out.push(round(i * s.step));
  return out;
}

function round(v: number): number {
  return Math.round(v * 1e6) / 1e6;
}

/** Point is one value at a moment; undefined leaves a gap in the line. */
export interface Point {
  at: number;
  value: number | undefined;
}

/** Frame maps moments and values to the chart's coordinates. */
export interface Frame {
  start: number;
  end: number;
  scale: Scale;
}

export function xOf(f: Frame, at: number): number {
  const inner = box.width - box.left - box.right;
  return box.left + ((at - f.start) / (f.end - f.start)) * inner;
}

export function yOf(f: Frame, value: number): number {
  const inner = box.height - box.top - box.bottom;
  return box.top + inner - (Math.min(value, f.scale.max) / f.scale.max) * inner;
}

/**
 * linePath is SVG path data through the points inside the frame's time
 * span: a new subpath after each gap, so a missing figure is not drawn as a
 * line across it.
 */
export function linePath(points: readonly Point[], f: Frame): string {
  let d = "";
  let pen = false;
  for (const p of points) {
    if (p.at < f.start || p.at > f.end || p.value === undefined) {
      pen = false;
      continue;
    }
    d += `${pen ? "L" : "M"}${xOf(f, p.at).toFixed(1)} ${yOf(f, p.value).toFixed(1)}`;
    pen = true;
  }
  return d;
}

/** ChartModel is everything drawn: two lines, their axes, the time labels. */
export interface ChartModel {
  windowMs: number;
  queuePath: string;
  ratePath: string;
  queueScale: Scale;
  rateScale: Scale;
  /** Whether any rate is a lower bound (GetEvent polling), not a count. */
  rateEstimated: boolean;
  /** Vertical grid lines: x, and the label ("-4 min"). */
  times: Array<{ x: number; label: string }>;
  queueTicks: Array<{ y: number; label: string }>;
  rateTicks: Array<{ y: number; label: string }>;
}

/**
 * windowFor is the span the chart shows: the whole minutes the samples
 * cover, from one minute (so a fresh chart is not a sliver at its right
 * edge) to chartWindowMs.
 */
export function windowFor(samples: readonly Sample[], maxMs = chartWindowMs): number {
  const span = samples.length > 0 ? samples[samples.length - 1].at - samples[0].at : 0;
  return Math.min(maxMs, Math.max(60_000, Math.ceil(span / 60_000) * 60_000));
}

/**
 * chartModel lays out the samples of the window that ends at the latest
 * one: the queue length against the left axis, the admission rate (rateAt)
 * against the right one. A rate estimated at 0 while polling is no
 * evidence of anything (a slot freed and refilled between two polls shows
 * no rise), so it is left out rather than drawn as a stop.
 */
export function chartModel(samples: readonly Sample[], windowMs = windowFor(samples)): ChartModel {
  const end = samples.at(-1)?.at ?? 0;
  const start = end - windowMs;
  const queue: Point[] = [];
  const rate: Point[] = [];
  let rateEstimated = false;
  samples.forEach((s, i) => {
    queue.push({ at: s.at, value: s.queueLength });
    const r = rateAt(samples, i);
    if (r && !r.exact && s.at >= start) rateEstimated = true;
    rate.push({ at: s.at, value: r && (r.exact || r.perSecond > 0) ? r.perSecond : undefined });
  });
  const inWindow = (p: Point) => p.at >= start && p.value !== undefined;
  const queueScale = niceScale(Math.max(0, ...queue.filter(inWindow).map((p) => p.value!)), 4, 1);
  const rateScale = niceScale(Math.max(0, ...rate.filter(inWindow).map((p) => p.value!)), 4, 0.5);
  const qf = { start, end, scale: queueScale };
  const rf = { start, end, scale: rateScale };
  // A line every minute; every half minute on a chart of two minutes or less.
  const every = windowMs <= 120_000 ? 30_000 : 60_000;
  const times = [];
  for (let ago = Math.floor(windowMs / every) * every; ago >= 0; ago -= every) {
    times.push({ x: xOf(qf, end - ago), label: agoLabel(ago) });
  }
  return {
    windowMs,
    queuePath: linePath(queue, qf),
    ratePath: linePath(rate, rf),
    queueScale,
    rateScale,
    rateEstimated,
    times,
    queueTicks: tickValues(queueScale).map((v) => ({ y: yOf(qf, v), label: compact(v) })),
    rateTicks: tickValues(rateScale).map((v) => ({ y: yOf(rf, v), label: `${compact(v)}/s` })),
  };
}

/** compact writes an axis label: 950, 1.5k, 2M, 0.5. */
export function compact(v: number): string {
  if (v >= 1e6) return `${round(v / 1e6)}M`;
  if (v >= 1e4) return `${round(v / 1e3)}k`;
  return String(round(v));
}

/** agoLabel names a moment before now: "now", "-30 s", "-1 min", "-90 s". */
export function agoLabel(ms: number): string {
  if (ms === 0) return "now";
  return ms % 60_000 === 0 ? `-${ms / 60_000} min` : `-${Math.round(ms / 1000)} s`;
}
