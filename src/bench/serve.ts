import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { FIRST_CONDITION_PASS_MS } from "../alerts/runner.js";
import type { BenchModule } from "./index.js";
import { openLineClient } from "./lineClient.js";

/**
 * Serve benchmark (issue 15): `tradewarden serve` over stdio against a bare SDK `McpServer` with one
 * tool (src/bench/bareServer.ts), spawned alternately in the same run.
 * - start-up: spawn → initialize → the first `tools/call` result, median of {@link SPAWNS} spawns,
 *   for the default config and with replay market data (TW_MARKET_DATA=replay); also the CPU the
 *   server used by then (/proc, Linux), which other processes' load on the shared machine hardly moves;
 * - throughput ("stdio tools/call, cheap tool"): {@link ROUNDS} rounds, each spawning bare then
 *   project, warming each up for {@link WARM_MS} of calls, then {@link CALLS} sequential
 *   `tools/call` on one connection: calls/s (median of the rounds) and p50/p99 latency (ms, over
 *   every measured call of the side), and the server's CPU per measured call (median of the rounds).
 *   These rows use a thin newline JSON-RPC client (src/bench/lineClient.ts says why), start-up the
 *   SDK's `Client`.
 * The cheap tool is the project's cheapest real read-only tool, `order_list` (one indexed read of
 * an empty page, ≈ 170 bytes), against the bare server's `ping`; `strategy_list` (11 KB of schemas)
 * is measured once more for reference, not against a goal. Warming up past the first alert-monitor
 * pass ({@link FIRST_CONDITION_PASS_MS} after start, where the default config first loads the
 * venue SDK) keeps start-up's one-time work in the start-up row, not in the per-call figures; the
 * periodic background work of a running server stays in the window. The client collects its own
 * garbage (`--expose-gc`) before each measured window, for both sides alike.
 * Goals (issue 15): start-up ≤ 1.5× bare (default), ≤ 2× bare (replay); ≥ 0.5× bare calls/s, p99 ≤ 1 ms.
 */

const here = dirname(fileURLToPath(import.meta.url));
const CLI = join(here, "..", "cli.js");
const BARE = join(here, "bareServer.js");
const SPAWNS = 7;
const ROUNDS = 3;
/** Warm-up per spawned server, ms from spawn: past the first monitor pass and its library loads. */
const WARM_MS = FIRST_CONDITION_PASS_MS + 1_500;
const CALLS = 2_000;
/** The cheap project tool: read-only, no arguments, no venue or market data, a tiny answer. */
const CHEAP = { name: "order_list", arguments: {} };
/** The former cheap tool, measured for reference: its answer is 11 KB of strategy schemas. */
const LARGE = { name: "strategy_list", arguments: {} };
const BARE_TOOL = { name: "ping", arguments: { n: 1 } };

interface Target {
  label: string;
  args: string[];
  env: Record<string, string>;
  tool: { name: string; arguments: Record<string, unknown> };
}

function project(home: string, marketData?: string): Target {
  const env: Record<string, string> = { TW_HOME: home, TW_LOG_LEVEL: "silent" };
  if (marketData) env.TW_MARKET_DATA = marketData;
  // The per-caller budget (600/min by default) would refuse a throughput run: measure the call path,
  // not the limiter's refusals. Everything else stays at its defaults.
  const config = join(home, "bench.config.json");
  writeFileSync(config, JSON.stringify({ rateLimit: { toolCallsPerMinute: 1_000_000 } }));
  return {
    label: marketData ? `serve (${marketData})` : "serve (default)",
    args: [CLI, "--config", config, "serve"],
    env,
    tool: CHEAP,
  };
}

const bare: Target = { label: "bare SDK McpServer", args: [BARE], env: {}, tool: BARE_TOOL };

/** A spawned server and its client. */
interface Session {
  client: Client;
  pid: number | null;
}

async function open(t: Target): Promise<Session> {
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: t.args,
    env: { ...(process.env as Record<string, string>), ...t.env },
    stderr: "ignore",
  });
  const client = new Client({ name: "bench", version: "0.0.0" });
  await client.connect(transport);
  return { client, pid: transport.pid };
}

