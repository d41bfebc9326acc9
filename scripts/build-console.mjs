// Bundles the console's browser code (src/console/client, lightweight-charts included) and its CSS
// into dist/console/assets with esbuild. Run by `npm run build`; the server serves these files itself
// (no CDN). Pinned esbuild; deterministic output (no hashes in names, no timestamps).
import { build } from "esbuild";

await build({
  entryPoints: { console: "src/console/client/main.ts" },
  outdir: "dist/console/assets",
  bundle: true,
  format: "esm",
  platform: "browser",
  target: ["es2022"],
  minify: true,
  sourcemap: true,
  legalComments: "linked",
  logLevel: "warning",
  tsconfig: "tsconfig.client.json",
});
