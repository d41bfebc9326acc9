import { z } from "zod";
import { ERROR_CODES } from "../errors.js";
import { PROFILES } from "../policy/scopes.js";

/**
 * The scenario file format (YAML, validated here). A scenario proves one guarantee through a real
 * MCP client: setup (profile, config, market data, simulated clock, control mode), steps (tool calls
 * with expectations, clock advances, concurrent groups) and final assertions (audit log, database
 * rows such as what the paper venue received, requests the local Hyperliquid stub received, and the
 * secrets scan). Field names are snake_case like every tool argument. See docs/evals.md.
 */

const profile = z.enum(PROFILES);
/**
 * Who makes a call: a profile (`agent`), or a profile with a name (`agent:bob`) for a second caller
 * of the same profile with its own identity (its own token over HTTP, TW_CALLER_NAME over stdio).
 */
const actor = z.string().regex(/^(readonly|agent|operator)(:[a-z0-9_-]{1,32})?$/, "profile or profile:name");
export const TRANSPORTS = ["memory", "stdio", "http"] as const;
/** How the harness reaches the server. */
export type TransportName = (typeof TRANSPORTS)[number];

/**
 * `ok` (the default), an error code the call must fail with (or a list: any of them), or `any` (no check on the outcome:
 * concurrent duplicates may each be answered with the stored result or a refusal; the final
 * assertions decide).
 */
const expectation = z.union([
  z.literal("ok"),
  z.literal("any"),
  z.object({ code: z.union([z.enum(ERROR_CODES), z.array(z.enum(ERROR_CODES)).min(1)]) }).strict(),
]);

/**
 * One JSONPath assertion on structuredContent (jsonpath-plus syntax, e.g. `$.results[0].path`).
 * Scalar checks (`equals`, bounds, `contains`) apply to the first match; `count` to the number of
 * matches. Numbers compare within `tolerance` (absolute) or `rel_tolerance` (fraction of |expected|).
 */
export const JsonPathAssertSchema = z
  .object({
    path: z.string().min(1),
    equals: z.unknown().optional(),
    tolerance: z.number().nonnegative().optional(),
    rel_tolerance: z.number().nonnegative().optional(),
    gt: z.number().optional(),
    gte: z.number().optional(),
    lt: z.number().optional(),
    lte: z.number().optional(),
    exists: z.boolean().optional(),
    count: z.number().int().nonnegative().optional(),
    /** String: substring; array: one element deep-equals it. */
    contains: z.unknown().optional(),
  })
  .strict();
export type JsonPathAssert = z.infer<typeof JsonPathAssertSchema>;

/** How the simulated human answers an elicitation request during this step. */
const elicitAnswer = z
  .object({
    action: z.enum(["accept", "decline", "cancel"]),
    content: z.record(z.string(), z.unknown()).optional(),
  })
  .strict();

/** A tool call. `args` strings may reference `${var}` (saved values, `now`, `env.NAME`). */
export const CallStepSchema = z
  .object({
    /** Label in reports (default `call <tool>`). */
    id: z.string().max(80).optional(),
    call: z.string().min(1).max(64),
    args: z.record(z.string(), z.unknown()).default({}),
    /** Caller for this step: a profile or `profile:name` (default: setup.profile). */
    as: actor.optional(),
    expect: expectation.default("ok"),
    /** JSON subset that structuredContent must contain (objects by key, arrays by position). */
    match: z.record(z.string(), z.unknown()).optional(),
    jsonpath: z.array(JsonPathAssertSchema).default([]),
    /** Saves values for later steps: variable name → JSONPath into structuredContent. */
    save: z.record(z.string().regex(/^[a-z_][a-z0-9_]*$/i), z.string().min(1)).default({}),
    /** Answer given when the server elicits during this step (the client declares the capability). */
    elicit: elicitAnswer.optional(),
    /** When set, whether the server must (true) or must not (false) have elicited during this step. */
    elicited: z.boolean().optional(),
    /** Runs the same call N times in sequence; every run must meet the expectations. */
    repeat: z.number().int().min(1).max(2000).default(1),
  })
  .strict();
export type CallStep = z.infer<typeof CallStepSchema>;

/** Moves the simulated clock forward (memory transport only). */
const clockStep = z.object({ advance_clock_ms: z.number().int().positive() }).strict();
/** Calls started together (Promise.all), e.g. two submits racing with the same key. */
const concurrentStep = z.object({ concurrent: z.array(CallStepSchema).min(2).max(50) }).strict();

/** Checks which tools a profile sees in tools/list. */
const listToolsStep = z
  .object({
    list_tools: z
      .object({
        as: actor.optional(),
        includes: z.array(z.string()).default([]),
        excludes: z.array(z.string()).default([]),
      })
      .strict(),
  })
  .strict();
/**
 * Runs `node dist/cli.js --config <scenario config> ARGS` on the scenario's TW_HOME (e.g. `replay
 * --json`), then checks the exit code and, when stdout is JSON, `match` / `jsonpath` on it.
 */
