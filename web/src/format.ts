// Wording and URLs, kept apart from the DOM so they read as plain functions.

/**
 * checkoutHref is where to send an admitted visitor: checkout_url with the
 * token appended as ?token=. A relative checkout_url is relative to the
 * page's origin. Anything but http(s) is refused, so a bad configuration
 * can never turn into a script URL.
 */
export function checkoutHref(checkoutUrl: string, token: string, origin: string): string | undefined {
  let url: URL;
  try {
    url = new URL(checkoutUrl || "/", origin);
  } catch {
    return undefined;
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") {
    return undefined;
  }
  url.searchParams.set("token", token);
  return url.href;
}

/** waitText says an estimated wait the way a person would. */
export function waitText(seconds: number | undefined): string {
  if (seconds === undefined || !Number.isFinite(seconds) || seconds <= 0) {
    return "Not known yet";
  }
  if (seconds < 60) {
    return "Under a minute";
  }
  const minutes = Math.round(seconds / 60);
  if (minutes < 60) {
    return minutes === 1 ? "About 1 minute" : `About ${minutes} minutes`;
  }
  const hours = Math.floor(minutes / 60);
  const rest = minutes % 60;
  const h = hours === 1 ? "1 hour" : `${hours} hours`;
  return rest === 0 ? `About ${h}` : `About ${h} ${rest} min`;
}

const count = new Intl.NumberFormat("en");

/** num formats a count with grouping: 12,345. */
export function num(n: number): string {
  return count.format(n);
}

/** people is "No one", "1 person" or "3 people". */
export function people(n: number): string {
  if (n === 0) return "No one";
  return n === 1 ? "1 person" : `${num(n)} people`;
}

/** announcement is what a screen reader hears when the position moves. */
export function announcement(position: number): string {
  if (position <= 1) {
    return "You are next in line.";
  }
  const ahead = position - 1;
  return `You are number ${num(position)} in line. ${ahead === 1 ? "1 person is" : `${num(ahead)} people are`} ahead of you.`;
}

/**
 * progressPercent is how far the visitor has come since their first known
 * position: 0 on arrival, 100 when admitted. Someone who arrives at the
 * front still sees a sliver, so the bar never looks broken.
 */
export function progressPercent(position: number, start: number): number {
  if (position <= 0) {
    return 100;
  }
  const from = Math.max(start, position);
  const done = ((from - position) / from) * 100;
  return Math.max(2, Math.min(100, Math.round(done)));
}
