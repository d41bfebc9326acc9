import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { isAbsolute, join } from "node:path";
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import { type Config, ConfigError, dbPath, loadConfig } from "../config.js";
import { setControl } from "../store/control.js";
import { openDb } from "../store/db.js";
import { createToken } from "../store/tokens.js";
import { finalProblems, secretNeedles, secretProblems } from "./final.js";
import { type HlStub, startHlStub } from "./hlStub.js";
import type { LoadedScenario } from "./load.js";
import { brief, jsonPathProblems, select, subsetProblems, substitute } from "./match.js";
import { defaultReplayDir, evalDataDir } from "./paths.js";
import type { CallStep, CliStep, Scenario, Step, TransportName } from "./schema.js";
import {
  type ElicitBox,
  type EvalSession,
  httpSession,
  memorySession,
  runCli,
  type SessionOptions,
  stdioSession,
  actorOf,
} from "./transports.js";

/**
 * Runs scenarios: each on a fresh TW_HOME (temp dir) with its own App / server process, a simulated
 * clock, replay market data and, when asked, a local Hyperliquid stub. Steps stop at the first
 * failure (later steps would only report its consequences); final assertions run when every step
 * passed. Nothing here reaches the network.
 */

/** Outcome of one scenario. `n/a`: the scenario does not apply to the chosen transport (reason in failures). */
export interface ScenarioResult {
  name: string;
  file: string;
  guarantee: string;
  result: "pass" | "fail" | "n/a";
  steps: number;
  steps_passed: number;
  /** Failure messages in step order; deterministic for a deterministic server. */
  failures: string[];
  /** Wall time, ms (excluded from determinism comparisons). */
  duration_ms: number;
}

/** Options of {@link runScenario}. */
export interface RunOptions {
  transport: TransportName;
  /** Shared data folder (default: TW_DATA or the repository's data/). */
  dataDir?: string;
}

/** Milliseconds UTC of the scenario's clock start. */
export function clockStartMs(s: Scenario): number {
  const v = s.setup.clock_start;
  return typeof v === "number" ? v : Date.parse(v);
}

/** Why a scenario cannot run on a transport, or undefined when it can. */
export function notApplicable(s: Scenario, transport: TransportName): string | undefined {
  if (!s.setup.transports.includes(transport)) {
    return `declared for transports ${s.setup.transports.join(", ")} only`;
  }
  const advances = s.steps.some((st) => "advance_clock_ms" in st);
  if (advances && transport !== "memory") return "advances the simulated clock (memory transport only)";
  return undefined;
}

function resolveMarketData(s: Scenario, data: string): string {
  const md = s.setup.market_data;
  if (md === undefined) return `replay:${defaultReplayDir({ TW_DATA: data })}`;
  if (md.startsWith("replay:")) {
    const dir = md.slice("replay:".length);
    return `replay:${isAbsolute(dir) ? dir : join(data, dir)}`;
  }
  return md;
}

function nest(flat: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [path, value] of Object.entries(flat)) {
    const keys = path.split(".");
    let cur = out;
    for (const k of keys.slice(0, -1)) {
      if (typeof cur[k] !== "object" || cur[k] === null) cur[k] = {};
      cur = cur[k] as Record<string, unknown>;
    }
    cur[keys[keys.length - 1]] = value;
  }
  return out;
}

function actorsUsed(s: Scenario): string[] {
  const set = new Set<string>([s.setup.profile]);
  const visit = (st: Step) => {
    if ("call" in st && st.as) set.add(st.as);
    if ("list_tools" in st && st.list_tools.as) set.add(st.list_tools.as);
    if ("concurrent" in st) st.concurrent.forEach(visit);
  };
  s.steps.forEach(visit);
  return [...set].sort();
}

/** Mutable state of one run. */
interface RunState {
  scenario: Scenario;
  session: EvalSession;
  sessionOpts: SessionOptions;
  box: ElicitBox;
  vars: Record<string, unknown>;
  /** Every tool result, with the step that produced it (secrets scan). */
  results: Array<{ label: string; result: unknown }>;
}

function label(i: number, st: CallStep): string {
  return `step ${i + 1} (${st.id ?? `call ${st.call}`})`;
}

function checkResult(st: CallStep, r: CallToolResult, vars: Record<string, unknown>): string[] {
  const isError = r.isError === true;
  const sc = (r.structuredContent ?? {}) as Record<string, unknown>;
  const out: string[] = [];
  if (st.expect === "any") {
    // no outcome check
  } else if (st.expect === "ok") {
    if (isError) return [`expected ok, got ${String(sc.code)}: ${String(sc.message)}`];
  } else {
    const codes: string[] = Array.isArray(st.expect.code) ? st.expect.code : [st.expect.code];
    if (!isError) return [`expected ${codes.join(" | ")}, got ok`];
    if (!codes.includes(String(sc.code))) {
      return [`expected ${codes.join(" | ")}, got ${String(sc.code)}: ${String(sc.message)}`];
    }
  }
  out.push(...valueProblems(sc, st, vars));
  return out;
}

