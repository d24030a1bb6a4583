// Builds the pages into dist/: each page's HTML plus content-hashed assets,
// which the Go package embeds. Every option is fixed so that the same sources
// give the same bytes: CI rebuilds and fails if dist/ changes.
//
// Each page is its own esbuild run with its own entry points, so the
// visitor's page never carries a byte of the operators' dashboard.

import { mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import * as esbuild from "esbuild";

const root = dirname(fileURLToPath(import.meta.url));
const dist = join(root, "dist");

const pages = [
  // The waiting room at /e/<event_id>: assets at /e/assets/.
  { template: "index.html", entryPoints: ["src/main.ts", "src/style.css"], dir: ".", href: "assets/" },
  // The dashboard at /admin: assets at /admin/assets/.
  { template: "admin.html", entryPoints: ["src/admin.ts", "src/admin.css"], dir: "admin", href: "admin/assets/" },
];

await rm(dist, { recursive: true, force: true });

for (const page of pages) {
  const outDir = join(dist, page.dir);
  const assets = join(outDir, "assets");
  await mkdir(assets, { recursive: true });
  const result = await esbuild.build({
    absWorkingDir: root,
    entryPoints: page.entryPoints,
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

  // Map each entry point to its hashed file name, for the page's HTML.
  const names = {};
  for (const [out, meta] of Object.entries(result.metafile.outputs)) {
    if (!meta.entryPoint) continue;
    const entry = basename(meta.entryPoint).replace(/\.ts$/, ".js");
    names[entry] = page.href + basename(out);
  }

  const template = await readFile(join(root, page.template), "utf8");
  const html = template.replace(/\{\{([\w.]+)\}\}/g, (_, entry) => {
    if (!names[entry]) throw new Error(`${page.template} names ${entry}, which the build did not produce`);
    return names[entry];
  });
  await writeFile(join(outDir, "index.html"), html);

  for (const [out, meta] of Object.entries(result.metafile.outputs)) {
    console.log(`${out.padEnd(42)} ${String(meta.bytes).padStart(7)} bytes`);
  }
}
