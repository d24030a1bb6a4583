// Builds the page into dist/: index.html plus content-hashed assets, which the
// Go package embeds. Every option is fixed so that the same sources give the
// same bytes: CI rebuilds and fails if dist/ changes.

import { mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import * as esbuild from "esbuild";

const root = dirname(fileURLToPath(import.meta.url));
const dist = join(root, "dist");
const assets = join(dist, "assets");

await rm(dist, { recursive: true, force: true });
await mkdir(assets, { recursive: true });

const result = await esbuild.build({
  absWorkingDir: root,
  entryPoints: ["src/main.ts", "src/style.css"],
  outdir: assets,
  entryNames: "[name]-[hash]",
  bundle: true,
  minify: true,
  format: "esm",
  // BigInt (protobuf's int64 support) needs ES2020: every browser released since 2020.
  target: "es2020",
  platform: "browser",
  charset: "utf8",
  legalComments: "eof",
  sourcemap: false,
  metafile: true,
  logLevel: "warning",
});

// Map each entry point to its hashed file name, for index.html.
const names = {};
for (const [out, meta] of Object.entries(result.metafile.outputs)) {
  if (!meta.entryPoint) continue;
  const entry = basename(meta.entryPoint).replace(/\.ts$/, ".js");
  names[entry] = "assets/" + basename(out);
}

const template = await readFile(join(root, "index.html"), "utf8");
const html = template.replace(/\{\{([\w.]+)\}\}/g, (_, entry) => {
  if (!names[entry]) throw new Error(`index.html names ${entry}, which the build did not produce`);
  return names[entry];
});
await writeFile(join(dist, "index.html"), html);

for (const [out, meta] of Object.entries(result.metafile.outputs)) {
  console.log(`${out.padEnd(36)} ${String(meta.bytes).padStart(7)} bytes`);
}