/**
 * CPU ms (user + system, every thread) a process has used so far, from /proc (Linux; null
 * elsewhere). Unlike wall time it barely moves when other processes load the machine.
 */
function cpuMs(pid: number | null): number | null {
  if (pid === null) return null;
  try {
    const f = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" ");
    return ((Number(f[11]) + Number(f[12])) * 1000) / CLOCK_TICKS;
  } catch {
    return null;
  }
}
/** Kernel clock ticks per second of /proc/<pid>/stat times (USER_HZ, 100 on Linux). */
const CLOCK_TICKS = 100;

async function call(client: Client, t: Target): Promise<void> {
  const r = await client.callTool(t.tool);
  if (r.isError)
    throw new Error(`${t.label}: ${t.tool.name} failed: ${JSON.stringify(r.content).slice(0, 300)}`);
}

/** Wall ms from spawn to the first tools/call result, and the server's CPU ms by then. */
async function startup(t: Target): Promise<{ ms: number; cpu: number | null }> {
  const t0 = performance.now();
  const s = await open(t);
  await call(s.client, t);
  const ms = performance.now() - t0;
  const cpu = cpuMs(s.pid);
  await s.client.close();
  return { ms, cpu };
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
};
const quantile = (sorted: number[], q: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];

interface Throughput {
  calls_per_second: number;
  p50_ms: number;
  p99_ms: number;
  /** Server CPU µs per measured call (null without /proc). */
  server_cpu_us_per_call: number | null;
}

/**
 * One measured window: a fresh server, warmed up for WARM_MS, then CALLS sequential calls, all
 * through the thin line client (src/bench/lineClient.ts), so the figures are the server's.
 */
async function window(t: Target, lat: number[]): Promise<{ rate: number; cpuUs: number | null }> {
  const spawned = performance.now();
  const client = await openLineClient(process.execPath, t.args, {
    ...(process.env as Record<string, string>),
    ...t.env,
  });
  try {
    while (performance.now() - spawned < WARM_MS) await client.call(t.tool.name, t.tool.arguments);
    (globalThis as { gc?: () => void }).gc?.();
    const c0 = cpuMs(client.pid);
    const t0 = performance.now();
    for (let i = 0; i < CALLS; i++) {
      const s = performance.now();
      await client.call(t.tool.name, t.tool.arguments);
      lat.push(performance.now() - s);
    }
    const rate = CALLS / ((performance.now() - t0) / 1000);
    const c1 = cpuMs(client.pid);
    return { rate, cpuUs: c0 === null || c1 === null ? null : ((c1 - c0) * 1000) / CALLS };
  } finally {
    await client.close();
  }
}

function summary(rates: number[], lat: number[], cpu: Array<number | null>): Throughput {
  lat.sort((a, b) => a - b);
  const known = cpu.filter((c): c is number => c !== null);
  return {
    calls_per_second: median(rates),
    p50_ms: quantile(lat, 0.5),
    p99_ms: quantile(lat, 0.99),
    server_cpu_us_per_call: known.length > 0 ? median(known) : null,
  };
}

/** Alternating rounds (bare, then project) so background load hits both sides alike. */
async function throughput(sides: Target[], rounds: number): Promise<Throughput[]> {
  const rates = sides.map(() => [] as number[]);
  const lats = sides.map(() => [] as number[]);
  const cpus = sides.map(() => [] as Array<number | null>);
  for (let r = 0; r < rounds; r++) {
    for (const [i, t] of sides.entries()) {
      const w = await window(t, lats[i]);
      rates[i].push(w.rate);
      cpus[i].push(w.cpuUs);
    }
  }
  return sides.map((_, i) => summary(rates[i], lats[i], cpus[i]));
}

const f = (x: number, d = 2) => x.toFixed(d);
/** `project / baseline / ratio×` of two CPU figures, or "n/a" without /proc. */
const cpuRow = (p: number | null, b: number | null, unit: string, d = 0) =>
  p === null || b === null ? "n/a (no /proc)" : `${f(p, d)} ${unit} / ${f(b, d)} ${unit} / ${f(p / b)}×`;

