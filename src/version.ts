import { readFileSync } from "node:fs";

/**
 * Version of the running package (from package.json). Its own module so `tradewarden --version`
 * loads nothing else.
 */
export const VERSION: string = (
  JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as { version: string }
).version;
