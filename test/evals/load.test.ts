import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { loadScenarios, parseScenario, ScenarioError } from "../../src/evals/load.js";
import { repoRoot, scenarioDir } from "../../src/evals/paths.js";

describe("scenario loading", () => {
  it("names the file and every bad field of an invalid scenario", () => {
    const text = `
name: Bad Name
guarantee: short
steps:
  - call: system_get_status
    expect: { code: NOT_A_CODE }
  - advance_clock_ms: -5
`;
    let err: unknown;
    try {
      parseScenario(text, "bad.yaml");
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ScenarioError);
    const problems = (err as ScenarioError).problems.join("\n");
    expect((err as ScenarioError).message).toMatch(/^bad\.yaml: invalid scenario/);
    expect(problems).toMatch(/name:/);
    expect(problems).toMatch(/guarantee:/);
    expect(problems).toMatch(/steps\.0\.expect/);
    expect(problems).toMatch(/steps\.1\.advance_clock_ms/);
  });

  it("reports YAML syntax errors as scenario errors", () => {
    expect(() => parseScenario("name: [unclosed", "y.yaml")).toThrow(ScenarioError);
  });

  it("applies defaults: agent profile, NORMAL control, expect ok, all transports", () => {
    const s = parseScenario(
      "name: d\nguarantee: defaults are applied\nsteps:\n  - call: system_get_status\n",
      "d.yaml",
    );
    expect(s.setup.profile).toBe("agent");
    expect(s.setup.control).toBe("NORMAL");
    expect(s.setup.transports).toEqual(["memory", "stdio", "http"]);
    expect(s.steps[0]).toMatchObject({ call: "system_get_status", expect: "ok", repeat: 1 });
  });

  it("ships at least 25 valid scenarios with unique names, sorted by name", () => {
    const all = loadScenarios(scenarioDir());
    expect(all.length).toBeGreaterThanOrEqual(25);
    const names = all.map((s) => s.scenario.name);
    expect(new Set(names).size).toBe(names.length);
    expect([...names].sort()).toEqual(names);
  });

  it("filters by substring and by glob", () => {
    const mainnet = loadScenarios(scenarioDir(), "mainnet_blocked").map((s) => s.scenario.name);
    expect(mainnet).toEqual(["mainnet_blocked_every_ccxt_venue", "mainnet_blocked_hyperliquid"]);
    const glob = loadScenarios(scenarioDir(), "risk_rejected_*").map((s) => s.scenario.name);
    expect(glob.length).toBe(4);
    expect(glob.every((n) => n.startsWith("risk_rejected_"))).toBe(true);
  });

  it("docs/evals.md lists every shipped scenario", () => {
    const doc = readFileSync(join(repoRoot(), "docs", "evals.md"), "utf8");
    const missing = loadScenarios(scenarioDir())
      .map((s) => s.scenario.name)
      .filter((n) => !doc.includes(`\`${n}\``));
    expect(missing).toEqual([]);
  });
});
