import { Decimal } from "decimal.js";
import type { App } from "../app.js";
import { toTwError } from "../errors.js";
import { submitThroughGate } from "../orders/ops.js";
import type { SubmitView } from "../orders/views.js";
import type { Caller } from "../policy/scopes.js";
import { appendAudit } from "../store/audit.js";
import { appendEvent } from "../store/cycles.js";
import { type GuardRow, guardCandidates, saveGuard } from "../store/guards.js";

/**
 * The position-guard loop for venues that do not evaluate guards themselves (live venues; the paper
 * venue does it bar by bar, src/exchange/paper/venue.ts). An entry intent with `trailing_stop_bps`
 * and/or `max_hold_minutes` arms a guard once its order has filled; every pass (a background job,
 * `guard.intervalMs`, default 5 s):
 *   - reads the venue's position and mark; a position that is gone or flipped ends the guard;
 *   - trailing stop: the best mark since the fill (highest for a long, lowest for a short) is kept;
 *     the guard fires when the mark retraces `trailing_stop_bps` from it;
 *   - time exit: the guard fires `max_hold_minutes` after the fill;
 *   - an exit is a reduce-only market order for min(filled size, position) through the gate
 *     (caller `system:guard`, client id `guard:<intent>:trail|time`, idempotent), approved by the
 *     approval of the entry intent whose payload hash covered the guard; it is audited as
 *     `guard.exit` with its reason, and the guard is done.
 * Granularity is the loop interval (a mark between two passes is not seen); the exit is a market
 * order, so it fills at the venue's price then, not at the stop level.
 */
export class PositionGuard {
  readonly caller: Caller = {
    id: "system:guard",
    profile: "agent",
    scopes: new Set(["orders:propose", "orders:submit"]),
    transport: "system",
  };

  constructor(private readonly app: App) {}

  /** One pass over every armed guard. Never throws; failures are logged and retried next pass. */
  async evaluate(): Promise<
    Array<{ intent_id: string; action: "armed" | "held" | "exit" | "done"; reason?: string }>
  > {
    const { app } = this;
    const out: Array<{ intent_id: string; action: "armed" | "held" | "exit" | "done"; reason?: string }> = [];
    const byVenue = new Map<string, ReturnType<typeof guardCandidates>>();
    for (const c of guardCandidates(app.db)) {
      const list = byVenue.get(c.venue) ?? [];
      list.push(c);
      byVenue.set(c.venue, list);
    }
    for (const [venueId, list] of byVenue) {
      try {
        const venue = app.venues.get(venueId);
        if (venue.nativeGuards) continue;
        const acct = await venue.accountState();
        for (const c of list) {
          const now = app.clock.now();
          const pos = acct.positions.find((p) => p.symbol === c.symbol);
          const long = c.side === "buy";
          const g: GuardRow = c.guard ?? {
            intent_id: c.intent_id,
            venue: venueId,
            symbol: c.symbol,
            client_order_id: c.client_order_id,
            entry_side: c.side,
            trailing_stop_bps: c.trailing_stop_bps,
            max_hold_ms: c.max_hold_minutes ? c.max_hold_minutes * 60_000 : null,
            status: "armed",
            armed_at: c.filled_at,
            peak_px: c.avg_px ?? pos?.mark_px ?? "0",
            exit_reason: null,
            exit_client_order_id: null,
            updated_at: now,
          };
          if (!c.guard) out.push({ intent_id: c.intent_id, action: "armed" });
          if (g.status === "exiting" && g.exit_reason) {
            // A refused or interrupted exit is retried with the same client id (never sent twice).
            const tag = g.exit_client_order_id?.endsWith(":time") ? "time" : "trail";
            const left = new Decimal(pos?.size ?? 0).abs();
            if (left.isZero()) {
              saveGuard(app.db, { ...g, status: "done", updated_at: now });
              out.push({ intent_id: c.intent_id, action: "done", reason: g.exit_reason });
            } else
              out.push(await this.exit(g, Decimal.min(left, c.filled_size), { tag, reason: g.exit_reason }));
            continue;
          }
          const size = new Decimal(pos?.size ?? 0);
          if (size.isZero() || size.isPositive() !== long) {
            saveGuard(app.db, { ...g, status: "done", exit_reason: "position closed", updated_at: now });
            out.push({ intent_id: c.intent_id, action: "done", reason: "position closed" });
            continue;
          }
          const mark = new Decimal(pos!.mark_px);
          const peak = long ? Decimal.max(g.peak_px, mark) : Decimal.min(g.peak_px, mark);
          let exit: { tag: "trail" | "time"; reason: string } | null = null;
          if (g.trailing_stop_bps) {
            const f = g.trailing_stop_bps / 10_000;
            const stop = long ? peak.times(1 - f) : peak.times(1 + f);
            if (long ? mark.lte(stop) : mark.gte(stop))
              exit = {
                tag: "trail",
                reason: `trailing stop ${g.trailing_stop_bps} bps: mark ${mark} retraced from the best ${peak} past ${stop.toSignificantDigits(10)}`,
              };
          }
          if (!exit && g.max_hold_ms && now >= g.armed_at + g.max_hold_ms)
            exit = {
              tag: "time",
              reason: `held ${Math.round(g.max_hold_ms / 60_000)} min (max_hold_minutes)`,
            };
          if (!exit) {
            saveGuard(app.db, { ...g, peak_px: peak.toString(), updated_at: now });
            out.push({ intent_id: c.intent_id, action: "held" });
            continue;
          }
          out.push(
            await this.exit({ ...g, peak_px: peak.toString() }, Decimal.min(size.abs(), c.filled_size), exit),
          );
        }
      } catch (e) {
        app.log.warn({ venue: venueId, err: toTwError(e).message }, "position guard pass failed");
      }
    }
    return out;
  }

