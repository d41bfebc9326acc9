import { spawnSync } from "node:child_process";
import { readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Config } from "../../../src/config.js";
import { type ReplaySummary, runReplay } from "../../../src/engine/replay.js";
import { iterateCycles } from "../../../src/store/cycles.js";
import { openDb } from "../../../src/store/db.js";
import { REPLAY_30D, tempHome, testConfig } from "../../helpers/app.js";
import { runAsync } from "../../helpers/spawn.js";
import { type LlmStub, type StubAction, type StubRequest, startLlmStub, weightsAnswer } from "./llmStub.js";

/**
 * `replay --decision llm` against a local OpenAI-compatible stub: a whole day of cycles asks the
 * endpoint once per cycle (twice when it answers 500), counts `llm` and `baseline_fallback` exactly as
 * the stub answered, and a rerun from the cache asks nothing and reproduces the summary.
 */

const DAY = Date.parse("2025-05-27T00:00:00Z");
const KEY = "sk-replay-key-9d8c7b6a5f4e3d2c1b0a-never-stored";

/** The stub's rule, by the cycle's minute of day: every 10th garbage, every 97th HTTP 500, else a valid target. */
function answerFor(req: StubRequest): StubAction {
  const input = JSON.parse(req.body.messages[1].content) as {
    time: string;
    features: Array<{ ret_1h: number }>;
  };
  const minute = (Date.parse(input.time) - DAY) / 60_000;
  if (minute % 97 === 0) return { status: 500 };
  if (minute % 10 === 9) return { content: "Let me think about this market..." };
  // A valid answer that follows the prompt: long BTC when its 1h return is up, short otherwise.
  const w = input.features[0].ret_1h > 0 ? 0.12 : -0.12;
  return { content: weightsAnswer({ BTC: w, ETH: w / 2 }, { rationale: `minute ${minute}` }) };
}

function expected(minutes: number[]): { llm: number; fallback: number; requests: number } {
  const e500 = minutes.filter((m) => m % 97 === 0).length;
  const garbage = minutes.filter((m) => m % 97 !== 0 && m % 10 === 9).length;
  return { llm: minutes.length - e500 - garbage, fallback: e500 + garbage, requests: minutes.length + e500 };
}

let stub: LlmStub;
const homes: Array<{ home: string; cleanup: () => void }> = [];
function home(): string {
  const h = tempHome();
  homes.push(h);
  return h.home;
}

function cfg(h: string): Config {
  const secrets = join(h, "secrets.json");
  writeFileSync(secrets, JSON.stringify({ llm: { apiKey: KEY } }));
  const c = testConfig(h, { TW_LLM_URL: stub.url, TW_LLM_MODEL: "stub-model", TW_SECRETS_FILE: secrets });
  c.cycle.decisionTimeoutMs = 2_000;
  return c;
}

const deterministic = (s: ReplaySummary) => {
  // The run's identity and its database file differ by construction; the rest must not.
  const {
    cycles_per_second: _a,
    decision_calls: _b,
    decision_cache_hits: _c,
    run_id: _d,
    db: _e,
    ...rest
  } = s;
  return rest;
};

beforeAll(async () => {
  stub = await startLlmStub((_n, req) => answerFor(req));
});
afterAll(async () => {
  await stub.close();
  for (const h of homes) h.cleanup();
});