const cliStep = z
  .object({
    cli: z.array(z.string()).min(1),
    exit_code: z.number().int().default(0),
    match: z.record(z.string(), z.unknown()).optional(),
    jsonpath: z.array(JsonPathAssertSchema).default([]),
    save: z.record(z.string().regex(/^[a-z_][a-z0-9_]*$/i), z.string().min(1)).default({}),
    timeout_ms: z.number().int().positive().max(600_000).default(120_000),
  })
  .strict();
export type CliStep = z.infer<typeof cliStep>;

export const StepSchema = z.union([CallStepSchema, clockStep, concurrentStep, listToolsStep, cliStep]);
export type Step = z.infer<typeof StepSchema>;

const time = z.union([z.number().int().nonnegative(), z.iso.datetime({ offset: true })]);

export const SetupSchema = z
  .object({
    /** Default caller profile of the steps. */
    profile: profile.default("agent"),
    /**
     * Environment-style settings: `TW_*` variables (see src/config.ts ENV_MAP) and secrets such as
     * `HL_PRIVATE_KEY`. Values of secret-looking names are scanned for in every result and audit row.
     */
    env: z.record(z.string().regex(/^[A-Z][A-Z0-9_]*$/), z.string()).default({}),
    /** Config file overrides for settings without a `TW_*` variable: dot path → value (`risk.maxOrderNotional`). */
    config: z.record(z.string().regex(/^[a-zA-Z][a-zA-Z0-9.]*$/), z.unknown()).default({}),
    /**
     * Market data: `replay:<dir>` (relative dirs resolve under the data/ folder), `hyperliquid`
     * (served by the local stub). Default: replay of the 30-day 1m folder.
     */
    market_data: z.string().optional(),
    /** Simulated clock start (ms UTC or ISO-8601). Default 2025-06-01T00:00:00Z (inside the 30 days). */
    clock_start: time.default("2025-06-01T00:00:00Z"),
    control: z.enum(["NORMAL", "REDUCE_ONLY", "HALT"]).default("NORMAL"),
    /**
     * The client declares elicitation: `true`/`form` (form mode), `url` (URL mode), `both`. A URL
     * request is answered like a form: with the step's scripted answer.
     */
    elicitation: z.union([z.boolean(), z.enum(["form", "url", "both"])]).default(false),
    /**
     * Start a local 127.0.0.1 Hyperliquid stub (recorded responses) and point TW_HL_API_URL at it:
     * `true`/`ok` answers /exchange with recorded replies, `error` with HTTP 500 (an ambiguous
     * outcome: the request arrived), `hang` never answers, `reject` refuses every order.
     */
    hyperliquid_stub: z.union([z.boolean(), z.enum(["ok", "error", "hang", "reject"])]).default(false),
    /** Transports on which the scenario is meaningful (default all). */
    transports: z
      .array(z.enum(TRANSPORTS))
      .min(1)
      .default([...TRANSPORTS]),
  })
  .strict();
export type Setup = z.infer<typeof SetupSchema>;

/** Count of audit rows matching every given field. `caller_profile` matches caller ids ending `:<profile>`. */
const auditAssert = z
  .object({
    tool: z.string().optional(),
    decision: z.enum(["allowed", "refused", "error"]).optional(),
    code: z.string().nullable().optional(),
    caller_profile: profile.optional(),
    count: z.number().int().nonnegative().optional(),
    min: z.number().int().nonnegative().optional(),
  })
  .strict();

/** Count of rows in a table (e.g. `paper_orders`: what the paper venue received). */
const dbAssert = z
  .object({
    table: z.string().regex(/^[a-z_][a-z0-9_]*$/),
    where: z
      .record(z.string().regex(/^[a-z_][a-z0-9_]*$/), z.union([z.string(), z.number(), z.null()]))
      .default({}),
    count: z.number().int().nonnegative(),
  })
  .strict();

/** Requests the Hyperliquid stub received on a path (`/exchange` = signed actions: orders, cancels). */
const venueRequestsAssert = z
  .object({
    path: z.string().default("/exchange"),
    /** Filter on the signed action's `type` (`order`, `cancel`, ...). */
    action_type: z.string().optional(),
    count: z.number().int().nonnegative(),
  })
  .strict();

export const FinalSchema = z
  .object({
    audit: z.array(auditAssert).default([]),
    /** The audit hash chain verifies (default true). */
    audit_chain_ok: z.boolean().default(true),
    db: z.array(dbAssert).default([]),
    venue_requests: z.array(venueRequestsAssert).default([]),
  })
  .strict();
export type Final = z.infer<typeof FinalSchema>;

export const ScenarioSchema = z
  .object({
    name: z.string().regex(/^[a-z0-9][a-z0-9_-]{0,79}$/, "lower-case letters, digits, _ and -"),
    /** The guarantee this scenario proves, in one sentence. */
    guarantee: z.string().min(10),
    description: z.string().optional(),
    setup: SetupSchema.default(SetupSchema.parse({})),
    steps: z.array(StepSchema).min(1),
    final: FinalSchema.default(FinalSchema.parse({})),
  })
  .strict();
/** A validated scenario. */
export type Scenario = z.infer<typeof ScenarioSchema>;
