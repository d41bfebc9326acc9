import { appendFileSync } from "node:fs";

/** Module customization hook: records each loaded module URL, then loads it unchanged. */
export async function load(url, context, next) {
  if (process.env.TW_LOAD_TRACE) appendFileSync(process.env.TW_LOAD_TRACE, `${url}\n`);
  return next(url, context);
}
