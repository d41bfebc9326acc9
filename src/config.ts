import { existsSync, readFileSync } from "node:fs";
import { homedir } from "node:os";
import { join, resolve } from "node:path";
import { z } from "zod";

/**
 * One zod schema for all settings (DESIGN.md §1, §8). Sources, lowest to highest precedence:
 * schema defaults → `tradewarden.config.json` (or `--config PATH`) → `TW_*` environment variables.
 * Config keys are camelCase (it is an operator file); tool arguments and `--json` outputs are
 * snake_case. Secrets (exchange keys) are never part of this object: see src/secrets.ts.
 */

const profile = z.enum(["readonly", "agent", "operator"]);

const fraction = z.number().min(0).max(1);

/** Defaults of the cycle's portfolio limits (DESIGN.md §5, issue 13). Fractions of equity. */
export const PORTFOLIO_LIMIT_DEFAULTS = {
  maxGross: 0.4,
  maxNet: 0.2,
  caps: { BTC: 0.15, ETH: 0.15 } as Record<string, number>,
  defaultCap: 0.1,
  turnoverCap: 0.1,
  dailyTurnoverCap: 1,
  ewmaAlpha: 0.5,
  lowConfidenceThreshold: 0.5,
  lowConfidenceScale: 0.5,
  headroom: 0.05,
  drawdownReduceOnly: 0.02,
  drawdownHalt: 0.03,
  dailyLossFraction: 0.02,
  dailyLossQuote: null as number | null,
};

/** `cycle.limits`: the portfolio limits of the minute cycle (operator file). */
export const PortfolioLimitsConfig = z
  .object({
    /** Σ|w| of the book. */
    maxGross: fraction.default(PORTFOLIO_LIMIT_DEFAULTS.maxGross),
    /** |Σw| of the book. */
    maxNet: fraction.default(PORTFOLIO_LIMIT_DEFAULTS.maxNet),
    /** Per-coin caps on |w|; symbols not listed use defaultCap. */
    caps: z.record(z.string().regex(/^[A-Z0-9]{1,20}$/), fraction).default(PORTFOLIO_LIMIT_DEFAULTS.caps),
    defaultCap: fraction.default(PORTFOLIO_LIMIT_DEFAULTS.defaultCap),
    /** Σ|Δw| the cycle may trade per cycle. */
    turnoverCap: fraction.default(PORTFOLIO_LIMIT_DEFAULTS.turnoverCap),
    /**
     * Notional the cycle paces itself to per rolling 24 h, as a multiple of equity (1 = trade at most
     * the equity once a day), within `risk.maxDailyNotional`.
     */
    dailyTurnoverCap: z.number().positive().default(PORTFOLIO_LIMIT_DEFAULTS.dailyTurnoverCap),
    /** Weight of the new target in the EWMA smoothing (0 < α ≤ 1). */
    ewmaAlpha: z.number().positive().max(1).default(PORTFOLIO_LIMIT_DEFAULTS.ewmaAlpha),
    /** Targets with confidence below this are scaled by lowConfidenceScale. */
    lowConfidenceThreshold: fraction.default(PORTFOLIO_LIMIT_DEFAULTS.lowConfidenceThreshold),
    lowConfidenceScale: fraction.default(PORTFOLIO_LIMIT_DEFAULTS.lowConfidenceScale),
    /** Share of each limit the cycle keeps free for price drift between cycles (0.05 = aim at 95 %). */
    headroom: z.number().min(0).max(0.5).default(PORTFOLIO_LIMIT_DEFAULTS.headroom),
    /** Drawdown from the equity peak that switches to REDUCE_ONLY. */
    drawdownReduceOnly: z.number().positive().default(PORTFOLIO_LIMIT_DEFAULTS.drawdownReduceOnly),
    /** Drawdown from the equity peak that switches to HALT. */
    drawdownHalt: z.number().positive().default(PORTFOLIO_LIMIT_DEFAULTS.drawdownHalt),
    /** Daily-loss limit as a fraction of the UTC day's starting equity (→ REDUCE_ONLY for the day). */
    dailyLossFraction: z.number().positive().default(PORTFOLIO_LIMIT_DEFAULTS.dailyLossFraction),
    /** Daily-loss limit in quote currency; when set it replaces dailyLossFraction. */
    dailyLossQuote: z.number().positive().nullable().default(null),
  })
  .strict();
