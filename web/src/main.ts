// The waiting-room page: wires the session (room.ts) to the DOM.

import { createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-web";
import { WaitroomService } from "./gen/waitroom/v1/waitroom_pb";
import { checkoutHref, progressPercent } from "./format";
import { parseLocation, safeStorage, takeJoinToken, visitorId } from "./ids";
import { queueText } from "./present";
import { WaitingRoom, type Phase, type State } from "./room";

/** Seconds between "It's your turn" and the move to checkout. */
const redirectSeconds = 5;
/** Screen readers hear at most one position change this often. */
const announceEveryMs = 5_000;
/** A tab hidden longer than this reopens its stream when shown again. */
const resyncAfterHiddenMs = 10_000;

function el<T extends HTMLElement = HTMLElement>(id: string): T {
  const found = document.getElementById(id);
  if (!found) throw new Error(`missing #${id}`);
  return found as T;
}

const ui = {
  event: el("event"),
  queue: el("queue"),
  title: el("title"),
  placeLabel: el("place-label"),
  position: el("position"),
  held: el("held"),
  lane: el("lane"),
  prequeue: el("prequeue"),
  draw: el<HTMLDetailsElement>("draw"),
  drawSummary: el("draw-summary"),
  drawText: el("draw-text"),
  seedRow: el("seed-row"),
  seed: el("seed"),
  commitment: el("commitment"),
  progress: el<HTMLProgressElement>("progress"),
  ahead: el("ahead"),
  length: el("length"),
  wait: el("wait"),
  leave: el<HTMLButtonElement>("leave"),
  leaveError: el("leave-error"),
  ready: el("ready"),
  readyTitle: el("ready-title"),
  countdown: el("countdown"),
  go: el<HTMLAnchorElement>("go"),
  notice: el("notice"),
  noticeTitle: el("notice-title"),
  noticeText: el("notice-text"),
  again: el<HTMLButtonElement>("again"),
  connection: el("connection"),
  connectionText: el("connection-text"),
  retry: el<HTMLButtonElement>("retry"),
  announcer: el("announcer"),
};

/** What each final or failed phase tells the visitor, and whether they can join again. */
const notices: Partial<Record<Phase, { title: string; text: string; again?: string }>> = {
  completed: {
    title: "You're all done",
    text: "Your checkout is complete. Thanks for waiting.",
  },
  left: {
    title: "You left the line",
    text: "Your place went to the people behind you. Joining again puts you at the back of the line.",
    again: "Join again",
  },
  expired: {
    title: "Your session expired",
    text: "Places in line are held for a limited time, and this one ran out. Joining again puts you at the back of the line.",
    again: "Join again",
  },
  closed: {
    title: "This sale is closed",
    text: "The event isn't admitting anyone from this line. Check the event page for news.",
    again: "Try again",
  },
  "unknown-event": {
    title: "We couldn't find this event",
    text: "Check the link you followed: the address may be mistyped, or the sale may be over.",
  },
  invalid: {
    title: "This link isn't valid",
    text: "The link you followed is missing something the waiting room needs. Go back to the event page and try again.",
  },
  "token-missing": {
    title: "Please come in through the shop",
    text: "This waiting room is entered from the shop's site. Go back to the shop and follow its link to the waiting room again.",
  },
  "token-expired": {
    title: "This link has expired",
    text: "Links to the waiting room only work for a short while. Go back to the shop for a new one.",
  },
  "token-invalid": {
    title: "This link isn't valid",
    text: "The waiting room can't use the link you followed. Go back to the shop and follow its link to the waiting room again.",
  },
  "token-mismatch": {
    title: "This link isn't for you",
    text: "The link you followed was made for someone else or for another event. Go back to the shop and follow its link to the waiting room again.",
  },
};

let shownPhase: Phase | undefined;
let lastAnnounced = 0;
let pendingAnnouncement: ReturnType<typeof setTimeout> | undefined;
let spokenPosition: string | undefined;
let countdown: ReturnType<typeof setInterval> | undefined;
/** The lost connection was announced; reset once it is live again. */
let announcedUnreachable = false;
// A visitor who comes back from checkout with the Back button chose to be
// here: offer the button, but do not bounce them straight back.
let autoRedirect = !cameBack();

function cameBack(): boolean {
  const nav = performance.getEntriesByType?.("navigation")[0] as PerformanceNavigationTiming | undefined;
  return nav?.type === "back_forward";
}

function announce(text: string): void {
  clearTimeout(pendingAnnouncement);
  pendingAnnouncement = undefined;
  lastAnnounced = Date.now();
  ui.announcer.textContent = text;
}

/**
 * announcePosition speaks what the place in line says when it changes,
 * coalescing fast-moving lines.
 */
function announcePosition(text: string): void {
  if (text === spokenPosition) return;
  const wait = lastAnnounced + announceEveryMs - Date.now();
  if (wait <= 0) {
    spokenPosition = text;
    announce(text);
    return;
  }
  clearTimeout(pendingAnnouncement);
  pendingAnnouncement = setTimeout(() => {
    spokenPosition = text;
    announce(text);
  }, wait);
}

function show(section: "queue" | "ready" | "notice"): void {
  ui.queue.hidden = section !== "queue";
  ui.ready.hidden = section !== "ready";
  ui.notice.hidden = section !== "notice";
}

function render(s: Readonly<State>): void {
  const entering = s.phase !== shownPhase;
  shownPhase = s.phase;
  document.body.dataset.phase = s.phase;
  renderConnection(s);

  switch (s.phase) {
    case "joining":
      show("queue");
      renderJoining(s);
      return;
    case "queued":
      show("queue");
      renderQueued(s);
      return;
    case "ready":
      show("ready");
      if (entering) startCheckout(s);
      return;
  }
  const notice = notices[s.phase];
  if (!notice) return;
  show("notice");
  if (!entering) return;
  clearTimeout(pendingAnnouncement);
  ui.noticeTitle.textContent = notice.title;
  ui.noticeText.textContent = notice.text;
  ui.again.hidden = notice.again === undefined;
  ui.again.textContent = notice.again ?? "";
  document.title = `${notice.title} · Waiting room`;
  ui.noticeTitle.focus();
  announce(`${notice.title}. ${notice.text}`);
}

function renderJoining(s: Readonly<State>): void {
  const unreachable = s.failures >= 3;
  ui.title.textContent = unreachable ? "We can't reach the waiting room" : "Joining the line…";
  ui.position.textContent = "–";
  ui.leave.disabled = true;
  if (unreachable && s.failures === 3) announce("We can't reach the waiting room. We'll keep trying.");
}

function renderQueued(s: Readonly<State>): void {
  const position = s.position ?? 0;
  const t = queueText(s, Date.now());
  setText(ui.title, t.title);
  setText(ui.placeLabel, t.placeLabel);
  setText(ui.position, t.position);
  setText(ui.ahead, t.ahead);
  setText(ui.length, t.length);
  setText(ui.wait, t.wait);
  note(ui.prequeue, t.prequeue);
  note(ui.held, t.held);
  note(ui.lane, t.lane);
  ui.draw.hidden = t.draw === undefined;
  if (t.draw) {
    setText(ui.drawSummary, t.draw.summary);
    setText(ui.drawText, t.draw.text);
    setText(ui.commitment, t.draw.commitment);
    setText(ui.seed, t.draw.seed ?? "");
    ui.seedRow.hidden = t.draw.seed === undefined;
  }
  // Before a fair start the number is a bound, not progress.
  const pct = s.fairStart && !s.fairStart.placed ? 0 : progressPercent(position, s.startPosition ?? position);
  ui.progress.value = pct;
  ui.progress.textContent = `${pct}%`;
  ui.leave.disabled = false;
  document.title = t.documentTitle;
  announcePosition(t.announcement);
}

/** setText changes an element's text only when it differs (a countdown re-renders each second). */
function setText(e: HTMLElement, text: string): void {
  if (e.textContent !== text) e.textContent = text;
}

function note(e: HTMLElement, text: string | undefined): void {
  e.hidden = text === undefined;
  setText(e, text ?? "");
}

function renderConnection(s: Readonly<State>): void {
  let state: string = s.connection;
  let text: string;
  switch (s.connection) {
    case "live":
      text = "Live: updates as the line moves";
      break;
    case "connecting":
      text = s.failures > 0 ? "Reconnecting…" : "Connecting…";
      break;
    case "reconnecting": {
      const secs = Math.max(1, Math.ceil(((s.retryAt ?? Date.now()) - Date.now()) / 1000));
      if (!navigator.onLine) {
        state = "offline";
        text = "You're offline. Your place is kept; we'll reconnect when you're back.";
      } else if (s.failures >= 3) {
        state = "offline";
        text = `Can't reach the waiting room. Your place is kept. Retrying in ${secs} s…`;
      } else {
        text = "Reconnecting… your place is kept";
      }
      break;
    }
    case "idle":
      text = "";
      break;
  }
  ui.connection.dataset.state = state;
  ui.connection.hidden = s.connection === "idle";
  ui.connectionText.textContent = text;
  ui.retry.hidden = !(s.connection === "reconnecting" && s.failures >= 3);
  // The joining phase says so itself (renderJoining); in line, say it once here.
  if (s.phase === "queued" && s.connection === "reconnecting" && s.failures === 3 && !announcedUnreachable) {
    announcedUnreachable = true;
    announce("We can't reach the waiting room. Your place is kept; we'll keep trying.");
  }
  if (s.connection === "live") announcedUnreachable = false;
}

function startCheckout(s: Readonly<State>): void {
  clearTimeout(pendingAnnouncement);
  clearInterval(countdown);
  document.title = "It's your turn! · Waiting room";
  const href = checkoutHref(s.checkoutUrl ?? "", s.checkoutToken ?? "", location.origin);
  ui.readyTitle.focus();
  if (href === undefined) {
    ui.countdown.textContent = "Your checkout link is missing. Please contact the event's support.";
    ui.go.hidden = true;
    announce("It's your turn, but the checkout link is missing.");
    return;
  }
  ui.go.href = href;
  if (!autoRedirect) {
    ui.countdown.textContent = "Your checkout is waiting for you.";
    announce("It's your turn. Your checkout is waiting for you.");
    return;
  }
  announce("It's your turn. Taking you to checkout.");
  let left = redirectSeconds;
  const tick = () => {
    if (left <= 0) {
      clearInterval(countdown);
      ui.countdown.textContent = "Taking you to checkout…";
      location.assign(href);
      return;
    }
    ui.countdown.textContent = `Taking you to checkout in ${left} second${left === 1 ? "" : "s"}…`;
    left--;
  };
  tick();
  countdown = setInterval(tick, 1000);
}

function boot(): void {
  const url = new URL(location.href);
  const where = parseLocation(url);
  const tab = safeStorage(() => sessionStorage);
  // First of all, take the join token out of the address bar.
  const join = takeJoinToken(url, where?.eventId, tab);
  if (join.cleanUrl !== undefined) history.replaceState(history.state, "", join.cleanUrl);
  if (where === undefined) {
    render({ phase: "unknown-event", connection: "idle", failures: 0 });
    return;
  }
  ui.event.textContent = where.eventId;
  ui.event.hidden = false;
  if (join.malformed) {
    render({ phase: "token-invalid", connection: "idle", failures: 0 });
    return;
  }

  const transport = createConnectTransport({ baseUrl: where.baseUrl, useHttpGet: true });
  const room = new WaitingRoom({
    client: createClient(WaitroomService, transport),
    eventId: where.eventId,
    userId: join.token === undefined ? visitorId(safeStorage(() => localStorage)) : "",
    joinToken: join.token,
    storage: tab,
    onChange: render,
  });

  ui.leave.addEventListener("click", async () => {
    ui.leave.disabled = true;
    ui.leaveError.hidden = true;
    try {
      await room.leave();
    } catch {
      ui.leaveError.textContent = "We couldn't take you out of the line just now. Please try again.";
      ui.leaveError.hidden = false;
      ui.leave.disabled = false;
    }
  });
  ui.again.addEventListener("click", () => {
    spokenPosition = undefined;
    ui.leaveError.hidden = true;
    room.start({ fresh: true });
  });
  ui.retry.addEventListener("click", () => room.wake());

  // Retry at once when the network or the tab comes back; a tab that slept may
  // hold a stream the browser quietly dropped, so reopen it.
  window.addEventListener("online", () => room.wake());
  let hiddenAt = 0;
  document.addEventListener("visibilitychange", () => {
    if (document.hidden) {
      hiddenAt = Date.now();
      return;
    }
    room.wake();
    if (Date.now() - hiddenAt > resyncAfterHiddenMs) room.resync();
  });
  // The "retrying in N s" text, a sale's start and a held place count down.
  setInterval(() => {
    const s = room.current;
    if (s.connection === "reconnecting") renderConnection(s);
    if (s.phase === "queued" && ((s.fairStart && !s.fairStart.placed) || s.held)) renderQueued(s);
  }, 1000);
  window.addEventListener("pagehide", () => {
    clearInterval(countdown);
    room.stop();
  });
  window.addEventListener("pageshow", (e) => {
    // Back from checkout through the back/forward cache: start over from the
    // server's view of the same session (a completed checkout stays so).
    if (e.persisted) {
      clearInterval(countdown);
      autoRedirect = false;
      shownPhase = undefined;
      room.start();
    }
  });

  // A visitor who just followed the shop's link asked to be in line as the
  // user that link names: join with it (a join is idempotent, so someone
  // already in line keeps their place) rather than resume the tab's session.
  room.start({ fresh: join.fromLink });
}

boot();