/** `match` and `jsonpath` checks on a JSON value, with `${var}` references substituted. */
function valueProblems(
  json: unknown,
  st: Pick<CallStep, "match" | "jsonpath">,
  vars: Record<string, unknown>,
): string[] {
  const out: string[] = [];
  if (st.match) out.push(...subsetProblems(json, substitute(st.match, vars)));
  for (const a of st.jsonpath) out.push(...jsonPathProblems(json, substitute(a, vars) as typeof a));
  return out;
}

function saveVars(state: RunState, json: unknown, save: Record<string, string>, where: string): string[] {
  const out: string[] = [];
  for (const [name, path] of Object.entries(save)) {
    const hit = select(json, path)[0];
    if (hit === undefined) out.push(`${where}: save ${name}: ${path} matched nothing in ${brief(json)}`);
    else state.vars[name] = hit;
  }
  return out;
}

async function runCall(state: RunState, st: CallStep, where: string): Promise<string[]> {
  let args: unknown;
  const vars = { ...state.vars, now: state.session.now() };
  try {
    args = substitute(st.args, vars);
  } catch (e) {
    return [`${where}: ${(e as Error).message}`];
  }
  const client = await state.session.client(st.as ?? state.scenario.setup.profile);
  let last: CallToolResult | undefined;
  for (let n = 0; n < st.repeat; n++) {
    let r: CallToolResult;
    try {
      r = (await client.callTool({
        name: st.call,
        arguments: args as Record<string, unknown>,
      })) as CallToolResult;
    } catch (e) {
      return [`${where}: the call failed at the protocol level: ${(e as Error).message}`];
    }
    state.results.push({ label: where, result: r });
    let problems: string[];
    try {
      problems = checkResult(st, r, vars);
    } catch (e) {
      problems = [(e as Error).message];
    }
    const run = st.repeat > 1 ? ` run ${n + 1}/${st.repeat}` : "";
    if (problems.length > 0) return problems.map((p) => `${where}${run}: ${p}`);
    last = r;
  }
  return saveVars(state, last?.structuredContent ?? {}, st.save, where);
}

async function runListTools(
  state: RunState,
  st: { as?: string; includes: string[]; excludes: string[] },
  where: string,
): Promise<string[]> {
  const client = await state.session.client(st.as ?? state.scenario.setup.profile);
  const names = new Set((await client.listTools()).tools.map((t) => t.name));
  return [
    ...st.includes.filter((n) => !names.has(n)).map((n) => `${where}: ${n} is not listed`),
    ...st.excludes.filter((n) => names.has(n)).map((n) => `${where}: ${n} is listed but must not be`),
  ];
}

async function runCliStep(state: RunState, st: CliStep, where: string): Promise<string[]> {
  const vars = { ...state.vars, now: state.session.now() };
  let args: string[];
  try {
    args = substitute(st.cli, vars) as string[];
  } catch (e) {
    return [`${where}: ${(e as Error).message}`];
  }
  const r = await runCli(state.sessionOpts, args.map(String), st.timeout_ms);
  state.results.push({ label: where, result: r });
  if (r.code !== st.exit_code) {
    return [
      `${where}: expected exit code ${st.exit_code}, got ${r.code}; stderr: ${brief(r.stderr.slice(-400))}`,
    ];
  }
  if (!st.match && st.jsonpath.length === 0 && Object.keys(st.save).length === 0) return [];
  let json: unknown;
  try {
    json = JSON.parse(r.stdout);
  } catch {
    return [`${where}: stdout is not one JSON document: ${brief(r.stdout)}`];
  }
  const problems = valueProblems(json, st, vars).map((p) => `${where}: ${p}`);
  return problems.length > 0 ? problems : saveVars(state, json, st.save, where);
}

function elicitProblems(where: string, st: CallStep | CallStep[], asked: number): string[] {
  const steps = Array.isArray(st) ? st : [st];
  const expected = steps.find((s) => s.elicited !== undefined)?.elicited;
  const answered = steps.some((s) => s.elicit !== undefined);
  if (expected === true && asked === 0) return [`${where}: expected an elicitation request, none came`];
  if (expected === false && asked > 0) return [`${where}: expected no elicitation, got ${asked}`];
  if (asked > 0 && !answered)
    return [`${where}: the server elicited but the step scripts no answer (declined)`];
  return [];
}

async function runStep(state: RunState, st: Step, i: number): Promise<string[]> {
  if ("advance_clock_ms" in st) {
    if (!state.session.advanceClock) return [`step ${i + 1}: this transport cannot advance the clock`];
    state.session.advanceClock(st.advance_clock_ms);
    return [];
  }
  if ("list_tools" in st) return runListTools(state, st.list_tools, `step ${i + 1} (list_tools)`);
  if ("cli" in st) return runCliStep(state, st, `step ${i + 1} (cli ${st.cli[0]})`);
  if ("concurrent" in st) {
    const where = `step ${i + 1} (concurrent ×${st.concurrent.length})`;
    state.box.answer = st.concurrent.find((c) => c.elicit)?.elicit;
    state.box.asked = 0;
    const all = await Promise.all(st.concurrent.map((c, k) => runCall(state, c, `${where}[${k + 1}]`)));
    return [...all.flat(), ...elicitProblems(where, st.concurrent, state.box.asked)];
  }
  const where = label(i, st);
  state.box.answer = st.elicit;
  state.box.asked = 0;
  const problems = await runCall(state, st, where);
  return problems.length > 0 ? problems : elicitProblems(where, st, state.box.asked);
}

