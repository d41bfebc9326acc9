import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { type App, createApp } from "../../src/app.js";
import type { Clock } from "../../src/clock.js";
import { createLogger } from "../../src/log.js";
import { tempHome, testConfig } from "../helpers/app.js";

/**
 * An app on a fresh home with `config` written to its tradewarden.config.json (for keys that have
 * no environment variable) and `env` on top. `reopen` builds a second app on the same home: another
 * process, or the same one after a restart.
 */
export async function alertApp(
  opts: { config?: Record<string, unknown>; env?: Record<string, string>; clock?: Clock } = {},
): Promise<{
  app: App;
  home: string;
  reopen: (clock?: Clock) => Promise<App>;
  cleanup: () => Promise<void>;
}> {
  const t = tempHome();
  writeFileSync(join(t.home, "tradewarden.config.json"), JSON.stringify(opts.config ?? {}));
  const apps: App[] = [];
  const open = async (clock?: Clock) => {
    const app = await createApp(testConfig(t.home, opts.env ?? {}), { clock, log: createLogger("silent") });
    apps.push(app);
    return app;
  };
  const app = await open(opts.clock);
  return {
    app,
    home: t.home,
    reopen: open,
    cleanup: async () => {
      for (const a of apps.reverse()) await a.close();
      t.cleanup();
    },
  };
}
