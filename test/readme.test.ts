import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { allTools } from "../src/tools/index.js";

const README = readFileSync(join(import.meta.dirname, "..", "README.md"), "utf8");

describe("README", () => {
  it("lists exactly the tools the server has, with their toolset and scope", () => {
    const rows = [...README.matchAll(/^\| `([a-z_]+)` \| ([a-z]+) \| (none|`[a-z:]+`) \|/gm)].map((m) => ({
      name: m[1],
      toolset: m[2],
      scope: m[3] === "none" ? null : m[3].slice(1, -1),
    }));
    const tools = allTools().map((t) => ({ name: t.name, toolset: t.toolset, scope: t.scope }));
    const byName = (a: { name: string }, b: { name: string }) => a.name.localeCompare(b.name);
    expect(rows.sort(byName)).toEqual(tools.sort(byName));
  });

  it("starts with the install-and-run command and the test command", () => {
    const lines = README.split("```")[1]
      .split("\n")
      .map((l) => l.replace(/#.*$/, "").trim())
      .filter((l) => l !== "" && l !== "bash");
    expect(lines).toEqual(["npm ci && npm run build && node dist/cli.js replay", "npm ci && npm test"]);
  });
});

describe("the clone is self-contained", () => {
  const root = join(import.meta.dirname, "..");
  const files = (dir: string): string[] =>
    readdirSync(join(root, dir), { withFileTypes: true }).flatMap((e) =>
      e.isDirectory() ? files(join(dir, e.name)) : [join(dir, e.name)],
    );
  it("nothing in src/, test/, evals/, .ci/ or the README refers to a folder beside the repository", () => {
    const all = [...files("src"), ...files("test"), ...files("evals"), ...files(".ci"), "README.md"];
    // Spelled in two parts so this file does not match itself.
    const sibling = ["..", "/shared"].join("");
    const offenders = all.filter((f) => readFileSync(join(root, f), "utf8").includes(sibling));
    expect(offenders).toEqual([]);
  });
});
