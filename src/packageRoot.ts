import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

let root: string | undefined;

/**
 * Absolute path of the package root (the folder holding package.json, data/, docs/ and dist/): the
 * first folder at or above this module's own that has a package.json. One answer from src/ (vitest),
 * from dist/ (tsc output) and from dist/chunks/ (the esbuild bundle of the CLI, scripts/build-cli.mjs),
 * so no caller may assume how many folders lie between its module and the root.
 * @throws Error when no package.json is found above this module (a broken install).
 */
export function packageRoot(): string {
  if (root !== undefined) return root;
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(dir, "package.json"))) {
      root = dir;
      return dir;
    }
    const up = dirname(dir);
    if (up === dir) throw new Error(`tradewarden: no package.json above ${fileURLToPath(import.meta.url)}`);
    dir = up;
  }
}
