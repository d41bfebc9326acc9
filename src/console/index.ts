/**
 * The operator console (issue 14, DESIGN.md §11, docs/console.md): server-rendered pages over the
 * store, every action a gated tool call as `console:<token name>`, live updates by server-sent
 * events, charts by lightweight-charts bundled into local assets.
 */
export { consoleRouter, type ConsoleRouterOptions } from "./router.js";
export { startConsole, type ConsoleHandle } from "./server.js";
export { consoleBaseUrl, consoleBind, consoleIntentUrl } from "./url.js";