/** Scenario env values exported to this process while it runs (secrets read from process.env). */
function withProcessEnv(env: Record<string, string>): () => void {
  const saved = new Map<string, string | undefined>();
  for (const [k, v] of Object.entries(env)) {
    saved.set(k, process.env[k]);
    process.env[k] = v;
  }
  return () => {
    for (const [k, v] of saved) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  };
}

/**
 * Runs one scenario on a transport. Never throws: setup errors become failures of the scenario.
 */
export async function runScenario(loaded: LoadedScenario, opts: RunOptions): Promise<ScenarioResult> {
  const s = loaded.scenario;
  const t0 = performance.now();
  const base = { name: s.name, file: loaded.file, guarantee: s.guarantee, steps: s.steps.length };
  const na = notApplicable(s, opts.transport);
  if (na) return { ...base, result: "n/a", steps_passed: 0, failures: [na], duration_ms: 0 };

  const data = opts.dataDir ?? evalDataDir();
  const home = mkdtempSync(join(tmpdir(), `tw-eval-${s.name}-`));
  let stub: HlStub | undefined;
  let session: EvalSession | undefined;
  let restoreEnv: (() => void) | undefined;
  const failures: string[] = [];
  let passed = 0;
  try {
    const clockStart = clockStartMs(s);
    const marketData = resolveMarketData(s, data);
    const hs = s.setup.hyperliquid_stub;
    if (hs !== false || marketData === "hyperliquid") {
      stub = await startHlStub(data, typeof hs === "string" ? hs : "ok");
    }
    const paths = { data, replay_dir: defaultReplayDir({ TW_DATA: data }), home };
    const env: Record<string, string> = {
      TW_HOME: home,
      TW_MARKET_DATA: marketData,
      TW_REPLAY_START: String(clockStart),
      ...(stub ? { TW_HL_API_URL: stub.url } : {}),
      ...(substitute(s.setup.env, paths) as Record<string, string>),
    };
    const configFile = join(home, "tradewarden.config.json");
    writeFileSync(configFile, JSON.stringify(nest(s.setup.config), null, 2));
    let config: Config;
    try {
      config = loadConfig({ env, configPath: configFile, cwd: home });
    } catch (e) {
      throw new Error(e instanceof ConfigError ? e.message : String(e));
    }

    // Seed the store before any server starts: control mode and (HTTP) one token per profile.
    const tokens: Partial<Record<string, string>> = {};
    const seed = openDb(dbPath(config));
    try {
      if (s.setup.control !== "NORMAL")
        setControl(seed, s.setup.control, "eval setup", "eval:setup", clockStart);
      if (opts.transport === "http") {
        for (const a of actorsUsed(s)) {
          tokens[a] = createToken(seed, a.replace(":", "-"), actorOf(a).profile, clockStart).token;
        }
      }
    } finally {
      seed.close();
    }

    const box: ElicitBox = { asked: 0 };
    const sessionOpts: SessionOptions = {
      config,
      configFile,
      env,
      clockStart,
      elicitation:
        s.setup.elicitation === true || s.setup.elicitation === "form"
          ? ["form"]
          : s.setup.elicitation === "url"
            ? ["url"]
            : s.setup.elicitation === "both"
              ? ["form", "url"]
              : [],
      box,
      tokens,
    };
    if (opts.transport === "memory") restoreEnv = withProcessEnv(env);
    session =
      opts.transport === "memory"
        ? await memorySession(sessionOpts)
        : opts.transport === "stdio"
          ? await stdioSession(sessionOpts)
          : await httpSession(sessionOpts);

    const state: RunState = {
      scenario: s,
      session,
      sessionOpts,
      box,
      vars: { ...paths, env, clock_start: clockStart },
      results: [],
    };
    for (let i = 0; i < s.steps.length; i++) {
      const problems = await runStep(state, s.steps[i], i);
      if (problems.length > 0) {
        failures.push(...problems);
        break;
      }
      passed++;
    }
    const db = await session.finish();
    if (failures.length === 0) failures.push(...finalProblems(db, s.final, stub?.requests ?? []));
    const needles = secretNeedles(
      env,
      Object.values(tokens).filter((t): t is string => t !== undefined),
    );
    failures.push(...secretProblems(needles, state.results, db, session.logs()));
  } catch (e) {
    failures.push(`setup: ${(e as Error).message}`);
  } finally {
    try {
      await session?.dispose();
    } catch (e) {
      failures.push(`teardown: ${(e as Error).message}`);
    }
    restoreEnv?.();
    await stub?.close();
    rmSync(home, { recursive: true, force: true });
  }
  return {
    ...base,
    result: failures.length === 0 ? "pass" : "fail",
    steps_passed: passed,
    failures,
    duration_ms: Math.round(performance.now() - t0),
  };
}
