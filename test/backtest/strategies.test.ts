import { describe, expect, it } from "vitest";
import { z } from "zod";
import { describeStrategies, STRATEGIES } from "../../src/backtest/strategies/index.js";

describe("the strategy catalogue", () => {
  it("describes every strategy with its params converted by zod, call after call", () => {
    const direct = STRATEGIES.map((s) => {
      const { $schema: _, ...js } = z.toJSONSchema(s.params, {
        io: "input",
        unrepresentable: "any",
      }) as Record<string, unknown>;
      return { name: s.name, description: s.description, kind: s.kind, params_schema: js };
    });
    expect(describeStrategies()).toEqual(direct);
    expect(describeStrategies()).toEqual(direct);
  });

  it("a caller that alters its copy does not alter the next caller's", () => {
    const first = describeStrategies();
    const before = JSON.stringify(first);
    (first[0].params_schema as Record<string, unknown>).properties = "changed";
    first.pop();
    expect(JSON.stringify(describeStrategies())).toBe(before);
  });
});
