// Test harness: the real waitroom binary on a free port, and headless Chromium.

import { execFile, spawn } from "node:child_process";
import { generateKeyPairSync } from "node:crypto";
import { once } from "node:events";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { connect, createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { SignJWT } from "jose";
import { chromium } from "playwright-core";

export const webDir = dirname(dirname(fileURLToPath(import.meta.url)));
export const repoDir = dirname(webDir);
export const resultsDir = join(webDir, "test-results");

/**
 * buildServer compiles ./cmd/waitroom once into a temporary folder, or uses
 * WAITROOM_BIN when it names a binary that is already built.
 */
export async function buildServer() {
  if (process.env.WAITROOM_BIN) {
    return { bin: process.env.WAITROOM_BIN, cleanup: async () => {} };
  }
  const dir = await mkdtemp(join(tmpdir(), "waitroom-e2e-"));
  const bin = join(dir, "waitroom");
  await promisify(execFile)("go", ["build", "-o", bin, "./cmd/waitroom"], {
    cwd: repoDir,
    maxBuffer: 16 << 20,
  });
  return { bin, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

/**
 * startStack builds the server (or takes WAITROOM_BIN), launches Chromium
 * and starts one server with env on a free port; stop() ends all three.
 */
export async function startStack(env) {
  await mkdir(resultsDir, { recursive: true });
  const build = await buildServer();
  let browser;
  try {
    browser = await launchBrowser();
    const server = await startServer(build.bin, env);
    return {
      bin: build.bin,
      browser,
      server,
      async stop() {
        await browser.close();
        await server.stop();
        await build.cleanup();
      },
    };
  } catch (err) {
    await browser?.close();
    await build.cleanup();
    throw err;
  }
}

/** freePort asks the kernel for a port nobody is using right now. */
export async function freePort() {
  const srv = createServer();
  srv.listen(0, "127.0.0.1");
  await once(srv, "listening");
  const { port } = srv.address();
  srv.close();
  await once(srv, "close");
  return port;
}

/**
 * startServer runs the binary with the given environment and waits until
 * /healthz answers. The returned object stops it and keeps its log.
 *
 * The server keeps its places in the durable embedded store, in a data
 * directory of its own that stop() removes, unless env names one
 * (WAITROOM_DATA_DIR, which the caller owns and may start a server on again)
 * or asks for WAITROOM_STORE=memory. Servers never share a directory by
 * accident, and nothing lands in the working tree.
 */
export async function startServer(bin, env = {}, port) {
  port ??= await freePort();
  const base = `http://127.0.0.1:${port}`;
  let ownDir = null;
  if (env.WAITROOM_DATA_DIR === undefined && env.WAITROOM_STORE !== "memory") {
    ownDir = await mkdtemp(join(tmpdir(), "waitroom-e2e-data-"));
    env = { ...env, WAITROOM_DATA_DIR: ownDir };
  }
  const removeOwnDir = () => (ownDir ? rm(ownDir, { recursive: true, force: true }) : undefined);
  const child = spawn(bin, [], {
    env: { PATH: process.env.PATH, HOME: process.env.HOME, LISTEN_ADDR: `127.0.0.1:${port}`, METRICS_ADDR: "127.0.0.1:0", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let log = "";
  child.stdout.on("data", (d) => (log += d));
  child.stderr.on("data", (d) => (log += d));
  const exited = once(child, "exit");
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null) {
      await removeOwnDir();
      throw new Error(`waitroom exited with ${child.exitCode}:\n${log}`);
    }
    try {
      const res = await fetch(`${base}/healthz`);
      if (res.ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      child.kill("SIGKILL");
      await exited;
      await removeOwnDir();
      throw new Error(`waitroom did not become healthy within 30 s:\n${log}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    base,
    port,
    log: () => log,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill("SIGTERM");
        const timer = setTimeout(() => child.kill("SIGKILL"), 15_000);
        await exited;
        clearTimeout(timer);
      }
      await removeOwnDir();
    },
  };
}

/** The flags that let Chromium run headless, as root, on a closed network. */
export const chromiumArgs = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

/**
 * launchBrowser starts the system Chromium. playwright-core gives every
 * launch a fresh, empty profile (user data dir) of its own.
 */
export function launchBrowser() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM_PATH || "/usr/bin/chromium",
    headless: true,
    args: chromiumArgs,
  });
}

/** A phone-sized browser context: each visitor gets their own storage. */
export function phone(browser) {
  return browser.newContext({
    viewport: { width: 390, height: 844 },
    deviceScaleFactor: 2,
    isMobile: true,
    hasTouch: true,
    locale: "en-US",
  });
}

/** call makes a Connect JSON unary call, as curl would. */
export async function call(base, method, body, headers = {}) {
  const res = await fetch(`${base}/waitroom.v1.${method}`, {
    method: "POST",
    headers: { "Content-Type": "application/json", ...headers },
    body: JSON.stringify(body),
  });
  const text = await res.text();
  if (!res.ok) {
    throw new Error(`${method}: HTTP ${res.status}: ${text}`);
  }
  return text ? JSON.parse(text) : {};
}

/** textOf waits until the element's text is exactly `want` (whitespace trimmed). */
export async function waitText(page, selector, want, timeout = 30_000) {
  try {
    await page.waitForFunction(
      ([sel, text]) => document.querySelector(sel)?.textContent?.trim() === text,
      [selector, want],
      { timeout, polling: 50 },
    );
  } catch (err) {
    const got = await page.locator(selector).textContent().catch(() => "(missing)");
    throw new Error(`${selector}: want ${JSON.stringify(want)}, have ${JSON.stringify(got)} at ${page.url()}`, {
      cause: err,
    });
  }
}

/** visible waits for a section of the page to be shown. */
export async function visible(page, selector, timeout = 30_000) {
  await page.locator(selector).waitFor({ state: "visible", timeout });
}

/**
 * startProxy forwards a local port to the server, so a test can cut every
 * connection through it (a dropped stream, as a phone moving between networks
 * sees it), refuse new ones for a while (a server that cannot be reached), or
 * stall the connections carrying position streams: their sockets stay open
 * and nothing more passes either way, the half-open connection a NAT or a
 * proxy that forgot it leaves behind.
 */
export async function startProxy(targetPort) {
  const sockets = new Set();
  // Each client connection's last request path, read from the HTTP/1.1
  // request line, and whether it is stalled.
  const conns = new Set();
  let refusing = false;
  const requests = [];
  const srv = createServer((client) => {
    if (refusing) {
      client.destroy();
      return;
    }
    const upstream = connect(targetPort, "127.0.0.1");
    const conn = { client, path: "", stalled: false };
    conns.add(conn);
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on("close", () => sockets.delete(s));
      s.on("error", () => {});
    }
    client.on("data", (chunk) => {
      const line = /^[A-Z]+ (\S+) HTTP\/1\.1\r\n/.exec(chunk.toString("latin1", 0, 512));
      if (line && !conn.stalled) {
        conn.path = line[1];
        requests.push(line[1]);
      }
      if (!conn.stalled) upstream.write(chunk);
    });
    upstream.on("data", (chunk) => {
      if (!conn.stalled) client.write(chunk);
    });
    client.on("close", () => {
      conns.delete(conn);
      upstream.destroy();
    });
    upstream.on("close", () => client.destroy());
  });
  srv.listen(0, "127.0.0.1");
  await once(srv, "listening");
  const { port } = srv.address();
  return {
    base: `http://127.0.0.1:${port}`,
    /** cut drops every open connection and refuses new ones until restore. */
    cut() {
      refusing = true;
      for (const s of sockets) s.destroy();
    },
    restore() {
      refusing = false;
    },
    /**
     * stall stops forwarding, both ways and for good, on the open connections
     * whose last request path matches; they stay open. New connections pass.
     * It returns how many it stalled.
     */
    stall(path) {
      let n = 0;
      for (const c of conns) {
        if (!c.stalled && path.test(c.path)) {
          c.stalled = true;
          n++;
        }
      }
      return n;
    },
    /** requests counts the requests forwarded whose path matches. */
    requests(path) {
      return requests.filter((p) => path.test(p)).length;
    },
    async close() {
      refusing = true;
      for (const s of sockets) s.destroy();
      srv.close();
      await once(srv, "close");
    },
  };
}

/**
 * shopKeys is a ticketing site's join-token key: the public half in a PEM
 * file for WAITROOM_JOIN_KEYS_FILE, and sign for the join tokens the site
 * puts in its links to the waiting room.
 */
export async function shopKeys(issuer) {
  const { publicKey, privateKey } = generateKeyPairSync("ed25519");
  const dir = await mkdtemp(join(tmpdir(), "waitroom-e2e-keys-"));
  const file = join(dir, "join-keys.pem");
  await writeFile(file, publicKey.export({ type: "spki", format: "pem" }));
  return {
    file,
    /**
     * sign makes a join token for user sub, issued at iat (seconds since
     * the epoch, default now) and valid for life seconds (default five
     * minutes); claims are added to it.
     */
    sign(sub, { iat = Math.floor(Date.now() / 1000), life = 300, claims = {} } = {}) {
      return new SignJWT(claims)
        .setProtectedHeader({ alg: "EdDSA", typ: "JWT" })
        .setIssuer(issuer)
        .setAudience("waitroom")
        .setSubject(sub)
        .setIssuedAt(iat)
        .setExpirationTime(iat + life)
        .sign(privateKey);
    },
    cleanup: () => rm(dir, { recursive: true, force: true }),
  };
}