describe("replay with an llm decision source", () => {
  it("a 1-day replay counts llm and baseline_fallback as the endpoint answered; a rerun from the cache makes 0 calls and the same summary; --no-decision-cache calls again", async () => {
    const first = home();
    const to = DAY + 1439 * 60_000;
    // A replay writes its own database (default $TW_HOME/replays/<run-id>.db); name it to read it.
    const firstDb = join(first, "run.db");
    const a = await runReplay(cfg(first), {
      dataDirs: [REPLAY_30D],
      from: DAY,
      to,
      decision: "llm",
      db: firstDb,
    });
    const minutes = Array.from({ length: 1440 }, (_, i) => i);
    const want = expected(minutes);
    expect(a.cycles).toBe(1440);
    expect(a.decisions).toEqual({
      agent: 0,
      sampling: 0,
      llm: want.llm,
      baseline: 0,
      baseline_fallback: want.fallback,
    });
    expect(stub.requests).toHaveLength(want.requests);
    expect(a.decision_calls).toBe(1440);
    expect(a.decision_cache_hits).toBe(0);
    expect(a.baseline_cycles).toBe(want.fallback);
    expect(a.orders).toBeGreaterThan(0);
    // Every cycle's record agrees with what the stub did at that minute.
    const db = openDb(firstDb);
    try {
      const rows = db.prepare("SELECT ts, used, error FROM cycle_decisions ORDER BY ts").all() as Array<{
        ts: number;
        used: string;
        error: string | null;
      }>;
      expect(rows).toHaveLength(1440);
      for (const r of rows) {
        const m = (r.ts - DAY) / 60_000;
        if (m % 97 === 0) expect(r.error, `minute ${m}`).toMatch(/^HTTP 500/);
        else if (m % 10 === 9) expect(r.error, `minute ${m}`).toMatch(/^unparsable/);
        else expect(r.used, `minute ${m}`).toBe("llm");
      }
      for (const c of iterateCycles(db)) {
        expect(c.approved.gross).toBeLessThanOrEqual(0.4 + 1e-9);
        expect(Math.abs(c.approved.weights.BTC)).toBeLessThanOrEqual(0.15 + 1e-9);
      }
    } finally {
      db.close();
    }

    // A rerun from scratch (a fresh home) with the first run's answers: nothing is asked.
    const before = stub.requests.length;
    const b = await runReplay(cfg(home()), {
      dataDirs: [REPLAY_30D],
      from: DAY,
      to,
      decision: "llm",
      decisionCacheFile: firstDb,
    });
    expect(stub.requests.length - before).toBe(0);
    expect(b.decision_calls).toBe(0);
    expect(b.decision_cache_hits).toBe(1440);
    expect(deterministic(b)).toEqual(deterministic(a));

    // --no-decision-cache asks the endpoint for every prompt (2 hours here).
    const c = await runReplay(cfg(home()), {
      dataDirs: [REPLAY_30D],
      from: DAY,
      to: DAY + 119 * 60_000,
      decision: "llm",
      decisionCache: false,
      decisionCacheFile: firstDb,
    });
    expect(c.decision_calls).toBe(120);
    expect(stub.requests.length - before).toBe(expected(minutes.slice(0, 120)).requests);
  }, 900_000);

  it("the API key reaches the endpoint but appears nowhere in the CLI's output and logs, the audit or any file of the home", async () => {
    const h = home();
    stub.requests.length = 0;
    // Echo the key back in answers and errors, as a misbehaving proxy might.
    const echo = stub.behave;
    stub.behave = (n, req) =>
      n % 3 === 0
        ? { content: weightsAnswer({ BTC: 0.05 }, { rationale: `auth was ${req.authorization}` }) }
        : n % 3 === 1
          ? { status: 401, body: `{"error":"invalid key ${KEY}"}` }
          : { content: `not json, key ${KEY}` };
    try {
      const cli = join(import.meta.dirname, "..", "..", "..", "dist", "cli.js");
      // Asynchronous: the stub answers from this process's event loop.
      const r = await runAsync(
        "node",
        [
          cli,
          "replay",
          "--data",
          REPLAY_30D,
          "--from",
          "2025-05-27T00:00:00Z",
          "--to",
          "2025-05-27T00:20:00Z",
          "--decision",
          "llm",
          "--db",
          join(h, "run.db"),
          "--json",
        ],
        {
          cwd: h,
          env: {
            ...process.env,
            TW_HOME: h,
            TW_LOG_LEVEL: "trace",
            TW_LLM_URL: stub.url,
            TW_LLM_MODEL: "stub-model",
            TW_LLM_API_KEY: KEY,
          },
        },
      );
      expect(r.status, r.stderr).toBe(0);
      const s = JSON.parse(r.stdout) as ReplaySummary;
      expect(s.cycles).toBe(21);
      expect(s.decisions.llm + s.decisions.baseline_fallback).toBe(21);
      expect(s.decisions.llm).toBeGreaterThan(0);
      expect(s.decisions.baseline_fallback).toBeGreaterThan(0);
      expect(stub.requests.every((q) => q.authorization === `Bearer ${KEY}`)).toBe(true);
      // The logs were written (every decision at debug, errors included) and hold no key.
      expect(r.stderr).toContain('"msg":"cycle decision"');
      expect(r.stderr).toContain("invalid key [redacted]");
      const forms = [KEY, KEY.slice(3), Buffer.from(KEY).toString("base64")];
      for (const f of forms) {
        expect(r.stdout).not.toContain(f);
        expect(r.stderr).not.toContain(f);
      }
      const files = (dir: string): string[] =>
        readdirSync(dir).flatMap((n) =>
          statSync(join(dir, n)).isDirectory() ? files(join(dir, n)) : [join(dir, n)],
        );
      const all = files(h);
      expect(all.some((f) => f.endsWith("run.db"))).toBe(true);
      for (const f of all) {
        const bytes = readFileSync(f);
        for (const form of forms) expect(bytes.includes(form), `${f} holds the key`).toBe(false);
      }
      const db = openDb(join(h, "run.db"));
      try {
        const raw = db.prepare("SELECT raw FROM cycle_decisions WHERE used = 'llm' LIMIT 1").get() as {
          raw: string;
        };
        expect(raw.raw).toContain("auth was Bearer [redacted]");
      } finally {
        db.close();
      }
    } finally {
      stub.behave = echo;
    }
  }, 300_000);

  it("replay refuses sampling (no client can be connected) and a target file with another source", () => {
    const cli = join(import.meta.dirname, "..", "..", "..", "dist", "cli.js");
    const h = home();
    const env = { ...process.env, TW_HOME: h, TW_LOG_LEVEL: "silent" };
    const sampling = spawnSync("node", [cli, "replay", "--decision", "sampling"], {
      cwd: h,
      env,
      encoding: "utf8",
    });
    expect(sampling.status).toBe(2);
    expect(sampling.stderr).toContain("--decision must be llm, baseline or agent");
    const viaConfig = spawnSync(
      "node",
      [cli, "replay", "--from", "2025-05-27T00:00:00Z", "--to", "2025-05-27T00:01:00Z"],
      {
        cwd: h,
        env: { ...env, TW_CYCLE_DECISION: "sampling" },
        encoding: "utf8",
      },
    );
    expect(viaConfig.status).toBe(1);
    expect(viaConfig.stderr).toContain("A replay cannot ask a client's model");
    const file = join(h, "targets.jsonl");
    writeFileSync(file, "");
    const both = spawnSync("node", [cli, "replay", "--decision", "llm", "--target-file", file], {
      cwd: h,
      env,
      encoding: "utf8",
    });
    expect(both.status).toBe(1);
    expect(both.stderr).toContain("--target-file sets agent targets, but the llm source decides");
    const noUrl = spawnSync("node", [cli, "replay", "--decision", "llm"], { cwd: h, env, encoding: "utf8" });
    expect(noUrl.status).not.toBe(0);
    expect(noUrl.stderr).toContain("TW_LLM_URL");
  }, 120_000);
});
