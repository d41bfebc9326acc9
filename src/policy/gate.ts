import type { z } from "zod";
import type { Clock } from "../clock.js";
import { TwError, toTwError, type ErrorPayload } from "../errors.js";
import type { Logger } from "../log.js";
import { type AuditEntry, appendAudit, queueAudit } from "../store/audit.js";
import type { Db } from "../store/db.js";
import { redact } from "./redact.js";
import type { ExecutionLanes, LaneHold } from "./lane.js";
import type { Caller, Scope } from "./scopes.js";

/**
 * The single door (DESIGN.md §3, §10). Every tool call — and every order the minute cycle sends — runs
 * through {@link Gate.run}, in this order:
 *
 *   1. scope              FORBIDDEN_SCOPE
 *   2. arguments          INVALID_INPUT: not a JSON object, a `__proto__`/`constructor`/`prototype`
 *                         key anywhere, or anything the strict schema refuses
 *   3..8. policy steps    registered with {@link Gate.use}, run by ascending `order`:
 *         40 rate limits (RATE_LIMITED) · 50 idempotency (IDEMPOTENCY_CONFLICT, or the stored
 *         result) · 55 control mode (HALTED, REDUCE_ONLY) · 60 venue guard (MAINNET_BLOCKED) ·
 *         70 risk (RISK_REJECTED) · 80 approval (APPROVAL_REQUIRED)
 *   9. execute, then audit (always: allowed, refused or error).
 *
 * Order-affecting calls name their venue account in `facts.lane`. For them the gate takes that
 * account's execution lane (src/policy/lane.ts) before the first step marked `lane` and holds it
 * through execute, so idempotency, control mode, risk and approval are decided on the state the
 * order is reserved and sent against: no two calls see the same headroom, and a halt issued while an
 * order waited stops it. Idempotency runs before control so that a retry of an order that was
 * already sent reports that order, never a refusal that would read as "not sent".
 *
 * Operations are plain objects (tools satisfy the shape), so the gate knows nothing of MCP.
 */

/** Facts a policy step needs about a call, derived from its validated arguments. */
export interface PolicyFacts {
  /** The call can change venue state (orders, cancels, control, memory). */
  mutating?: boolean;
  /** Effect on exposure: control mode refuses `increase` in REDUCE_ONLY and HALT. */
  exposure?: "increase" | "reduce" | "none";
  /** Venue id the call acts on (`paper`, `hyperliquid:testnet`, ...). */
  venue?: string;
  /** Idempotency key (client_order_id or idempotency_key), scoped by operation name and caller. */
  idempotencyKey?: string;
  /** Venue account whose execution lane the call must hold (order-affecting calls only). */
  lane?: string;
  /** Keys recorded on the audit row when the call has no idempotency key (e.g. control calls). */
  auditKeys?: string[];
  /** Anything else a step needs (symbol, notional, intent id...). */
  [k: string]: unknown;
}

/** What the gate needs of an operation. `ToolDef` (src/tools/registry.ts) satisfies it. */
export interface GatedOperation<I = unknown, O = unknown> {
  name: string;
  /** Required scope; null = any caller. */
  scope: Scope | null;
  /** Strict input schema; its output type is `I`. */
  input: z.ZodType;
  /**
   * Derives policy facts from validated args. May throw a TwError (e.g. NOT_FOUND for an unknown
   * intent) which is treated as a refusal.
   */
  facts?: (args: I, env: GateEnv, caller: Caller) => PolicyFacts | Promise<PolicyFacts>;
  /** Short JSON summary of a result for the audit log (default: the result, truncated). */
  summarize?: (result: O) => unknown;
  /** MCP tool annotations; `readOnlyHint: true` lets the audit row join a group commit. */
  annotations?: { readOnlyHint?: boolean };
}

/** Runtime helpers the gate hands to steps and handlers. */
export interface GateEnv {
  db: Db;
  clock: Clock;
  log: Logger;
  /** The process's execution lanes (one per venue account). */
  lanes: ExecutionLanes;
  /** The venue a call means when it names none (`venues.default`). */
  defaultVenue: string;
}

/** One call travelling through the gate. Steps may read everything and write `state`. */
export interface GateCall<I = unknown> {
  op: GatedOperation<I, unknown>;
  caller: Caller;
  rawArgs: unknown;
  /** Validated arguments (set after step 2). */
  args: I;
  facts: PolicyFacts;
  /** Scratch space shared by steps for this call (e.g. the idempotency reservation). */
  state: Record<string, unknown>;
  startedAt: number;
}

/** A step may end the call early with a result (e.g. an idempotent replay of a stored result). */
export interface ShortCircuit {
  result: unknown;
}

/**
 * A policy step. `check` throws a TwError to refuse, returns a ShortCircuit to answer without
 * executing, or returns nothing to continue. `after` runs once the call has an outcome (also on
 * refusal by a later step or failure of the handler), e.g. to store or release a reservation.
 */
