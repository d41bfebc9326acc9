import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { runEvals, withoutTimings } from "../../src/evals/index.js";
import { PROFILE_SCOPES, type Scope } from "../../src/policy/scopes.js";
import { DATA } from "../helpers/app.js";

let dir: string | undefined;
afterEach(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
  dir = undefined;
});

/** Writes scenario files into a fresh folder. */
function scenarios(files: Record<string, string>): string {
  dir = mkdtempSync(join(tmpdir(), "tw-evals-test-"));
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  return dir;
}

const WRONG_CODE = `
name: wrong_code
guarantee: a deliberately wrong expectation (the call fails with INVALID_INPUT)
steps:
  - call: system_get_status
    args: { bogus: 1 }
    expect: { code: FORBIDDEN_SCOPE }
  - call: system_get_status
`;
const RIGHT_CODE = `
name: right_code
guarantee: the same call with the right expectation, plus audit counts
steps:
  - call: system_get_status
    args: { bogus: 1 }
    expect: { code: INVALID_INPUT }
  - call: system_get_status
    match: { profile: agent, control: { mode: NORMAL } }
final:
  audit:
    - { tool: system_get_status, decision: refused, code: INVALID_INPUT, count: 1 }
    - { tool: system_get_status, decision: allowed, caller_profile: agent, count: 1 }
`;
const WRONG_AUDIT = `
name: wrong_audit
guarantee: an audit count that does not hold turns the scenario red
steps:
  - call: system_get_status
final:
  audit:
    - { tool: system_get_status, count: 2 }
`;
const LEAK = `
name: leak
guarantee: a configured secret that shows up in a result is reported
setup:
  env:
    # The value appears in system_get_status.db_path, standing in for a leaked key.
    FAKE_API_KEY: "/tradewarden.db"
steps:
  - call: system_get_status
`;

describe("eval runner", () => {
  it("a scenario expecting the wrong code fails and names both codes; later steps do not run", async () => {
    const r = await runEvals({ dir: scenarios({ "a.yaml": WRONG_CODE }), dataDir: DATA });
    const s = r.scenarios[0];
    expect(s.result).toBe("fail");
    expect(s.steps_passed).toBe(0);
    expect(s.failures).toHaveLength(1);
    expect(s.failures[0]).toMatch(
      /^step 1 \(call system_get_status\): expected FORBIDDEN_SCOPE, got INVALID_INPUT/,
    );
    expect(r.summary).toEqual({ total: 1, passed: 0, failed: 1, not_applicable: 0 });
  });

  it("a scenario whose expectations and audit counts hold passes", async () => {
    const r = await runEvals({ dir: scenarios({ "b.yaml": RIGHT_CODE }), dataDir: DATA });
    expect(r.scenarios[0]).toMatchObject({
      name: "right_code",
      result: "pass",
      steps: 2,
      steps_passed: 2,
      failures: [],
    });
  });

  it("a final audit assertion that does not hold fails the scenario with the counts", async () => {
    const r = await runEvals({ dir: scenarios({ "c.yaml": WRONG_AUDIT }), dataDir: DATA });
    expect(r.scenarios[0].result).toBe("fail");
    expect(r.scenarios[0].failures).toEqual([
      "final audit [tool=system_get_status]: expected 2 row(s), got 1",
    ]);
  });

  it("the secrets scan reports a configured secret found in a tool result, by name only", async () => {
    const r = await runEvals({ dir: scenarios({ "d.yaml": LEAK }), dataDir: DATA });
    const s = r.scenarios[0];
    expect(s.result).toBe("fail");
    expect(s.failures).toContain(
      "secret FAKE_API_KEY found in the result of step 1 (call system_get_status)",
    );
    expect(s.failures.join("\n")).not.toContain("/tradewarden.db");
  });

  it("a scenario that advances the clock is n/a on a child-process transport, not failed", async () => {
    const text = `
name: clocked
guarantee: needs the simulated clock of the in-process server
steps:
  - advance_clock_ms: 1000
  - call: system_get_status
`;
    const r = await runEvals({
      dir: scenarios({ "e.yaml": text }),
      transport: "stdio",
      dataDir: DATA,
    });
    expect(r.scenarios[0].result).toBe("n/a");
    expect(r.summary.failed).toBe(0);
  });

  it("is deterministic: two runs give identical reports apart from durations, failures included", async () => {
    const d = scenarios({ "a.yaml": WRONG_CODE, "b.yaml": RIGHT_CODE, "c.yaml": WRONG_AUDIT });
    const one = await runEvals({ dir: d, dataDir: DATA });
    const two = await runEvals({ dir: d, dataDir: DATA });
    expect(one.scenarios.map((s) => s.name)).toEqual(["right_code", "wrong_audit", "wrong_code"]);
    expect(JSON.stringify(withoutTimings(two))).toBe(JSON.stringify(withoutTimings(one)));
  });

  it("is deterministic on shipped order-flow scenarios (real replay data, paper venue)", async () => {
    const filter = "operator_approval_then_paper_fill";
    const one = await runEvals({ filter, dataDir: DATA });
    const two = await runEvals({ filter, dataDir: DATA });
    expect(one.summary.total).toBe(1);
    expect(withoutTimings(two)).toEqual(withoutTimings(one));
  });

  it("letting the agent profile resume turns the halt/resume scenario red", async () => {
    const agent = PROFILE_SCOPES.agent as Set<Scope>;
    agent.add("control:loosen");
    try {
      const r = await runEvals({ filter: "agent_can_halt_but_not_resume", dataDir: DATA });
      expect(r.scenarios[0].result).toBe("fail");
      expect(r.scenarios[0].failures.join("\n")).toMatch(/control_resume/);
    } finally {
      agent.delete("control:loosen");
    }
  });
});
