import { readdirSync, readFileSync } from "node:fs";
import { basename, join } from "node:path";
import { parse as parseYaml } from "yaml";
import type { z } from "zod";
import { CallStepSchema, type Scenario, ScenarioSchema, StepSchema } from "./schema.js";

/**
 * Loads scenario files (`*.yaml` / `*.yml`) with the `yaml` package and validates them with zod.
 * Problems name the file and the field, so a broken scenario is fixed in one go.
 */

/** A scenario with the file it came from (relative name, for reports). */
export interface LoadedScenario {
  file: string;
  scenario: Scenario;
}

/** Thrown when a scenario file is not valid YAML or does not match the schema. */
export class ScenarioError extends Error {
  constructor(
    readonly file: string,
    readonly problems: string[],
  ) {
    super(`${file}: invalid scenario:\n${problems.map((p) => `  - ${p}`).join("\n")}`);
    this.name = "ScenarioError";
  }
}

function issues(prefix: string, err: z.ZodError): string[] {
  return err.issues.map((i) => {
    const path = [prefix, ...i.path.map(String)].filter((s) => s !== "").join(".");
    return `${path || "(root)"}: ${i.message}`;
  });
}

/**
 * Steps are a union (call | advance_clock_ms | concurrent); a plain union reports "invalid input"
 * without saying why, so each step is checked against the schema its keys select.
 */
function stepProblems(steps: unknown): string[] {
  if (!Array.isArray(steps)) return [];
  const out: string[] = [];
  steps.forEach((s, i) => {
    if (s === null || typeof s !== "object") {
      out.push(`steps.${i}: expected a mapping`);
      return;
    }
    const keys = Object.keys(s);
    const pick: Array<[string, number]> = [
      ["concurrent", 2],
      ["advance_clock_ms", 1],
      ["list_tools", 3],
      ["cli", 4],
    ];
    const hit = pick.find(([k]) => keys.includes(k));
    const schema = hit ? StepSchema.options[hit[1]] : CallStepSchema;
    const r = schema.safeParse(s);
    if (!r.success) out.push(...issues(`steps.${i}`, r.error));
  });
  return out;
}

/**
 * Parses one scenario from YAML text.
 * @throws ScenarioError listing every problem.
 */
export function parseScenario(text: string, file: string): Scenario {
  let raw: unknown;
  try {
    raw = parseYaml(text);
  } catch (e) {
    throw new ScenarioError(file, [`YAML: ${(e as Error).message}`]);
  }
  const r = ScenarioSchema.safeParse(raw);
  if (r.success) return r.data;
  const stepIssues = stepProblems((raw as { steps?: unknown } | null)?.steps);
  const other = issues("", r.error).filter((p) => !p.startsWith("steps."));
  throw new ScenarioError(file, [...other, ...stepIssues]);
}

/**
 * Loads every scenario file of a folder, sorted by scenario name (deterministic order).
 * @param filter keeps scenarios whose name or file contains this substring, or matches it as a
 *   `*` glob (e.g. `orders_*`).
 * @throws ScenarioError on the first invalid file; Error on duplicate names.
 */
export function loadScenarios(dir: string, filter?: string): LoadedScenario[] {
  const files = readdirSync(dir)
    .filter((f) => /\.ya?ml$/.test(f))
    .sort();
  const out: LoadedScenario[] = [];
  const names = new Map<string, string>();
  for (const f of files) {
    const scenario = parseScenario(readFileSync(join(dir, f), "utf8"), f);
    const prev = names.get(scenario.name);
    if (prev) throw new Error(`scenario name ${scenario.name} is used by both ${prev} and ${f}`);
    names.set(scenario.name, f);
    out.push({ file: basename(f), scenario });
  }
  const keep = filter ? matcher(filter) : () => true;
  return out
    .filter((s) => keep(s.scenario.name) || keep(s.file))
    .sort((a, b) => (a.scenario.name < b.scenario.name ? -1 : a.scenario.name > b.scenario.name ? 1 : 0));
}

function matcher(pattern: string): (s: string) => boolean {
  if (!pattern.includes("*")) return (s) => s.includes(pattern);
  const re = new RegExp(`^${pattern.split("*").map(escapeRe).join(".*")}$`);
  return (s) => re.test(s);
}

function escapeRe(s: string): string {
  return s.replace(/[.+?^${}()|[\]\\]/g, "\\$&");
}