export interface GateStep {
  name: string;
  /** Position in the chain (see the table above). */
  order: number;
  /** Runs inside the execution lane when the call names one (`facts.lane`). */
  lane?: boolean;
  check(call: GateCall, env: GateEnv): Promise<ShortCircuit | undefined> | ShortCircuit | undefined;
  after?(call: GateCall, outcome: GateOutcome, env: GateEnv): Promise<void> | void;
}

/** The outcome of a gated call. */
export type GateOutcome = { ok: true; result: unknown; replayed: boolean } | { ok: false; error: TwError };

/** Observation emitted after every call (metrics). */
export interface CallObservation {
  tool: string;
  caller: string;
  ok: boolean;
  code?: string;
  durationMs: number;
  /** Venue the call acted on (its `venue` fact), when it named one. */
  venue?: string;
}

function zodIssuesToError(issues: z.core.$ZodIssue[]): TwError {
  const problems = issues.map((i) => {
    const path = i.path.map(String).join(".") || "(arguments)";
    if (i.code === "unrecognized_keys") {
      return `unknown argument${i.keys.length > 1 ? "s" : ""} ${i.keys.map((k) => `"${k}"`).join(", ")}`;
    }
    return `${path}: ${i.message}`;
  });
  return new TwError("INVALID_INPUT", `Invalid arguments: ${problems.join("; ")}.`, {
    hint: "Fix the listed arguments (see the tool's input schema) and call again.",
    details: { problems },
  });
}

/** Keys refused anywhere in arguments: JSON.parse keeps them, and they reach prototypes downstream. */
const FORBIDDEN_KEYS = new Set(["__proto__", "constructor", "prototype"]);

/** The first forbidden key in a JSON value, as a path (`a.b.__proto__`), or undefined. */
function forbiddenKeyPath(v: unknown, path: string, depth = 0): string | undefined {
  if (v === null || typeof v !== "object" || depth > 64) return undefined;
  for (const k of Object.keys(v)) {
    const p = path ? `${path}.${k}` : k;
    if (FORBIDDEN_KEYS.has(k)) return p;
    const deeper = forbiddenKeyPath((v as Record<string, unknown>)[k], p, depth + 1);
    if (deeper) return deeper;
  }
  return undefined;
}

/**
 * Checks the shape of raw arguments before the schema sees them.
 * @throws TwError INVALID_INPUT for a non-object or a forbidden key.
 */
function checkRawArgs(raw: unknown): Record<string, unknown> {
  if (raw === undefined) return {};
  if (raw === null || typeof raw !== "object" || Array.isArray(raw)) {
    throw new TwError(
      "INVALID_INPUT",
      `Arguments must be a JSON object, got ${raw === null ? "null" : Array.isArray(raw) ? "an array" : typeof raw}.`,
      { hint: "Send the tool's arguments as an object, e.g. {} for a tool without arguments." },
    );
  }
  const bad = forbiddenKeyPath(raw, "");
  if (bad) {
    throw new TwError("INVALID_INPUT", `Argument key "${bad}" is not allowed.`, {
      hint: "Remove __proto__, constructor and prototype keys from the arguments.",
      details: { key: bad },
    });
  }
  return raw as Record<string, unknown>;
}

function summarizeDefault(result: unknown): unknown {
  const s = JSON.stringify(result ?? null);
  return s.length <= 2000 ? result : { truncated: true, preview: s.slice(0, 2000) };
}

/** The policy gate. One instance per process, shared by every transport and the cycle. */
export class Gate {
  private readonly steps: GateStep[] = [];
  private readonly observers: Array<(o: CallObservation) => void> = [];
  private auditGroupMs = 0;

  constructor(private readonly env: GateEnv) {}

  /**
   * Commits the audit rows of read-only calls (`annotations.readOnlyHint`, no `mutating` fact, no
   * execution lane) in groups, each within `ms` (≤ 10) of its call (src/store/audit.ts
   * `queueAudit`); every other row is still committed before the call returns. `serve` turns this
   * on; 0 (the default) appends every row at once.
   * @throws RangeError when ms is outside 0..10.
   */
  groupReadOnlyAudit(ms: number): void {
    if (!(ms >= 0 && ms <= 10)) throw new RangeError(`audit group delay must be 0..10 ms, got ${ms}`);
    this.auditGroupMs = ms;
  }

  /** Registers a policy step. Steps with equal order run in registration order. */
  use(step: GateStep): this {
    this.steps.push(step);
    this.steps.sort((a, b) => a.order - b.order);
    return this;
  }

  /** Names of registered steps in execution order (for system_get_status and tests). */
  stepNames(): string[] {
    return ["scope", "validation", ...this.steps.map((s) => s.name), "execute", "audit"];
  }

  /** Subscribes to call observations (metrics). */
  observe(fn: (o: CallObservation) => void): void {
    this.observers.push(fn);
  }

