import { spawnSync } from "node:child_process";
import { existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { ConfigError, loadConfig, TOOLSETS } from "../src/config.js";
import { tempHome } from "./helpers/app.js";

const CLI = join(import.meta.dirname, "..", "dist", "cli.js");
let cleanup: (() => void) | undefined;
afterEach(() => cleanup?.());

function problemsOf(fn: () => unknown): string[] {
  try {
    fn();
  } catch (e) {
    if (e instanceof ConfigError) return e.problems.map((p) => `${p.path}|${p.source}`);
    throw e;
  }
  throw new Error("expected a ConfigError");
}

describe("config", () => {
  it("defaults: agent profile, 127.0.0.1:8787, hyperliquid data, five-coin universe", () => {
    const c = loadConfig({ env: { TW_HOME: "/tmp/x" }, cwd: "/nonexistent" });
    expect(c.profile).toBe("agent");
    expect(c.http).toMatchObject({ host: "127.0.0.1", port: 8787, stateless: false });
    expect(c.marketData).toBe("hyperliquid");
    expect(c.universe).toEqual(["BTC", "ETH", "SOL", "ADA", "DOGE"]);
  });

  it("environment overrides the file", () => {
    const t = tempHome();
    cleanup = t.cleanup;
    writeFileSync(
      join(t.home, "tradewarden.config.json"),
      JSON.stringify({ profile: "readonly", http: { port: 9000 } }),
    );
    const c = loadConfig({ env: { TW_HOME: t.home, TW_HTTP_PORT: "9100" }, cwd: t.home });
    expect(c.profile).toBe("readonly");
    expect(c.http.port).toBe(9100);
  });

  it("every invalid setting is reported at once, with its source", () => {
    const probs = problemsOf(() =>
      loadConfig({
        env: {
          TW_HOME: "/tmp/x",
          TW_PROFILE: "root",
          TW_HTTP_PORT: "eighty",
          TW_LOG_LEVEL: "loud",
          TW_MARKET_DATA: "ftp",
        },
        cwd: "/nonexistent",
      }),
    );
    expect(probs.sort()).toEqual(
      [
        "http.port|TW_HTTP_PORT",
        "logLevel|TW_LOG_LEVEL",
        "marketData|TW_MARKET_DATA",
        "profile|TW_PROFILE",
      ].sort(),
    );
  });

  it("TW_REPLAY_START takes ISO-8601 with a zone or ms UTC; a zoneless date and TW_REPLAY_SPEED ≤ 0 are refused", () => {
    const t = tempHome();
    cleanup = t.cleanup;
    const at = (v: string) =>
      loadConfig({ env: { TW_HOME: t.home, TW_REPLAY_START: v }, cwd: t.home }).replayStart;
    expect(at("2025-06-01T10:35:00Z")).toBe(Date.UTC(2025, 5, 1, 10, 35));
    expect(at("2025-06-01T12:35:00+02:00")).toBe(Date.UTC(2025, 5, 1, 10, 35));
    expect(at(String(Date.UTC(2025, 5, 1)))).toBe(Date.UTC(2025, 5, 1));
    expect(problemsOf(() => at("2025-06-01T10:35:00"))).toEqual(["replayStart|TW_REPLAY_START"]);
    expect(loadConfig({ env: { TW_HOME: t.home, TW_REPLAY_SPEED: "60" }, cwd: t.home }).replaySpeed).toBe(60);
    expect(
      problemsOf(() => loadConfig({ env: { TW_HOME: t.home, TW_REPLAY_SPEED: "0" }, cwd: t.home })),
    ).toEqual(["replaySpeed|TW_REPLAY_SPEED"]);
  });

  it("an unknown toolset in TW_TOOLSETS is a problem naming the variable and every valid toolset", () => {
    const t = tempHome();
    cleanup = t.cleanup;
    try {
      loadConfig({ env: { TW_HOME: t.home, TW_TOOLSETS: "market,trading" }, cwd: t.home });
      throw new Error("expected a ConfigError");
    } catch (e) {
      expect(e).toBeInstanceOf(ConfigError);
      const [p] = (e as ConfigError).problems;
      expect(p.source).toBe("TW_TOOLSETS");
      expect(p.got).toBe('"trading"');
      expect(p.expected).toBe(`one of ${TOOLSETS.join(", ")}`);
    }
  });

  it("unknown keys in the file are reported", () => {
    const t = tempHome();
    cleanup = t.cleanup;
    writeFileSync(join(t.home, "cfg.json"), JSON.stringify({ allowMainnet: true, http: { prot: 1 } }));
    const probs = problemsOf(() =>
      loadConfig({ configPath: join(t.home, "cfg.json"), env: { TW_HOME: t.home }, cwd: t.home }),
    );
    expect(probs).toHaveLength(2);
  });

  it("a bad config makes the CLI exit 2, list every problem and write nothing", () => {
    const t = tempHome();
    cleanup = t.cleanup;
    const home = join(t.home, "never-created");
    const r = spawnSync("node", [CLI, "serve"], {
      env: { ...process.env, TW_HOME: home, TW_PROFILE: "god", TW_HTTP_PORT: "99999" },
      cwd: t.home,
      encoding: "utf8",
      input: "",
    });
    expect(r.status).toBe(2);
    expect(r.stderr).toContain("profile (from TW_PROFILE)");
    expect(r.stderr).toContain("http.port (from TW_HTTP_PORT)");
    expect(r.stdout).toBe("");
    expect(existsSync(home)).toBe(false);
  });
});
