import { existsSync, readFileSync } from "node:fs";
import { homedir } from "node:os";
import { join, resolve } from "node:path";
import { z } from "zod";

/** Syntax of a venue id: `paper` or `<venue>:demo|testnet|mainnet` (src/exchange/venues.ts parses it). */
export const VENUE_ID_RE = /^(paper|[a-z0-9]+:(demo|testnet|mainnet))$/;
const VENUE_ID_HELP = "expected paper, hyperliquid:testnet or <ccxtId>:demo|testnet|mainnet";

/**
 * One zod schema for all settings (DESIGN.md §1, §8). Sources, lowest to highest precedence:
 * schema defaults → `tradewarden.config.json` (or `--config PATH`) → `TW_*` environment variables.
 * Config keys are camelCase (it is an operator file); tool arguments and `--json` outputs are
 * snake_case. Secrets (exchange keys) are never part of this object: see src/secrets.ts.
 */

const profile = z.enum(["readonly", "agent", "operator"]);

/**
 * Toolset names (`TW_TOOLSETS`); every tool belongs to one (src/tools, checked by checkCatalog).
 * An unknown name stops start-up (exit 2) with this list.
 */
export const TOOLSETS = [
  "system",
  "market",
  "knowledge",
  "memory",
  "research",
  "account",
  "orders",
  "approval",
  "portfolio",
  "control",
  "audit",
  "alerts",
] as const;

/**
 * A time setting: epoch ms UTC, or an ISO-8601 date with a zone (`2025-06-01T00:00:00Z`), parsed
 * to ms UTC. A date without a zone is refused: it would be read in the machine's local time.
 */