  /**
   * Runs one call through every step, executes it, and audits it. Never throws: refusals and
   * failures come back as `{ ok: false, error }`.
   * @param execute the operation's handler, called with validated args only if every step passes.
   */
  async run<I, O>(
    op: GatedOperation<I, O>,
    caller: Caller,
    rawArgs: unknown,
    execute: (args: I, call: GateCall<I>) => Promise<O>,
  ): Promise<GateOutcome> {
    const startedAt = this.env.clock.now();
    const t0 = performance.now();
    const call: GateCall<I> = {
      op: op as GatedOperation<I, unknown>,
      caller,
      rawArgs,
      args: undefined as I,
      facts: {},
      state: {},
      startedAt,
    };
    const ran: GateStep[] = [];
    let hold: LaneHold | undefined;
    let outcome: GateOutcome;
    try {
      if (op.scope !== null && !caller.scopes.has(op.scope)) {
        throw new TwError(
          "FORBIDDEN_SCOPE",
          `${op.name} needs scope ${op.scope}; caller has profile ${caller.profile}.`,
          {
            hint:
              op.scope === "control:loosen" || op.scope === "orders:approve"
                ? "Only an operator can do this: ask the human operator (CLI: tradewarden approve|control ...)."
                : "Use a token or profile that grants this scope.",
            details: { required_scope: op.scope, profile: caller.profile },
          },
        );
      }
      const parsed = op.input.safeParse(checkRawArgs(rawArgs));
      if (!parsed.success) throw zodIssuesToError(parsed.error.issues);
      call.args = parsed.data as I;
      call.facts = op.facts ? await op.facts(call.args, this.env, caller) : {};
      const lane = typeof call.facts.lane === "string" ? call.facts.lane : undefined;

      let short: ShortCircuit | undefined;
      for (const step of this.steps) {
        if (lane !== undefined && step.lane && !hold) hold = await this.env.lanes.acquire(lane);
        ran.push(step);
        short = (await step.check(call as GateCall, this.env)) ?? undefined;
        if (short) break;
      }
      if (short) outcome = { ok: true, result: short.result, replayed: true };
      else {
        if (lane !== undefined && !hold) hold = await this.env.lanes.acquire(lane);
        outcome = { ok: true, result: await execute(call.args, call), replayed: false };
      }
    } catch (err) {
      const e = toTwError(err);
      if (e.code === "INTERNAL") this.env.log.error({ err, tool: op.name, caller: caller.id }, "tool failed");
      outcome = { ok: false, error: e };
    }
    try {
      for (const step of ran.reverse()) {
        if (!step.after) continue;
        try {
          await step.after(call as GateCall, outcome, this.env);
        } catch (err) {
          // An after-hook failure must not hide the call's outcome; it is logged and audited below.
          this.env.log.error({ err, step: step.name, tool: op.name }, "gate after-hook failed");
        }
      }
    } finally {
      hold?.release();
    }
    const durationMs = performance.now() - t0;
    try {
      this.audit(call as GateCall, outcome, durationMs);
    } catch (err) {
      // The call already happened: reporting it as failed would be a lie (an order may be at the
      // venue). Orders carry their own audit row written before the venue call; this is logged loudly.
      this.env.log.error({ err, tool: op.name, caller: caller.id }, "audit append failed after the call");
    }
    for (const o of this.observers) {
      o({
        tool: op.name,
        caller: caller.id,
        ok: outcome.ok,
        code: outcome.ok ? undefined : outcome.error.code,
        durationMs,
        venue: typeof call.facts.venue === "string" ? call.facts.venue : undefined,
      });
    }
    return outcome;
  }

  private audit(call: GateCall, outcome: GateOutcome, durationMs: number): void {
    const op = call.op;
    const keys =
      typeof call.facts.idempotencyKey === "string"
        ? [call.facts.idempotencyKey]
        : (call.facts.auditKeys ?? null);
    const decision = outcome.ok
      ? "allowed"
      : outcome.error.code === "INTERNAL" ||
          outcome.error.code === "EXCHANGE_UNAVAILABLE" ||
          outcome.error.code === "EXCHANGE_REJECTED"
        ? "error"
        : "refused";
    let result: unknown;
    if (outcome.ok) {
      result = redact(op.summarize ? op.summarize(outcome.result) : summarizeDefault(outcome.result));
      if (outcome.replayed) result = { replayed: true, result };
    } else {
      const p: ErrorPayload = outcome.error.toJSON();
      result = redact({ message: p.message, details: p.details });
    }
    const entry: AuditEntry = {
      ts: call.startedAt,
      caller: call.caller.id,
      tool: op.name,
      args: redact(call.rawArgs ?? {}),
      decision,
      code: outcome.ok ? null : outcome.error.code,
      result,
      durationMs,
      keys,
      durable: call.facts.mutating === true,
    };
    const readOnly =
      op.annotations?.readOnlyHint === true && call.facts.mutating !== true && call.facts.lane === undefined;
    if (readOnly && this.auditGroupMs > 0) queueAudit(this.env.db, entry, this.auditGroupMs);
    else appendAudit(this.env.db, entry);
  }
}
