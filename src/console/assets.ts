import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";

/**
 * Where the browser assets (console.js with lightweight-charts bundled in, console.css) are. They are
 * built by `npm run build` (esbuild, scripts/build-console.mjs) into dist/console/assets and served
 * by the server itself — no CDN. When running from source (tests), the built copy under dist/ is used.
 * Undefined when they were not built: pages still work (plain forms), without charts or live updates.
 */
export function assetsDir(): string | undefined {
  const candidates = [
    new URL("./assets/", import.meta.url),
    new URL("../../dist/console/assets/", import.meta.url),
  ];
  for (const c of candidates) {
    const p = fileURLToPath(c);
    if (existsSync(`${p}console.js`)) return p;
  }
  return undefined;
}
