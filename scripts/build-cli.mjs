// Bundles the CLI (src/cli.ts) into dist/cli.js plus shared chunks in dist/chunks/ with esbuild,
// replacing tsc's one-file-per-module dist/cli.js (issue 15: loading ≈ 250 small modules of ours and
// ≈ 170 of zod and the MCP SDK was most of `serve`'s start-up). Run by `npm run build` after tsc; the
// rest of tsc's dist/ (bench, the bare baseline server) stays as it was. Only the packages in BUNDLED
// are bundled; every `import()` of a command or optional area stays a separate chunk, so `--help` still loads no
// database, exchange or MCP code. Files are found from the package root (src/packageRoot.ts), never
// relative to a module. dist/chunks/sources.json lists the modules in each output file (for
// test/cli.test.ts's lazy-load check). Deterministic: content hashes, no timestamps.
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { build } from "esbuild";

/**
 * Packages bundled into the chunks instead of loaded from node_modules: many small files each on the
 * serve path (zod ≈ 116 modules, the SDK and zod-to-json-schema ≈ 55, ajv ≈ 100 CommonJS files with
 * its helpers), no native code, workers or files read beside them. Everything else stays external:
 * native (better-sqlite3), worker-based (pino), CommonJS loaded on demand through createRequire
 * (ccxt, @nktkas/hyperliquid, csv-parse) and the rest.
 */
const BUNDLED = [
  "zod",
  "@modelcontextprotocol/sdk",
  "zod-to-json-schema",
  "ajv",
  "ajv-formats",
  "fast-deep-equal",
  "fast-uri",
  "json-schema-traverse",
  "require-from-string",
];

/** esbuild plugin: every bare import is external unless its package is in `bundled`. */
function externalExcept(bundled) {
  return {
    name: "external-except",
    setup(b) {
      b.onResolve({ filter: /^[^./]/ }, (args) => {
        if (args.path.startsWith("node:")) return { external: true };
        const parts = args.path.split("/");
        const pkg = args.path.startsWith("@") ? parts.slice(0, 2).join("/") : parts[0];
        return bundled.includes(pkg) ? undefined : { external: true };
      });
    },
  };
}

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
  plugins: [externalExcept(BUNDLED)],
  // Bundled CommonJS (ajv) may require() a Node built-in; ESM has no require of its own.
  banner: { js: 'import { createRequire as __twCreateRequire } from "node:module"; const require = __twCreateRequire(import.meta.url);' },
  sourcemap: true,
  metafile: true,
  logLevel: "warning",
  tsconfig: "tsconfig.json",
});
const sources = {};
for (const [out, meta] of Object.entries(result.metafile.outputs)) {
  if (out.endsWith(".map")) continue;
  // Package files as `node_modules/<package>/...` wherever node_modules really is (a symlink is
  // reported by its target), our own as `src/...`.
  sources[out] = Object.keys(meta.inputs)
    .map((i) => (i.includes("node_modules/") ? `node_modules/${i.split("node_modules/").pop()}` : i))
    .sort();
}
mkdirSync("dist/chunks", { recursive: true });
writeFileSync("dist/chunks/sources.json", `${JSON.stringify(sources, null, 1)}\n`);