const logLevel = z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]);

export const ConfigSchema = z
  .object({
    /** Data directory; holds tradewarden.db. */
    home: z.string().min(1),
    /** Profile of the stdio caller (HTTP callers get theirs from their bearer token). */
    profile: profile.default("agent"),
    logLevel: logLevel.default("info"),
    /** Toolsets to register (empty = all). Scopes still apply on top. */
    toolsets: z.array(z.string().min(1)).default([]),
    http: z
      .object({
        host: z.string().min(1).default("127.0.0.1"),
        port: z.number().int().min(1).max(65535).default(8787),
        stateless: z.boolean().default(false),
        /** Allowed `Origin` header values (exact match). Requests without Origin are allowed. */
        allowedOrigins: z.array(z.string().min(1)).default([]),
        /** Allowed `Host` header host names; default: localhost names of the bound host. */
        allowedHosts: z.array(z.string().min(1)).default([]),
      })
      .strict()
      .default({ host: "127.0.0.1", port: 8787, stateless: false, allowedOrigins: [], allowedHosts: [] }),
    /**
     * Market-data source: `hyperliquid` | `ccxt:<exchangeId>` | `replay:<dir>` | `replay` (the embedded
     * 30 days with funding, data/).
     */
    marketData: z
      .string()
      .regex(
        /^(hyperliquid|ccxt:[a-z0-9]+|replay|replay:.+)$/,
        "expected hyperliquid | ccxt:<id> | replay | replay:<dir>",
      )
      .default("hyperliquid"),
    /** Canonical symbols (base coins) the server trades and summarises. */
    universe: z
      .array(z.string().regex(/^[A-Z0-9]{1,20}$/, "expected an upper-case base coin such as BTC"))
      .min(1)
      .default(["BTC", "ETH", "SOL", "ADA", "DOGE"]),
    hyperliquid: z
      .object({
        /** Override of the API base URL (tests point it at 127.0.0.1). */
        apiUrl: z.string().url().optional(),
        /** Use testnet endpoints for market data. */
        testnet: z.boolean().default(false),
      })
      .strict()
      .default({ testnet: false }),
    /** Market data older than this is flagged `stale: true`; trading on it is refused. */
    staleAfterMs: z.number().int().positive().default(120_000),
    /** Replay start time (ms UTC) for `replay:` sources in serve mode; default: the data's first bar + 1h. */
    replayStart: z.number().int().optional(),
    venues: z
      .object({
        /** Venue used when a tool call names none. */
        default: z.string().default("paper"),
        /** Mainnet venues the operator explicitly allows, e.g. `{ "hyperliquid:mainnet": true }`. */
        allowMainnet: z.record(z.string(), z.boolean()).default({}),
      })
      .strict()
      .default({ default: "paper", allowMainnet: {} }),
    paper: z
      .object({
        startingEquity: z.number().positive().default(100_000),
        slippageBps: z.number().min(0).default(1),
        takerFeeBps: z.number().min(0).default(4.5),
        makerFeeBps: z.number().min(0).default(1.5),
        /** Paper intents with notional (quote) at or below this are auto-approved. */
        autoApproveNotional: z.number().min(0).default(25_000),
        /** Largest share of a 1m bar's volume the paper account fills per symbol (fraction). */
        maxParticipation: z.number().positive().max(1).default(0.1),
        /** Maintenance margin, fraction of gross notional; below it the paper account is liquidated. */
        maintenanceMargin: z.number().min(0).max(1).default(0.005),
      })
      .strict()
      .default({
        startingEquity: 100_000,
        slippageBps: 1,
        takerFeeBps: 4.5,
        makerFeeBps: 1.5,
        autoApproveNotional: 25_000,
        maxParticipation: 0.1,
        maintenanceMargin: 0.005,
      }),
    risk: z
      .object({
        minNotional: z.number().min(0).default(10),
        maxOrderNotional: z.number().positive().default(50_000),
        maxDailyNotional: z.number().positive().default(500_000),
        maxLeverage: z.number().positive().default(3),
        priceBandFraction: z.number().positive().default(0.05),
        maxOpenOrders: z.number().int().positive().default(50),
        /** Symbol allow-list; empty = the universe. */
        allowedSymbols: z.array(z.string()).default([]),
      })
      .strict()
      .default({
        minNotional: 10,
        maxOrderNotional: 50_000,
        maxDailyNotional: 500_000,
        maxLeverage: 3,
        priceBandFraction: 0.05,
        maxOpenOrders: 50,
        allowedSymbols: [],
      }),
    approval: z
      .object({ ttlMs: z.number().int().positive().default(600_000) })
      .strict()
      .default({ ttlMs: 600_000 }),
    rateLimit: z
      .object({
        /** Per-caller tool-call budget per minute. */
        toolCallsPerMinute: z.number().int().positive().default(600),
        /** Longest a venue call waits for exchange weight before `RATE_LIMITED`. */
        maxWaitMs: z.number().int().min(0).default(2_000),
      })
      .strict()
      .default({ toolCallsPerMinute: 600, maxWaitMs: 2_000 }),
    cycle: z
      .object({
        enabled: z.boolean().default(false),
        seconds: z.number().int().positive().default(60),
        /** Venue the cycle trades on; non-paper venues only by operator config. */
        venue: z.string().default("paper"),
        targetTtlCycles: z.number().int().positive().default(5),
        twapSlices: z.number().int().positive().default(3),
        twapIntervalSeconds: z.number().int().positive().default(20),
        priceGuardBps: z.number().positive().default(50),
        /** Rebalance band: weight changes smaller than this (fraction of equity) are not traded. */
        minTradeWeight: z.number().min(0).default(0.01),
        /** TWAP slices: `gtc` rest at the guard price (timeout → cancel → one replace) or `ioc`. */
        sliceOrderType: z.enum(["gtc", "ioc"]).default("gtc"),
        /** How long a GTC slice rests before it is canceled (and replaced once closer to mid). */
        sliceTimeoutSeconds: z.number().positive().default(20),
        /** Token bucket of the cycle's order placements per minute; an empty bucket skips the slice. */
        maxOrdersPerMinute: z.number().int().positive().default(60),
        /** Token bucket of the cycle's cancels per minute. */
        maxCancelsPerMinute: z.number().int().positive().default(60),
        /**
         * Pacing of the rolling-24h notional budget: the cycle may bank at most this many minutes of
         * `max_daily_notional / 24 h` (a token bucket refilled at that rate).
         */
        budgetPaceMinutes: z.number().positive().default(60),
        /** Portfolio limits (operator overrides with risk_set_limits); see docs/risk.md. */
        limits: PortfolioLimitsConfig.default(PORTFOLIO_LIMIT_DEFAULTS),
      })
      .strict()
      .default({
        enabled: false,
        seconds: 60,
        venue: "paper",
        targetTtlCycles: 5,
        twapSlices: 3,
        twapIntervalSeconds: 20,
        priceGuardBps: 50,
        minTradeWeight: 0.01,
        sliceOrderType: "gtc",
        sliceTimeoutSeconds: 20,
        maxOrdersPerMinute: 60,
        maxCancelsPerMinute: 60,
        budgetPaceMinutes: 60,
        limits: PORTFOLIO_LIMIT_DEFAULTS,
      }),
    /** Position-guard loop for venues that do not evaluate guards natively (live venues). */
    guard: z
      .object({ intervalMs: z.number().int().positive().default(5_000) })
      .strict()
      .default({ intervalMs: 5_000 }),
    reconcile: z
      .object({
        intervalMs: z.number().int().positive().default(10_000),
        maxFailures: z.number().int().positive().default(3),
      })
      .strict()
      .default({ intervalMs: 10_000, maxFailures: 3 }),
    knowledge: z
      .object({
        /** Directory of markdown/text files for rag_search; default: the shipped docs/knowledge. */
        dir: z.string().optional(),
        /** Optional OpenAI-compatible embeddings endpoint for hybrid search (key: TW_EMBEDDINGS_API_KEY env only). */
        embeddings: z
          .object({ url: z.string().url(), model: z.string().min(1) })
          .strict()
          .optional(),
      })
      .strict()
      .default({}),
    /** Optional file holding exchange secrets (JSON); see src/secrets.ts. */
    secretsFile: z.string().optional(),
  })
  .strict();

