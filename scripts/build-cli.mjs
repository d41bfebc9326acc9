// Bundles the CLI (src/cli.ts) into dist/cli.js plus shared chunks in dist/chunks/ with esbuild,
// replacing tsc's one-file-per-module dist/cli.js (issue 15: loading ≈ 250 small modules was most of
// `serve`'s start-up). Run by `npm run build` after tsc; the rest of tsc's dist/ (bench, tests'
// helpers) stays as it was. Packages stay external (node_modules is loaded as usual), and every
// `import()` of a command or optional area stays a separate chunk, so `--help` still loads no
// database, exchange or MCP code. Files are found from the package root (src/packageRoot.ts), never
// relative to a module. dist/chunks/sources.json lists the source modules in each output file (for
// test/cli.test.ts's lazy-load check). Deterministic: content hashes, no timestamps.
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { build } from "esbuild";

rmSync("dist/chunks", { recursive: true, force: true });
const result = await build({
  entryPoints: { cli: "src/cli.ts" },
  outdir: "dist",
  chunkNames: "chunks/[name]-[hash]",
  bundle: true,
  splitting: true,
  format: "esm",
  platform: "node",
  target: ["node20"],
  packages: "external",
  sourcemap: true,
  metafile: true,
  logLevel: "warning",
  tsconfig: "tsconfig.json",
});
const sources = {};
for (const [out, meta] of Object.entries(result.metafile.outputs)) {
  if (out.endsWith(".map")) continue;
  sources[out] = Object.keys(meta.inputs).sort();
}
mkdirSync("dist/chunks", { recursive: true });
writeFileSync("dist/chunks/sources.json", `${JSON.stringify(sources, null, 1)}\n`);
