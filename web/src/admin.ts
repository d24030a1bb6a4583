// The operators' dashboard at /admin: sign in with the admin token, list the
// events, follow one live (adminlive.ts) and steer it with UpdateEvent.

import { ConnectError, createClient, type Client, type Interceptor } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-web";
import { EventAdminService, EventState, type Event } from "./gen/waitroom/v1/admin_pb";
import {
  capacityQuestion,
  count,
  errorText,
  fatalText,
  parseCapacity,
  parseRate,
  rateQuestion,
  stateAction,
  stateName,
} from "./adminformat";
import { EventFeed, fatalOf } from "./adminlive";
import { History, type Sample } from "./adminstats";
import { clearFigures, renderChart, renderFigures, renderStatus } from "./adminview";

/** The token lives in this tab's sessionStorage only: never in a URL, a cookie or a log. */
const tokenKey = "waitroom.admin-token";
/** Events per ListEvents page. */
const pageSize = 50;
/** How often the list of events is read again. */
const listEveryMs = 5000;

function el<T extends HTMLElement = HTMLElement>(id: string): T {
  const found = document.getElementById(id);
  if (!found) throw new Error(`missing #${id}`);
  return found as T;
}

const ui = {
  signinView: el("signin-view"),
  signin: el<HTMLFormElement>("signin"),
  token: el<HTMLInputElement>("token"),
  signinError: el("signin-error"),
  signinButton: el<HTMLButtonElement>("signin-button"),
  signout: el<HTMLButtonElement>("signout"),
  dashView: el("dash-view"),
  events: el<HTMLTableSectionElement>("events"),
  eventsEmpty: el("events-empty"),
  eventsError: el("events-error"),
  more: el<HTMLButtonElement>("more"),
  detail: el("detail"),
  detailError: el("detail-error"),
  eventTitle: el("event-title"),
  stateButton: el<HTMLButtonElement>("state-button"),
  capacityForm: el<HTMLFormElement>("capacity-form"),
  capacity: el<HTMLInputElement>("capacity"),
  rateForm: el<HTMLFormElement>("rate-form"),
  rate: el<HTMLInputElement>("rate"),
  controlError: el("control-error"),
  controlDone: el("control-done"),
  confirm: el<HTMLDialogElement>("confirm"),
  confirmText: el("confirm-text"),
  confirmYes: el<HTMLButtonElement>("confirm-yes"),
  confirmNo: el<HTMLButtonElement>("confirm-no"),
};

function storage(): Storage | undefined {
  try {
    return sessionStorage;
  } catch {
    return undefined;
  }
}

function storedToken(): string | undefined {
  return storage()?.getItem(tokenKey) ?? undefined;
}

// The API lives at the page's origin, under whatever prefix /admin is mounted at.
const baseUrl = location.origin + location.pathname.replace(/\/admin\/?$/, "");
let token: string | undefined;
const bearer: Interceptor = (next) => (req) => {
  if (token !== undefined) req.header.set("Authorization", `Bearer ${token}`);
  return next(req);
};
const client: Client<typeof EventAdminService> = createClient(
  EventAdminService,
  createConnectTransport({ baseUrl, interceptors: [bearer] }),
);

/** hashEvent is the event the address names: /admin#<event_id>. */
function hashEvent(): string | undefined {
  try {
    return decodeURIComponent(location.hash.slice(1)) || undefined;
  } catch {
    return undefined;
  }
}

function note(e: HTMLElement, text: string | undefined): void {
  e.hidden = text === undefined;
  e.textContent = text ?? "";
}

// ---- signing in and out

/**
 * showSignIn asks for the token, saying why when there is an error. forget
 * drops the kept token: on sign-out and when the server refused it, not when
 * the server could not be reached.
 */
function showSignIn(error?: string, forget = true): void {
  stopAll();
  token = undefined;
  if (forget) storage()?.removeItem(tokenKey);
  ui.dashView.hidden = true;
  ui.signout.hidden = true;
  ui.signinView.hidden = false;
  ui.token.value = "";
  note(ui.signinError, error);
  ui.signinButton.disabled = false;
  ui.token.focus();
  document.title = "Sign in · Waiting room operators";
}

/** signIn checks a token with one ListEvents before keeping it. */
async function signIn(candidate: string): Promise<void> {
  token = candidate;
  try {
    const first = await client.listEvents({ pageSize });
    storage()?.setItem(tokenKey, candidate);
    showDash(first.events, first.nextPageToken);
  } catch (err) {
    const fatal = fatalOf(ConnectError.from(err));
    if (fatal) showSignIn(fatalText(fatal));
    else showSignIn(`Could not sign in: ${errorText(err)}`, false);
  }
}

// ---- the list of events

let pages = 1;
let nextToken = "";
let listTimer: ReturnType<typeof setInterval> | undefined;
let selected: string | undefined;
const known = new Map<string, Event>();