/** The validated configuration. */
export type Config = z.infer<typeof ConfigSchema>;

/** How an environment variable is parsed before validation. */
type EnvKind = "string" | "int" | "number" | "bool" | "list";

/** `TW_*` variable → config path. Documented in README "Configuration". */
export const ENV_MAP: ReadonlyArray<[string, string, EnvKind]> = [
  ["TW_HOME", "home", "string"],
  ["TW_PROFILE", "profile", "string"],
  ["TW_LOG_LEVEL", "logLevel", "string"],
  ["TW_TOOLSETS", "toolsets", "list"],
  ["TW_HTTP_HOST", "http.host", "string"],
  ["TW_HTTP_PORT", "http.port", "int"],
  ["TW_HTTP_STATELESS", "http.stateless", "bool"],
  ["TW_ALLOWED_ORIGINS", "http.allowedOrigins", "list"],
  ["TW_ALLOWED_HOSTS", "http.allowedHosts", "list"],
  ["TW_MARKET_DATA", "marketData", "string"],
  ["TW_UNIVERSE", "universe", "list"],
  ["TW_HL_API_URL", "hyperliquid.apiUrl", "string"],
  ["TW_HL_TESTNET", "hyperliquid.testnet", "bool"],
  ["TW_STALE_AFTER_MS", "staleAfterMs", "int"],
  ["TW_REPLAY_START", "replayStart", "int"],
  ["TW_DEFAULT_VENUE", "venues.default", "string"],
  ["TW_CYCLE_ENABLED", "cycle.enabled", "bool"],
  ["TW_CYCLE_SECONDS", "cycle.seconds", "int"],
  ["TW_CYCLE_VENUE", "cycle.venue", "string"],
  ["TW_KNOWLEDGE_DIR", "knowledge.dir", "string"],
  ["TW_EMBEDDINGS_URL", "knowledge.embeddings.url", "string"],
  ["TW_EMBEDDINGS_MODEL", "knowledge.embeddings.model", "string"],
  ["TW_SECRETS_FILE", "secretsFile", "string"],
];