const timeSetting = z
  .union([
    z.number().int(),
    z.iso
      .datetime({ offset: true, error: "ms UTC or an ISO-8601 date with a zone, e.g. 2025-06-01T00:00:00Z" })
      .transform((s) => Date.parse(s)),
  ])
  .describe("ms UTC or ISO-8601 with zone");

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
    /**
     * Name of the stdio caller (`stdio:<name>`; default the profile). Two stdio clients on one home
     * — a desktop app and an IDE — give themselves different names to keep their intents, orders
     * and audit rows apart (per-caller isolation).
     */
    callerName: z
      .string()
      .regex(/^[a-z0-9][a-z0-9_.-]{0,63}$/, "lower-case letters, digits, _ . -")
      .optional(),
    logLevel: logLevel.default("info"),
    /** Toolsets to register (empty = all). Scopes still apply on top. */
    toolsets: z.array(z.enum(TOOLSETS, { error: `one of ${TOOLSETS.join(", ")}` })).default([]),
    http: z
      .object({
        host: z.string().min(1).default("127.0.0.1"),
        port: z.number().int().min(1).max(65535).default(8787),
        stateless: z.boolean().default(false),
        /** Allowed `Origin` header values (exact match). Requests without Origin are allowed. */
        allowedOrigins: z.array(z.string().min(1)).default([]),
        /** Allowed `Host` header host names; default: localhost names of the bound host. */
        allowedHosts: z.array(z.string().min(1)).default([]),
        /** Open MCP sessions one token may hold at once. */
        maxSessionsPerToken: z.number().int().positive().default(16),
        /** A session idle this long is closed (ms). */
        sessionIdleMs: z.number().int().positive().default(1_800_000),
        /** Largest request body accepted (bytes); larger → 413. */
        maxBodyBytes: z
          .number()
          .int()
          .positive()
          .default(4 * 1024 * 1024),
      })
      .strict()
      .default({
        host: "127.0.0.1",
        port: 8787,
        stateless: false,
        allowedOrigins: [],
        allowedHosts: [],
        maxSessionsPerToken: 16,
        sessionIdleMs: 1_800_000,
        maxBodyBytes: 4 * 1024 * 1024,
      }),
    /**
     * Operator console (docs/console.md): served at `/console` by `serve --http` and by `tradewarden
     * console`. `host`/`port` default to `http.host`/`http.port`, so both commands serve one URL;
     * `publicUrl` overrides the URL given out in approval links (e.g. behind a reverse proxy).
     */
    console: z
      .object({
        /** Bind address of `tradewarden console`; default: http.host. */
        host: z.string().min(1).optional(),
        /** Port of `tradewarden console`; default: http.port. */
        port: z.number().int().min(1).max(65535).optional(),
        /** Absolute base URL the console is reached at, e.g. `https://ops.example.com` (no path). */
        publicUrl: z
          .string()
          .url()
          .regex(/^https?:\/\/[^/?#]+\/?$/, "expected http(s)://host[:port] without a path")
          .optional(),
        /** Lifetime of a login session (ms); the cookie expires with it. */
        sessionTtlMs: z
          .number()
          .int()
          .min(60_000)
          .default(8 * 3_600_000),
        /** How often the live-update stream looks for changes in the database (ms). */
        pollMs: z.number().int().min(100).max(60_000).default(1_000),
      })
      .strict()
      .default({ sessionTtlMs: 8 * 3_600_000, pollMs: 1_000 }),
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
    /**
     * Replay start (ms UTC or ISO-8601) for `replay` sources in `serve`; default: the first bar all
     * symbols share + 7 days (or the latest start that still leaves a day of data), see
     * docs/market-data.md.
     */
    replayStart: timeSetting.optional(),
    /**
     * Replay speed in `serve`: replay milliseconds per wall millisecond (1 = real time, 60 = one 1m
     * bar per second). The replay clock moves with wall time whether or not the cycle runs.
     */
    replaySpeed: z.number().positive().max(1_000_000).default(1),
    venues: z
      .object({
        /** Venue used when a tool call names none. */
        default: z.string().regex(VENUE_ID_RE, VENUE_ID_HELP).default("paper"),
        /** Mainnet venues the operator explicitly allows, e.g. `{ "hyperliquid:mainnet": true }`. */
        allowMainnet: z
          .record(
            z
              .string()
              .regex(/^[a-z0-9]+:mainnet$/, "expected a mainnet venue id such as hyperliquid:mainnet"),
            z.boolean(),
          )
          .default({}),
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
      .object({
        /** Lifetime of an approval (ms). */
        ttlMs: z.number().int().positive().default(600_000),
        /**
         * Count a form elicitation answered through the requesting client as the human's approval.
         * Off: that client is the agent's own, so its answer proves nothing about a human.
         */
        trustFormElicitation: z.boolean().default(false),
        /** How long a submit waits for the operator after sending a URL elicitation (ms). */
        urlWaitMs: z.number().int().min(0).max(55_000).default(30_000),
        /** How long the server keeps watching for that decision, to send the completion (ms). */
        urlWatchMs: z.number().int().min(0).default(600_000),
      })
      .strict()
      .default({ ttlMs: 600_000, trustFormElicitation: false, urlWaitMs: 30_000, urlWatchMs: 600_000 }),
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
        /**
         * Who decides each cycle's target (docs/cycle.md "Who decides"; operator only, no tool):
         * `agent` = the latest portfolio_set_target within its TTL, else the baseline; `sampling` =
         * the model of a client connected to the lease holder, via MCP sampling/createMessage; `llm`
         * = an OpenAI-compatible chat-completions endpoint (cycle.llm, TW_LLM_API_KEY); `baseline`.
         */
        decision: z.enum(["agent", "sampling", "llm", "baseline"]).default("agent"),
        /** A model is asked every N cycles; its answer holds in between. */
        decisionEveryCycles: z.number().int().min(1).max(1440).default(1),
        /** `weights`: the model answers a TargetPortfolio; `risk_multiplier`: a regime and 0..1 × the baseline. */
        decisionMode: z.enum(["weights", "risk_multiplier"]).default("weights"),
        /** Wait for a model's answer (per attempt; the endpoint gets one retry), ms. */
        decisionTimeoutMs: z.number().int().min(100).max(600_000).default(10_000),
        /** MCP sampling requests: the client's model preferences and the answer's token budget. */
        sampling: z
          .object({
            modelPreferences: z
              .object({
                hints: z.array(z.object({ name: z.string().min(1) }).strict()).optional(),
                costPriority: z.number().min(0).max(1).optional(),
                speedPriority: z.number().min(0).max(1).optional(),
                intelligencePriority: z.number().min(0).max(1).optional(),
              })
              .strict()
              .optional(),
            maxTokens: z.number().int().min(64).max(100_000).default(1024),
          })
          .strict()
          .prefault({}),
        /** OpenAI-compatible endpoint: base URL (…/v1) and model id. The key: TW_LLM_API_KEY only. */
        llm: z
          .object({ url: z.string().url().optional(), model: z.string().min(1).optional() })
          .strict()
          .prefault({}),
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
        decision: "agent",
        decisionEveryCycles: 1,
        decisionMode: "weights",
        decisionTimeoutMs: 10_000,
        sampling: { maxTokens: 1024 },
        llm: {},
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
    /**
     * Research verdicts (docs/backtesting.md "The gate" and "Warnings"): the default out-of-sample gate
     * (null turns a criterion off; a positive out-of-sample return is always required) and the sample
     * sizes below which results carry a warning.
     */
    research: z
      .object({
        gate: z
          .object({
            minSharpe: z.number().min(-100).max(100).nullable().default(0),
            minDeflatedSharpe: z.number().min(0).max(1).nullable().default(0.95),
            minTrades: z.number().int().min(0).default(30),
            beatBuyAndHold: z.boolean().default(true),
          })
          .strict()
          .default({ minSharpe: 0, minDeflatedSharpe: 0.95, minTrades: 30, beatBuyAndHold: true }),
        warnMinBars: z.number().int().min(0).default(1000),
        warnMinTrades: z.number().int().min(0).default(30),
      })
      .strict()
      .default({
        gate: { minSharpe: 0, minDeflatedSharpe: 0.95, minTrades: 30, beatBuyAndHold: true },
        warnMinBars: 1000,
        warnMinTrades: 30,
      }),
    /**
     * Alerts and monitors (docs/alerts.md). Monitors run in the background of `serve`; channels get
     * every alert at or above their minimum severity. The webhook signing secret and the Telegram bot
     * token are secrets: environment (TW_ALERT_WEBHOOK_SECRET, TW_TELEGRAM_BOT_TOKEN) or the secrets
     * file only, never here.
     */
    alerts: z
      .object({
        enabled: z.boolean().default(true),
        /** Cadence of the condition monitors (stale data, venue, reconcile, cycle, approvals, ...). */
        monitorIntervalMs: z.number().int().min(100).default(15_000),
        /** Cadence of the event monitors (mode changes, divergences, lifecycle notices) and delivery. */
        eventPollMs: z.number().int().min(50).default(1_000),
        /** A raise of the same dedupe key within this time after a pushed one is stored but not pushed. */
        cooldownMs: z.number().int().min(0).default(600_000),
        /** approval_pending: an intent waiting for a decision longer than this. */
        approvalPendingMinutes: z.number().positive().default(5),
        /** rejection_rate: risk refusals (RISK_REJECTED) per rolling hour at or above this. */
        rejectionsPerHour: z.number().int().positive().default(10),
        /** venue_unavailable: consecutive EXCHANGE_UNAVAILABLE outcomes of one venue or data source. */
        venueFailures: z.number().int().positive().default(3),
        /** reconcile_lag: no successful reconcile for this many reconcile intervals. */
        reconcileLagIntervals: z.number().int().positive().default(3),
        /** Minimum severity of the TW_ALERT_WEBHOOK_URL hook and of Telegram. */
        minSeverity: z.enum(["info", "warning", "critical"]).default("info"),
        /** One webhook from the environment (TW_ALERT_WEBHOOK_URL), named `env`. */
        webhookUrl: z.string().url().optional(),
        /** More webhooks, each with its own minimum severity; `secretEnv` names its signing-secret variable. */
        webhooks: z
          .array(
            z
              .object({
                name: z.string().regex(/^[a-z0-9_-]{1,40}$/, "expected a short lower-case name"),
                url: z.string().url(),
                minSeverity: z.enum(["info", "warning", "critical"]).default("info"),
                secretEnv: z
                  .string()
                  .regex(/^[A-Z][A-Z0-9_]*$/)
                  .optional(),
              })
              .strict(),
          )
          .default([]),
        telegram: z
          .object({
            chatId: z.string().min(1).optional(),
            apiUrl: z.string().url().default("https://api.telegram.org"),
            minSeverity: z.enum(["info", "warning", "critical"]).optional(),
          })
          .strict()
          .prefault({}),
        /** Order-lifecycle notices (severity info). */
        lifecycle: z
          .object({
            fills: z.boolean().default(false),
            cancels: z.boolean().default(false),
            refusals: z.boolean().default(false),
            approvals: z.boolean().default(true),
          })
          .strict()
          .prefault({}),
        delivery: z
          .object({
            /** Attempts per alert and channel before it is given up (recorded as abandoned). */
            maxAttempts: z.number().int().min(1).max(50).default(12),
            baseDelayMs: z.number().int().min(10).default(1_000),
            maxDelayMs: z.number().int().min(10).default(60_000),
            timeoutMs: z.number().int().min(100).default(10_000),
            /** Consecutive failed attempts after which a channel raises `channel_failing`. */
            failingAfter: z.number().int().min(1).default(3),
          })
          .strict()
          .prefault({}),
      })
      .strict()
      .prefault({}),
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
  ["TW_CALLER_NAME", "callerName", "string"],
  ["TW_LOG_LEVEL", "logLevel", "string"],
  ["TW_TOOLSETS", "toolsets", "list"],
  ["TW_HTTP_HOST", "http.host", "string"],
  ["TW_HTTP_PORT", "http.port", "int"],
  ["TW_HTTP_STATELESS", "http.stateless", "bool"],
  ["TW_ALLOWED_ORIGINS", "http.allowedOrigins", "list"],
  ["TW_ALLOWED_HOSTS", "http.allowedHosts", "list"],
  ["TW_CONSOLE_HOST", "console.host", "string"],
  ["TW_CONSOLE_PORT", "console.port", "int"],
  ["TW_CONSOLE_PUBLIC_URL", "console.publicUrl", "string"],
  ["TW_CONSOLE_SESSION_TTL_MS", "console.sessionTtlMs", "int"],
  ["TW_MARKET_DATA", "marketData", "string"],
  ["TW_UNIVERSE", "universe", "list"],
  ["TW_HL_API_URL", "hyperliquid.apiUrl", "string"],
  ["TW_HL_TESTNET", "hyperliquid.testnet", "bool"],
  ["TW_STALE_AFTER_MS", "staleAfterMs", "int"],
  ["TW_REPLAY_START", "replayStart", "int"],
  ["TW_REPLAY_SPEED", "replaySpeed", "number"],
  ["TW_DEFAULT_VENUE", "venues.default", "string"],
  ["TW_CYCLE_ENABLED", "cycle.enabled", "bool"],
  ["TW_CYCLE_SECONDS", "cycle.seconds", "int"],
  ["TW_CYCLE_VENUE", "cycle.venue", "string"],
  ["TW_CYCLE_DECISION", "cycle.decision", "string"],
  ["TW_CYCLE_DECISION_MODE", "cycle.decisionMode", "string"],
  ["TW_LLM_URL", "cycle.llm.url", "string"],
  ["TW_LLM_MODEL", "cycle.llm.model", "string"],
  ["TW_KNOWLEDGE_DIR", "knowledge.dir", "string"],
  ["TW_EMBEDDINGS_URL", "knowledge.embeddings.url", "string"],
  ["TW_EMBEDDINGS_MODEL", "knowledge.embeddings.model", "string"],
  ["TW_SECRETS_FILE", "secretsFile", "string"],
  ["TW_ALERTS_ENABLED", "alerts.enabled", "bool"],
  ["TW_ALERT_WEBHOOK_URL", "alerts.webhookUrl", "string"],
  ["TW_ALERT_MIN_SEVERITY", "alerts.minSeverity", "string"],
  ["TW_TELEGRAM_CHAT_ID", "alerts.telegram.chatId", "string"],
  ["TW_TELEGRAM_API_URL", "alerts.telegram.apiUrl", "string"],
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
      // An element of a list (`toolsets.1`) comes from where the list came from (`toolsets`).
      const owner = issue.path
        .map((_, i) =>
          issue.path
            .slice(0, issue.path.length - i)
            .map(String)
            .join("."),
        )
        .find((p) => sources.has(p));
      const src = (owner && sources.get(owner)) ?? (existsSync(filePath) ? filePath : "defaults");
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
