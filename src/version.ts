import { readFileSync } from "node:fs";
import { join } from "node:path";
import { packageRoot } from "./packageRoot.js";

/**
 * Version of the running package (from package.json). Its own module so `tradewarden --version`
 * loads nothing else.
 */
export const VERSION: string = (
  JSON.parse(readFileSync(join(packageRoot(), "package.json"), "utf8")) as { version: string }
).version;