/** One problem found while loading config: where, what was expected, what was found. */
export interface ConfigProblem {
  path: string;
  source: string;
  expected: string;
  got: string;
}

/** Thrown by {@link loadConfig} with every problem found; the CLI prints them and exits 2. */
export class ConfigError extends Error {
  readonly problems: ConfigProblem[];
  constructor(problems: ConfigProblem[]) {
    super(
      `invalid configuration (${problems.length} problem${problems.length === 1 ? "" : "s"}):\n` +
        problems
          .map((p) => `  - ${p.path} (from ${p.source}): expected ${p.expected}, got ${p.got}`)
          .join("\n"),
    );
    this.name = "ConfigError";
    this.problems = problems;
  }
}

function parseEnv(raw: string, kind: EnvKind): unknown {
  switch (kind) {
    case "string":
      return raw;
    case "int":
    case "number": {
      const n = Number(raw);
      // Keep the raw string when it is not a number so zod reports "expected number, got string".
      return raw.trim() !== "" && Number.isFinite(n) ? n : raw;
    }
    case "bool":
      if (/^(1|true|yes|on)$/i.test(raw)) return true;
      if (/^(0|false|no|off)$/i.test(raw)) return false;
      return raw;
    case "list":
      return raw
        .split(",")
        .map((s) => s.trim())
        .filter((s) => s !== "");
  }
}