function showDash(events: Event[], next: string): void {
  ui.signinView.hidden = true;
  ui.dashView.hidden = false;
  ui.signout.hidden = false;
  document.title = "Events · Waiting room operators";
  pages = 1;
  renderEvents(events, next);
  clearInterval(listTimer);
  listTimer = setInterval(() => void refreshEvents(), listEveryMs);
  const wanted = hashEvent();
  if (wanted) select(wanted);
}

/** refreshEvents reads again as many pages as are shown. */
async function refreshEvents(): Promise<void> {
  try {
    const events: Event[] = [];
    let pageToken = "";
    for (let i = 0; i < pages; i++) {
      const res = await client.listEvents({ pageSize, pageToken });
      events.push(...res.events);
      pageToken = res.nextPageToken;
      if (!pageToken) break;
    }
    note(ui.eventsError, undefined);
    renderEvents(events, pageToken);
  } catch (err) {
    failed(ui.eventsError, "Could not list the events", err);
  }
}

async function moreEvents(): Promise<void> {
  ui.more.disabled = true;
  try {
    const res = await client.listEvents({ pageSize, pageToken: nextToken });
    pages++;
    renderEvents([...known.values(), ...res.events], res.nextPageToken);
  } catch (err) {
    failed(ui.eventsError, "Could not list more events", err);
  } finally {
    ui.more.disabled = false;
  }
}

/** rowCells are an event's cells in the list, after its name. */
function rowCells(s: { state: EventState; queueLength: number; processing: number; maxConcurrent: number }): string[] {
  return [stateName(s.state), count(s.queueLength), `${count(s.processing)} of ${count(s.maxConcurrent)}`];
}

/** renderRow brings the followed event's row up to its live figures. */
function renderRow(eventId: string, s: Sample): void {
  const row = [...ui.events.querySelectorAll("tr")].find((tr) => tr.dataset.event === eventId);
  if (!row) return;
  rowCells(s).forEach((text, i) => {
    const td = row.cells[i + 1];
    if (td && td.textContent !== text) td.textContent = text;
  });
}

/**
 * renderEvents shows the list. Rows already shown are updated in place, so
 * a refresh every few seconds does not take the keyboard focus away.
 */
function renderEvents(events: Event[], next: string): void {
  known.clear();
  const shown = new Map([...ui.events.querySelectorAll("tr")].map((tr) => [tr.dataset.event, tr]));
  const rows = events.map((e) => {
    known.set(e.eventId, e);
    const tr = shown.get(e.eventId) ?? newRow(e.eventId);
    rowCells(e).forEach((text, i) => {
      const td = tr.cells[i + 1];
      if (td.textContent !== text) td.textContent = text;
    });
    return tr;
  });
  const same = rows.length === ui.events.rows.length && rows.every((tr, i) => ui.events.rows[i] === tr);
  if (!same) ui.events.replaceChildren(...rows);
  ui.eventsEmpty.hidden = rows.length > 0;
  nextToken = next;
  ui.more.hidden = next === "";
}

function newRow(eventId: string): HTMLTableRowElement {
  const tr = document.createElement("tr");
  tr.dataset.event = eventId;
  if (eventId === selected) tr.setAttribute("aria-current", "true");
  const name = document.createElement("td");
  const link = document.createElement("a");
  link.href = `#${encodeURIComponent(eventId)}`;
  link.textContent = eventId;
  name.append(link);
  tr.append(name);
  for (let i = 0; i < 3; i++) {
    const td = document.createElement("td");
    if (i > 0) td.className = "num";
    tr.append(td);
  }
  return tr;
}

// ---- one event, live

let feed: EventFeed | undefined;
const history = new History();

function select(eventId: string): void {
  if (eventId === selected && feed) return;
  feed?.stop();
  selected = eventId;
  history.clear();
  for (const tr of ui.events.querySelectorAll("tr")) {
    if (tr.dataset.event === eventId) tr.setAttribute("aria-current", "true");
    else tr.removeAttribute("aria-current");
  }
  ui.detail.hidden = false;
  ui.eventTitle.textContent = eventId;
  note(ui.detailError, undefined);
  note(ui.controlError, undefined);
  note(ui.controlDone, undefined);
  current = undefined;
  enableControls(false);
  clearFigures();
  controlsFor(settingsOf(known.get(eventId)), true);
  document.title = `${eventId} · Waiting room operators`;
  const mine = new EventFeed({
    client,
    eventId,
    onSample: (s) => {
      if (feed !== mine) return;
      history.add(s);
      renderRow(eventId, s);
      renderFigures(history.samples);
      renderChart(history.samples);
      controlsFor(s, false);
    },
    onStatus: (st) => feed === mine && renderStatus(st),
    onFatal: (fatal) => {
      if (feed !== mine) return;
      if (fatal === "unauthenticated" || fatal === "disabled") showSignIn(fatalText(fatal));
      else note(ui.detailError, fatalText(fatal));
    },
  });
  feed = mine;
  mine.start();
}

/** Settings are what the controls change, as last seen. */
interface Settings {
  state: EventState;
  maxConcurrent: number;
  rateLimit: number;
}
let current: Settings | undefined;

