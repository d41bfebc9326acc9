import { existsSync } from "node:fs";
import { join } from "node:path";
import { packageRoot } from "../packageRoot.js";

/**
 * Where the browser assets (console.js with lightweight-charts bundled in, console.css) are. They are
 * built by `npm run build` (esbuild, scripts/build-console.mjs) into dist/console/assets and served
 * by the server itself — no CDN. Resolved from the package root, so tests running from source, the
 * tsc output and the bundled CLI all use the built copy.
 * Undefined when they were not built: pages still work (plain forms), without charts or live updates.
 */
export function assetsDir(): string | undefined {
  const p = join(packageRoot(), "dist", "console", "assets");
  return existsSync(join(p, "console.js")) ? `${p}/` : undefined;
}
