// Draws one event's figures and its live chart into the dashboard's DOM.

import { box, chartModel } from "./adminchart";
import { count, limitText, perSecond, rateText, stateName, waits } from "./adminformat";
import type { FeedStatus } from "./adminlive";
import { rateAt, type Sample } from "./adminstats";

function el<T extends Element = HTMLElement>(id: string): T {
  const found = document.getElementById(id);
  if (!found) throw new Error(`missing #${id}`);
  return found as unknown as T;
}

const f = {
  queue: el("f-queue"),
  checkout: el("f-checkout"),
  rate: el("f-rate"),
  limit: el("f-limit"),
  wait: el("f-wait"),
  streams: el("f-streams"),
  joined: el("f-joined"),
  admitted: el("f-admitted"),
  completed: el("f-completed"),
  expired: el("f-expired"),
  left: el("f-left"),
  state: el("event-state"),
  source: el("source"),
  sourceText: el("source-text"),
  chart: el<SVGSVGElement>("chart"),
  rateKey: el("rate-key"),
  span: el("chart-span"),
};

function set(e: Element, text: string, title = ""): void {
  if (e.textContent !== text) e.textContent = text;
  if ((e.getAttribute("title") ?? "") !== title) {
    if (title) e.setAttribute("title", title);
    else e.removeAttribute("title");
  }
}

const streamOnly = "Needs the live stream (WatchEvent), which this server does not serve";

/** clearFigures empties the figures and the chart, for another event. */
export function clearFigures(): void {
  for (const dd of document.querySelectorAll(".figures dd")) set(dd, "–");
  set(f.state, "");
  delete f.state.dataset.state;
  f.chart.replaceChildren();
}

/** renderFigures shows the latest sample; samples is the history it ends. */
export function renderFigures(samples: readonly Sample[]): void {
  const s = samples.at(-1);
  if (!s) return;
  set(f.state, stateName(s.state));
  f.state.dataset.state = stateName(s.state);
  set(f.queue, count(s.queueLength));
  set(f.checkout, `${count(s.processing)} of ${count(s.maxConcurrent)}`);
  set(f.limit, limitText(s.rateLimit));
  const t = s.totals;
  const hint = t ? "" : streamOnly;
  if (s.admittedPerSecond !== undefined) {
    set(f.rate, perSecond(s.admittedPerSecond), "Admissions over the last minute");
  } else {
    set(f.rate, rateText(rateAt(samples, samples.length - 1)), "At least this many: the rises of the in-checkout count over the last 10 s");
  }
  set(f.wait, waits(s.waitP50, s.waitP90), t ? `Over the last ${count(s.waitSamples)} admissions` : hint);
  set(f.streams, count(s.openStreams), t ? `Reported by ${count(s.replicasReporting)} replica(s)` : hint);
  set(f.joined, count(t?.joined), hint);
  set(f.admitted, count(t?.admitted), hint);
  set(f.completed, count(t?.completed), hint);
  set(f.expired, count(t?.expired), hint);
  set(f.left, count(t?.left), hint);
}

/** renderStatus says where the figures come from, discreetly. */
export function renderStatus(st: FeedStatus): void {
  f.source.dataset.connection = st.connection;
  f.source.dataset.source = st.source;
  let text: string;
  let title = "";
  if (st.connection === "retrying") {
    text = "Reconnecting…";
    title = st.error ?? "";
  } else if (st.connection === "connecting") {
    text = "Connecting…";
  } else if (st.source === "stream") {
    text = "Live";
    title = "WatchEvent: the server's figures, every second";
  } else {
    text = "Polling every second";
    title = "This server does not stream live figures (WatchEvent), so the page reads GetEvent each second: totals, waits and open streams are not available, and the admission rate is estimated.";
  }
  set(f.sourceText, text, title);
}

const ns = "http://www.w3.org/2000/svg";

function svg(tag: string, attrs: Record<string, string | number>, text?: string): SVGElement {
  const e = document.createElementNS(ns, tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  if (text !== undefined) e.textContent = text;
  return e;
}

/** renderChart redraws the chart from the samples. */
export function renderChart(samples: readonly Sample[]): void {
  const m = chartModel(samples);
  const bottom = box.height - box.bottom;
  const right = box.width - box.right;
  const parts: SVGElement[] = [];
  for (const t of m.queueTicks) {
    parts.push(svg("line", { class: "grid", x1: box.left, x2: right, y1: t.y, y2: t.y }));
    parts.push(svg("text", { class: "axis", x: box.left - 6, y: t.y + 4, "text-anchor": "end" }, t.label));
  }
  for (const t of m.rateTicks) {
    parts.push(svg("text", { class: "axis rate", x: right + 6, y: t.y + 4, "text-anchor": "start" }, t.label));
  }
  for (const t of m.times) {
    parts.push(svg("line", { class: "grid time", x1: t.x, x2: t.x, y1: box.top, y2: bottom }));
    parts.push(svg("text", { class: "axis", x: t.x, y: box.height - 6, "text-anchor": "middle" }, t.label));
  }
  parts.push(svg("path", { class: "line rate", d: m.ratePath, "data-series": "rate" }));
  parts.push(svg("path", { class: "line queue", d: m.queuePath, "data-series": "queue" }));
  f.chart.replaceChildren(...parts);
  const minutes = m.windowMs / 60_000;
  set(f.span, `over the last ${minutes === 1 ? "minute" : `${minutes} minutes`}`);
  set(f.rateKey, m.rateEstimated ? "Admissions per second, estimated (right axis)" : "Admissions per second (right axis)");
}