export const serveBench: BenchModule = {
  name: "serve",
  async run() {
    const homes = [
      mkdtempSync(join(tmpdir(), "tw-bench-serve-")),
      mkdtempSync(join(tmpdir(), "tw-bench-serve-")),
    ];
    try {
      const targets = [project(homes[0]), project(homes[1], "replay")];
      const times = new Map<string, number[]>([[bare.label, []]]);
      const cpus = new Map<string, number[]>([[bare.label, []]]);
      for (const t of targets) {
        times.set(t.label, []);
        cpus.set(t.label, []);
      }
      // Alternate so background load on the shared machine hits both sides alike.
      for (let i = 0; i < SPAWNS; i++) {
        for (const t of [bare, ...targets]) {
          const r = await startup(t);
          times.get(t.label)?.push(r.ms);
          if (r.cpu !== null) cpus.get(t.label)?.push(r.cpu);
        }
      }
      const bareMs = median(times.get(bare.label) ?? []);
      const bareCpu = cpus.get(bare.label)?.length ? median(cpus.get(bare.label) ?? []) : null;
      const out: Record<string, unknown> = {
        spawns: SPAWNS,
        bare_startup_ms: bareMs,
        bare_startup_cpu_ms: bareCpu,
      };
      process.stdout.write(
        `spawn → first tools/call (median of ${SPAWNS})   project / baseline / ratio (goal)\n`,
      );
      for (const [t, goal] of [
        [targets[0], 1.5],
        [targets[1], 2],
      ] as const) {
        const ms = median(times.get(t.label) ?? []);
        const cpu = cpus.get(t.label)?.length ? median(cpus.get(t.label) ?? []) : null;
        process.stdout.write(
          `  ${t.label.padEnd(18)} ${f(ms / 1000)} s / ${f(bareMs / 1000)} s / ${f(ms / bareMs)}× (≤ ${goal}×: ${ms / bareMs <= goal ? "met" : "not met"})\n` +
            `    server CPU by then ${cpuRow(cpu, bareCpu, "ms")}\n`,
        );
        out[`${t.label}_startup_ms`] = ms;
        out[`${t.label}_startup_cpu_ms`] = cpu;
      }
      const [b, p] = await throughput([bare, targets[0]], ROUNDS);
      const [large] = await throughput([{ ...targets[0], tool: LARGE }], 1);
      const ratio = p.calls_per_second / b.calls_per_second;
      process.stdout.write(
        `stdio tools/call, cheap tool: ${ROUNDS} rounds × ${CALLS} sequential after ${WARM_MS / 1000} s warm-up (project ${CHEAP.name} vs bare ping)\n` +
          `  calls/s            ${f(p.calls_per_second, 0)} / ${f(b.calls_per_second, 0)} / ${f(ratio)}× (≥ 0.5×: ${ratio >= 0.5 ? "met" : "not met"})\n` +
          `  p99 latency        ${f(p.p99_ms, 3)} ms / ${f(b.p99_ms, 3)} ms / ${f(p.p99_ms / b.p99_ms)}× (≤ 1 ms: ${p.p99_ms <= 1 ? "met" : "not met"}); p50 ${f(p.p50_ms, 3)} / ${f(b.p50_ms, 3)} ms\n` +
          `  server CPU/call    ${cpuRow(p.server_cpu_us_per_call, b.server_cpu_us_per_call, "µs")}\n` +
          `  for reference, ${LARGE.name} (11 KB answer, 1 round): ${f(large.calls_per_second, 0)} calls/s = ${f(large.calls_per_second / b.calls_per_second)}× bare, p99 ${f(large.p99_ms, 3)} ms\n`,
      );
      return { ...out, project_calls: p, bare_calls: b, large_calls: large, calls: CALLS, rounds: ROUNDS };
    } finally {
      for (const h of homes) rmSync(h, { recursive: true, force: true });
    }
  },
};