function setPath(obj: Record<string, unknown>, path: string, value: unknown): void {
  const keys = path.split(".");
  let cur = obj;
  for (const k of keys.slice(0, -1)) {
    if (typeof cur[k] !== "object" || cur[k] === null || Array.isArray(cur[k])) cur[k] = {};
    cur = cur[k] as Record<string, unknown>;
  }
  cur[keys[keys.length - 1]] = value;
}

function describeValue(v: unknown): string {
  if (v === undefined) return "nothing";
  const s = JSON.stringify(v);
  return s.length > 80 ? `${s.slice(0, 77)}...` : s;
}

function getPath(obj: unknown, path: PropertyKey[]): unknown {
  let cur: unknown = obj;
  for (const k of path) {
    if (cur === null || typeof cur !== "object") return undefined;
    cur = (cur as Record<PropertyKey, unknown>)[k];
  }
  return cur;
}

/** Options of {@link loadConfig}. */
export interface LoadConfigOptions {
  /** Explicit config file (`--config`); an explicit file that does not exist is an error. */
  configPath?: string;
  /** Environment (default `process.env`). */
  env?: NodeJS.ProcessEnv;
  /** Directory searched for `tradewarden.config.json` when no path is given (default cwd). */
  cwd?: string;
  /** Extra overrides applied last (CLI flags), as config paths → values. */
  overrides?: Record<string, unknown>;
}

/**
 * Loads and validates the configuration. Pure: reads files and env, writes nothing.
 * @throws ConfigError listing every problem (path, source, expected, got).
 */
export function loadConfig(opts: LoadConfigOptions = {}): Config {
  const env = opts.env ?? process.env;
  const cwd = opts.cwd ?? process.cwd();
  const problems: ConfigProblem[] = [];
  const sources = new Map<string, string>();
  let raw: Record<string, unknown> = {};

  const filePath = opts.configPath ?? join(cwd, "tradewarden.config.json");
  if (existsSync(filePath)) {
    try {
      const parsed: unknown = JSON.parse(readFileSync(filePath, "utf8"));
      if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) {
        problems.push({
          path: "(root)",
          source: filePath,
          expected: "a JSON object",
          got: describeValue(parsed),
        });
      } else raw = parsed as Record<string, unknown>;
    } catch (e) {
      problems.push({ path: "(file)", source: filePath, expected: "valid JSON", got: (e as Error).message });
    }
  } else if (opts.configPath !== undefined) {
    problems.push({ path: "(file)", source: "--config", expected: "an existing file", got: filePath });
  }

  for (const [name, path, kind] of ENV_MAP) {
    const v = env[name];
    if (v === undefined || v === "") continue;
    setPath(raw, path, parseEnv(v, kind));
    sources.set(path, name);
  }
  for (const [path, value] of Object.entries(opts.overrides ?? {})) {
    if (value === undefined) continue;
    setPath(raw, path, value);
    sources.set(path, "command line");
  }
  if (raw.home === undefined) raw.home = join(homedir(), ".tradewarden");

  const result = ConfigSchema.safeParse(raw);
  if (!result.success) {
    for (const issue of result.error.issues) {
      const path = issue.path.map(String).join(".") || "(root)";
      const src = sources.get(path) ?? (existsSync(filePath) ? filePath : "defaults");
      let expected = issue.message;
      const m = /expected (.+?), received (.+)$/i.exec(issue.message);
      if (m) expected = m[1];
      if (issue.code === "unrecognized_keys") {
        expected = `no unknown keys (${issue.keys.join(", ")})`;
      }
      problems.push({ path, source: src, expected, got: describeValue(getPath(raw, issue.path)) });
    }
  }
  if (problems.length > 0) throw new ConfigError(problems);
  const cfg = result.data as Config;
  cfg.home = resolve(cfg.home);
  return cfg;
}

/** Path of the SQLite database for a config: `$TW_HOME/tradewarden.db`. */
export function dbPath(cfg: Config): string {
  return join(cfg.home, "tradewarden.db");
}
