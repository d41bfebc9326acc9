import { type SpawnOptions, spawn } from "node:child_process";

/** What {@link runAsync} returns: exit status (null when killed by a signal) and the whole output. */
export interface RunResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs a command to completion without blocking this process's event loop (tests whose local stub
 * or fixture server answers the child from here cannot use spawnSync).
 * @throws (rejects) when the command cannot be started.
 */
export function runAsync(cmd: string, args: string[], opts: SpawnOptions = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { ...opts, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout?.on("data", (b: Buffer) => {
      stdout += b.toString("utf8");
    });
    child.stderr?.on("data", (b: Buffer) => {
      stderr += b.toString("utf8");
    });
    child.on("error", reject);
    child.on("close", (status) => resolve({ status, stdout, stderr }));
  });
}