  private async exit(
    g: GuardRow,
    qty: Decimal,
    exit: { tag: "trail" | "time"; reason: string },
  ): Promise<{ intent_id: string; action: "exit"; reason: string }> {
    const { app } = this;
    const now = app.clock.now();
    const cid = `guard:${g.intent_id}:${exit.tag}`;
    saveGuard(app.db, {
      ...g,
      status: "exiting",
      exit_reason: exit.reason,
      exit_client_order_id: cid,
      updated_at: now,
    });
    const out = await submitThroughGate(
      app,
      this.caller,
      {
        venue: g.venue,
        symbol: g.symbol,
        side: g.entry_side === "buy" ? "sell" : "buy",
        type: "market",
        size: qty.toNumber(),
        reduce_only: true,
        client_order_id: cid,
      },
      {
        actor: this.caller.id,
        reason: `guard exit of intent ${g.intent_id}, approved with its guard`,
        via: "config",
      },
    );
    const status = out.ok ? (out.result as SubmitView).status : `refused: ${out.error.code}`;
    appendAudit(app.db, {
      ts: now,
      caller: this.caller.id,
      tool: "guard.exit",
      args: { intent_id: g.intent_id, venue: g.venue, symbol: g.symbol, client_order_id: cid },
      decision: out.ok ? "allowed" : "refused",
      code: out.ok ? null : out.error.code,
      result: { reason: exit.reason, size: qty.toFixed(), status },
      durationMs: 0,
    });
    appendEvent(app.db, { ts: now, kind: "guard_exit", detail: { ...g, reason: exit.reason, status } });
    // A refused exit stays `exiting` → retried next pass with the same client id (never sent twice).
    if (out.ok)
      saveGuard(app.db, {
        ...g,
        status: "done",
        exit_reason: exit.reason,
        exit_client_order_id: cid,
        updated_at: now,
      });
    return { intent_id: g.intent_id, action: "exit", reason: exit.reason };
  }

  /** Background loop: a pass every `guard.intervalMs`. Returns the stop function. */
  start(): () => Promise<void> {
    let stopped = false;
    let running: Promise<unknown> = Promise.resolve();
    const timer = setInterval(() => {
      if (stopped) return;
      running = running
        .then(() => this.evaluate())
        .catch((err) => this.app.log.error({ err }, "guard loop failed"));
    }, this.app.config.guard.intervalMs);
    return async () => {
      stopped = true;
      clearInterval(timer);
      await running;
    };
  }
}
