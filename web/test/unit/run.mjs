// Runs the TypeScript unit tests: esbuild bundles each *.test.ts for Node
// (Node 20 runs no TypeScript), then node's own test runner runs them.

import { spawn } from "node:child_process";
import { readdir, rm } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import * as esbuild from "esbuild";

const here = dirname(fileURLToPath(import.meta.url));
const web = dirname(dirname(here));
const out = join(web, "node_modules", ".cache", "unit-tests");

const tests = (await readdir(here)).filter((f) => f.endsWith(".test.ts")).sort();
await rm(out, { recursive: true, force: true });
await esbuild.build({
  absWorkingDir: web,
  entryPoints: tests.map((f) => join(here, f)),
  outdir: out,
  outExtension: { ".js": ".mjs" },
  bundle: true,
  platform: "node",
  format: "esm",
  target: "node20",
  packages: "external",
  logLevel: "warning",
});
const files = tests.map((f) => join(out, f.replace(/\.ts$/, ".mjs")));
const child = spawn(process.execPath, ["--test", "--test-timeout=30000", ...files], { stdio: "inherit" });
child.on("exit", (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
