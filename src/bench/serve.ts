import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import type { BenchModule } from "./index.js";

/**
 * Serve benchmark (issue 15): `tradewarden serve` over stdio against a bare SDK `McpServer` with one
 * tool (src/bench/bareServer.ts), spawned alternately in the same run.
 * - start-up: spawn → initialize → the first `tools/call` result, median of {@link SPAWNS} spawns,
 *   for the default config and with replay market data (TW_MARKET_DATA=replay);
 * - throughput: {@link CALLS} sequential `tools/call` of a cheap tool on one connection after a
 *   warm-up: calls/s and p50/p99 latency (ms).
 * Goals (issue 15): start-up ≤ 1.5× bare (default), ≤ 2× bare (replay); ≥ 0.5× bare calls/s, p99 ≤ 1 ms.
 */

const here = dirname(fileURLToPath(import.meta.url));
const CLI = join(here, "..", "cli.js");
const BARE = join(here, "bareServer.js");
const SPAWNS = 5;
const WARMUP = 200;
const CALLS = 2_000;
/** The cheap project tool: read-only, no arguments, no venue or market data. */
const CHEAP = { name: "strategy_list", arguments: {} };
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

async function open(t: Target): Promise<Client> {
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: t.args,
    env: { ...(process.env as Record<string, string>), ...t.env },
    stderr: "ignore",
  });
  const client = new Client({ name: "bench", version: "0.0.0" });
  await client.connect(transport);
  return client;
}

async function call(client: Client, t: Target): Promise<void> {
  const r = await client.callTool(t.tool);
  if (r.isError)
    throw new Error(`${t.label}: ${t.tool.name} failed: ${JSON.stringify(r.content).slice(0, 300)}`);
}

/** Wall ms from spawn to the first tools/call result. */
async function startup(t: Target): Promise<number> {
  const t0 = performance.now();
  const client = await open(t);
  await call(client, t);
  const ms = performance.now() - t0;
  await client.close();
  return ms;
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
};
const quantile = (sorted: number[], q: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];

async function throughput(t: Target): Promise<{ calls_per_second: number; p50_ms: number; p99_ms: number }> {
  const client = await open(t);
  try {
    for (let i = 0; i < WARMUP; i++) await call(client, t);
    const lat: number[] = [];
    const t0 = performance.now();
    for (let i = 0; i < CALLS; i++) {
      const s = performance.now();
      await call(client, t);
      lat.push(performance.now() - s);
    }
    const secs = (performance.now() - t0) / 1000;
    lat.sort((a, b) => a - b);
    return { calls_per_second: CALLS / secs, p50_ms: quantile(lat, 0.5), p99_ms: quantile(lat, 0.99) };
  } finally {
    await client.close();
  }
}

const f = (x: number, d = 2) => x.toFixed(d);

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
      for (const t of targets) times.set(t.label, []);
      // Alternate so background load on the shared machine hits both sides alike.
      for (let i = 0; i < SPAWNS; i++) {
        for (const t of [bare, ...targets]) times.get(t.label)?.push(await startup(t));
      }
      const bareMs = median(times.get(bare.label) ?? []);
      const out: Record<string, unknown> = { spawns: SPAWNS, bare_startup_ms: bareMs };
      process.stdout.write(
        `spawn → first tools/call (median of ${SPAWNS})   project / baseline / ratio (goal)\n`,
      );
      for (const [t, goal] of [
        [targets[0], 1.5],
        [targets[1], 2],
      ] as const) {
        const ms = median(times.get(t.label) ?? []);
        process.stdout.write(
          `  ${t.label.padEnd(18)} ${f(ms / 1000)} s / ${f(bareMs / 1000)} s / ${f(ms / bareMs)}× (≤ ${goal}×: ${ms / bareMs <= goal ? "met" : "not met"})\n`,
        );
        out[`${t.label}_startup_ms`] = ms;
      }
      const b = await throughput(bare);
      const p = await throughput(targets[0]);
      process.stdout.write(
        `stdio tools/call, ${CALLS} sequential (project ${CHEAP.name} vs bare ping)\n` +
          `  calls/s            ${f(p.calls_per_second, 0)} / ${f(b.calls_per_second, 0)} / ${f(p.calls_per_second / b.calls_per_second)}× (≥ 0.5×: ${p.calls_per_second / b.calls_per_second >= 0.5 ? "met" : "not met"})\n` +
          `  p99 latency        ${f(p.p99_ms, 3)} ms / ${f(b.p99_ms, 3)} ms / ${f(p.p99_ms / b.p99_ms)}× (≤ 1 ms: ${p.p99_ms <= 1 ? "met" : "not met"}); p50 ${f(p.p50_ms, 3)} / ${f(b.p50_ms, 3)} ms\n`,
      );
      return { ...out, project_calls: p, bare_calls: b, calls: CALLS };
    } finally {
      for (const h of homes) rmSync(h, { recursive: true, force: true });
    }
  },
};
