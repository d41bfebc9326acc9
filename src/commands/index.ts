import { alertsCommand } from "./alerts.js";
import { approveCommand } from "./approve.js";
import { auditCommand } from "./audit.js";
import { consoleCommand } from "./console.js";
import { controlCommand } from "./control.js";
import { backtestCommand } from "./backtest.js";
import { dataCommand } from "./data.js";
import { evalCommand } from "./eval.js";
import { replayCommand } from "./replay.js";
import { serveCommand } from "./serve.js";
import { tokenCommand } from "./token.js";
import type { CliModule } from "./types.js";

/** Every CLI command group, in help order. Add one line per area. */
export const CLI_MODULES: CliModule[] = [
  serveCommand,
  tokenCommand,
  dataCommand,
  replayCommand,
  auditCommand,
  evalCommand,
  backtestCommand,
  approveCommand,
  controlCommand,
  alertsCommand,
  consoleCommand,
];
