// Preloaded with `node --import` by test/cli.test.ts: appends the URL of every module the process
// loads to the file named by TW_LOAD_TRACE (the hooks run on Node's loader thread).
import { register } from "node:module";

register("./loadTraceHooks.mjs", import.meta.url);
