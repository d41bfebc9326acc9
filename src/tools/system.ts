import { z } from "zod";
import { getControl } from "../store/control.js";
import { dbPath } from "../config.js";
import type { LeaseStatus } from "../background.js";
import { defineTool } from "./registry.js";

/** system toolset: status of the server as seen by the caller. */
export const systemTools = [
  defineTool({
    name: "system_get_status",
    toolset: "system",
    title: "Server status",
    description:
      "Version, your profile and scopes, venues, control mode, market data freshness, uptime, and whether this process holds the background lease (runs the cycle). Call it first. Times are ms UTC on the server's clock (replay time over replay data).",
    scope: null,
    annotations: { readOnlyHint: true, openWorldHint: false },
    input: z.object({}).strict(),
    output: z.object({
      version: z.string(),
      profile: z.string(),
      scopes: z.array(z.string()),
      venues: z.array(z.object({ id: z.string(), network: z.string(), allowed: z.boolean() })),
      default_venue: z.string(),
      market_data: z.string(),
      control: z.object({
        mode: z.string(),
        reason: z.string(),
        actor: z.string(),
        since: z.number().nullable(),
      }),
      gate_steps: z.array(z.string()),
      db_path: z.string(),
      lease: z.object({
        held: z.boolean(),
        jobs: z.array(z.string()),
        holder: z
          .object({ host: z.string(), pid: z.number(), since: z.number(), expires_at: z.number() })
          .nullable(),
      }),
      now: z.number(),
      uptime_ms: z.number(),
      components: z.record(z.string(), z.unknown()),
    }),
    handler: async (_args, { app, caller }) => {
      const cfg = app.config;
      const venueIds = new Set<string>(["paper", cfg.venues.default, cfg.cycle.venue]);
      for (const v of Object.keys(cfg.venues.allowMainnet)) venueIds.add(v);
      const venues = [...venueIds].map((id) => {
        const network = id === "paper" ? "paper" : (id.split(":")[1] ?? "unknown");
        return { id, network, allowed: network !== "mainnet" || cfg.venues.allowMainnet[id] === true };
      });
      const components: Record<string, unknown> = {};
      for (const [name, fn] of app.statusProviders) if (name !== "lease") components[name] = fn();
      const lease = (app.statusProviders.get("lease")?.() as LeaseStatus | undefined) ?? {
        held: false,
        jobs: [],
        holder: null,
      };
      const now = app.clock.now();
      const control = getControl(app.db);
      return {
        version: app.version,
        profile: caller.profile,
        scopes: [...caller.scopes].sort(),
        venues,
        default_venue: cfg.venues.default,
        market_data: cfg.marketData,
        // A mode never changed has no time (not 1970).
        control: { ...control, since: control.since > 0 ? control.since : null },
        gate_steps: app.gate.stepNames(),
        db_path: dbPath(cfg),
        lease,
        now,
        uptime_ms: Math.max(0, now - app.startedAt),
        components,
      };
    },
  }),
];
