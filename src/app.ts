import { join } from "node:path";
import { ReplayClock, SimClock, wallClock, type Clock } from "./clock.js";
import { dbPath, type Config } from "./config.js";
import { createLogger, type Logger } from "./log.js";
import { Gate } from "./policy/gate.js";
import { checkSecrets } from "./secrets.js";
import { ExecutionLanes } from "./policy/lane.js";
import { flushAnchor, setAuditAnchor } from "./store/audit.js";
import { markExclusive, openDb, type Db } from "./store/db.js";
import { COMPONENTS } from "./components.js";
import { isReplaySpec } from "./exchange/factory.js";
import { allTools } from "./tools/index.js";
import type { AnyToolDef } from "./tools/registry.js";
import { VERSION } from "./version.js";

export { VERSION };

/**
 * The application context: one per process, shared by every transport, session and background job.
 * Domain services hang off it; tools reach them through `ToolContext.app`. Each area adds its own
 * fields by module augmentation (`declare module "../app.js" { interface App { market: ... } }`) in
 * its component file, and installs them in src/components.ts.
 */
export interface App {
  version: string;
  config: Config;
  log: Logger;
  db: Db;
  clock: Clock;
  gate: Gate;
  /** One serial execution lane per venue account (src/policy/lane.ts). */
  lanes: ExecutionLanes;
  /**
   * The database belongs to this process alone (a replay's own file): lanes skip the cross-process
   * lock and background jobs need no lease.
   */
  exclusive: boolean;
  /** Every tool of the build; the registry filters per caller. */
  tools: AnyToolDef[];
  /** ms UTC at start. */
  startedAt: number;
  /**
   * `server` (serve, evals, tests): start-up work such as the knowledge reindex runs. `command`
   * (one-shot CLI commands such as `token list`): it is skipped, so they answer at once.
   */
  role: "server" | "command";
  /**
   * Status sections contributed by components (market data freshness, venues, cycle...), shown by
   * system_get_status under `components`.
   */
  statusProviders: Map<string, () => unknown>;
  /**
   * Background jobs (reconciler, minute cycle) registered by components. Only `tradewarden serve`
   * starts them (one-shot CLI commands and tests do not); `start` returns the job's stop function.
   */
  background: Array<{ name: string; start: () => () => void | Promise<void> }>;
  /** Registers cleanup run by {@link App.close} in reverse order. */
  onClose(fn: () => void | Promise<void>): void;
  /** Stops background work and closes the database. */
  close(): Promise<void>;
}

/** Options of {@link createApp}. */
export interface CreateAppOptions {
  /**
   * Clock override (replay, evals, tests). Default: the wall clock; for a server over replay data,
   * a {@link ReplayClock} — the whole server then lives in replay time (orders, fills, audit,
   * control changes and market data share one clock), see docs/market-data.md.
   */
  clock?: Clock;
  /** Logger override (tests pass a silent one). */
  log?: Logger;
  /** Database path override (`:memory:` in tests). Default `$TW_HOME/tradewarden.db`. */
  dbFile?: string;
  /** The database is this process's alone (see {@link App.exclusive}). Default false. */
  exclusive?: boolean;
  /** See {@link App.role}. Default `server`. */
  role?: App["role"];
}

/**
 * The audit anchor file of a database (src/store/audit.ts): `$TW_HOME/audit.anchor` for the home's
 * database, `<file>.anchor` for any other file (a replay's own database), none in memory.
 */
export function anchorPathFor(config: Config, file: string): string | undefined {
  if (file === ":memory:") return undefined;
  return file === dbPath(config) ? join(config.home, "audit.anchor") : `${file}.anchor`;
}

/**
 * Builds the application: logger, database (migrated), clock, gate and tool catalog.
 * @throws TwError CONFIG_INVALID when an exchange secret in the environment is malformed (named,
 *   never shown); Error when the database cannot be opened or migrated.
 */
export async function createApp(config: Config, opts: CreateAppOptions = {}): Promise<App> {
  checkSecrets(config);
  const log = opts.log ?? createLogger(config.logLevel);
  const file = opts.dbFile ?? dbPath(config);
  const db = openDb(file);
  const anchor = anchorPathFor(config, file);
  if (anchor) setAuditAnchor(db, anchor, { eager: opts.exclusive !== true });
  const role = opts.role ?? "server";
  const clock =
    opts.clock ??
    (role === "server" && isReplaySpec(config.marketData) ? new ReplayClock(config.replaySpeed) : wallClock);
  const exclusive = opts.exclusive === true;
  if (exclusive) markExclusive(db);
  const lanes = new ExecutionLanes({ db, log, crossProcess: !exclusive });
  const gate = new Gate({ db, clock, log, lanes, defaultVenue: config.venues.default });
  const closers: Array<() => void | Promise<void>> = [];
  const app = {
    version: VERSION,
    config,
    log,
    db,
    clock,
    gate,
    lanes,
    exclusive,
    tools: allTools(),
    startedAt: 0,
    role,
    statusProviders: new Map(),
    background: [],
    onClose: (fn: () => void | Promise<void>) => {
      closers.push(fn);
    },
    close: async () => {
      for (const fn of closers.reverse()) await fn();
      closers.length = 0;
      if (db.open) {
        lanes.close();
        flushAnchor(db);
        db.close();
      }
    },
  } as unknown as App; // components add their fields (module augmentation) during install below
  try {
    for (const c of COMPONENTS) await c.install(app);
    // After the market component: a replay clock starts once its data source is known.
    app.startedAt = clock.now();
  } catch (e) {
    await app.close();
    throw e;
  }
  return app;
}

export { SimClock };