function settingsOf(e: Event | undefined): Settings | undefined {
  return e && { state: e.state, maxConcurrent: e.maxConcurrent, rateLimit: e.admissionRate };
}

/** controlsFor shows the settings; fill replaces what the fields hold. */
function controlsFor(s: Settings | undefined, fill: boolean): void {
  if (!s || !selected) return;
  const moved = !current || current.maxConcurrent !== s.maxConcurrent || current.rateLimit !== s.rateLimit;
  current = { state: s.state, maxConcurrent: s.maxConcurrent, rateLimit: s.rateLimit };
  enableControls(true);
  ui.stateButton.textContent = stateAction(selected, s.state).label;
  // Do not overwrite what the operator is typing, unless the setting moved.
  if (fill || (moved && document.activeElement !== ui.capacity)) ui.capacity.value = String(s.maxConcurrent);
  if (fill || (moved && document.activeElement !== ui.rate)) ui.rate.value = String(s.rateLimit);
}

/** The controls wait until the event's settings are known. */
function enableControls(on: boolean): void {
  for (const c of [ui.stateButton, ...ui.capacityForm.elements, ...ui.rateForm.elements]) {
    (c as HTMLButtonElement | HTMLInputElement).disabled = !on;
  }
}

function stopAll(): void {
  feed?.stop();
  feed = undefined;
  selected = undefined;
  current = undefined;
  clearInterval(listTimer);
  ui.detail.hidden = true;
}

function failed(where: HTMLElement, what: string, err: unknown): void {
  const fatal = fatalOf(ConnectError.from(err));
  if (fatal === "unauthenticated" || fatal === "disabled") {
    showSignIn(fatalText(fatal));
    return;
  }
  note(where, `${what}: ${errorText(err)}`);
}

// ---- controls: each asks first, then changes only the named field

function ask(question: string): Promise<boolean> {
  ui.confirmText.textContent = question;
  return new Promise((resolve) => {
    const done = (ok: boolean) => {
      ui.confirmYes.removeEventListener("click", yes);
      ui.confirmNo.removeEventListener("click", no);
      ui.confirm.removeEventListener("close", no);
      if (ui.confirm.open) ui.confirm.close();
      resolve(ok);
    };
    const yes = () => done(true);
    const no = () => done(false);
    ui.confirmYes.addEventListener("click", yes);
    ui.confirmNo.addEventListener("click", no);
    ui.confirm.addEventListener("close", no);
    ui.confirm.showModal();
    ui.confirmNo.focus();
  });
}

type Field = "state" | "max_concurrent" | "admission_rate";

async function change(question: string, field: Field, values: Pick<Event, "state"> | Pick<Event, "maxConcurrent"> | Pick<Event, "admissionRate">, done: string): Promise<void> {
  const eventId = selected;
  if (!eventId) return;
  note(ui.controlError, undefined);
  note(ui.controlDone, undefined);
  if (!(await ask(question))) return;
  try {
    const res = await client.updateEvent({ event: { eventId, ...values }, updateMask: { paths: [field] } });
    if (selected === eventId) controlsFor(settingsOf(res.event), true);
    note(ui.controlDone, done);
    void refreshEvents();
  } catch (err) {
    failed(ui.controlError, "The change was not made", err);
  }
}

ui.stateButton.addEventListener("click", () => {
  if (!selected || !current) return;
  const a = stateAction(selected, current.state);
  void change(a.question, "state", { state: a.target }, a.done);
});

ui.capacityForm.addEventListener("submit", (e) => {
  e.preventDefault();
  if (!selected || !current) return;
  const v = parseCapacity(ui.capacity.value);
  if (typeof v === "string") return note(ui.controlError, v);
  void change(capacityQuestion(selected, current.maxConcurrent, v), "max_concurrent", { maxConcurrent: v }, `Capacity set to ${count(v)}.`);
});

ui.rateForm.addEventListener("submit", (e) => {
  e.preventDefault();
  if (!selected || !current) return;
  const v = parseRate(ui.rate.value);
  if (typeof v === "string") return note(ui.controlError, v);
  const done = v === 0 ? "Admission rate limit removed." : `Admission rate set to ${v}/s.`;
  void change(rateQuestion(selected, current.rateLimit, v), "admission_rate", { admissionRate: v }, done);
});

// ---- start

ui.signin.addEventListener("submit", (e) => {
  e.preventDefault();
  const candidate = ui.token.value.trim();
  if (!candidate) return note(ui.signinError, "Enter the admin token.");
  ui.signinButton.disabled = true;
  note(ui.signinError, undefined);
  void signIn(candidate);
});
ui.signout.addEventListener("click", () => showSignIn());
ui.more.addEventListener("click", () => void moreEvents());
window.addEventListener("hashchange", () => {
  const id = hashEvent();
  if (id && token !== undefined) select(id);
});

const saved = storedToken();
if (saved) void signIn(saved);
else showSignIn();
