import { describe, expect, it } from "vitest";
import { summarizeProposal } from "../../src/orders/proposalSummary.js";
import type { IntentView } from "../../src/orders/views.js";

function view(over: Partial<IntentView> = {}): IntentView {
  return {
    intent_id: "int_1",
    venue: "paper",
    symbol: "ADA",
    side: "buy",
    type: "limit",
    tif: "GTC",
    size: "647",
    price: "0.7415",
    ref_price: "0.7379",
    notional: "479.7505",
    est_fee: "0.215887725",
    reduce_only: false,
    take_profit: null,
    stop_loss: null,
    trailing_stop_bps: null,
    max_hold_minutes: null,
    client_order_id: "cyc:ADA:1:buy",
    approval_needed: false,
    approval_state: "not_needed",
    checks: [
      {
        check: "symbol_allowed",
        passed: true,
        limit: ["BTC", "ADA"],
        value: "ADA",
        message: "ADA must be in the allow-list",
      },
      {
        check: "min_notional",
        passed: true,
        limit: 10,
        value: 479.7505,
        message: "notional 479.75 must be ≥ 10",
      },
      {
        check: "max_open_orders",
        passed: false,
        limit: 50,
        value: 51,
        message: "open orders 51 must be ≤ 50",
      },
    ],
    preview: "BUY 647 ADA on paper, limit 0.7415, GTC, notional ≈ 479.75, est. fee ≈ 0.2159",
    created_at: 1_748_173_020_000,
    ...over,
  };
}

describe("order_propose audit summary", () => {
  it("keeps the decision and every check's limit and value, marks a failed check, drops prose and nulls", () => {
    expect(summarizeProposal(view())).toEqual({
      intent_id: "int_1",
      symbol: "ADA",
      side: "buy",
      size: "647",
      price: "0.7415",
      ref_price: "0.7379",
      notional: "479.7505",
      est_fee: "0.215887725",
      approval: "not_needed",
      checks: {
        symbol_allowed: [["BTC", "ADA"], "ADA"],
        min_notional: [10, 479.7505],
        "!max_open_orders": [50, 51],
      },
    });
  });

  it("keeps reduce-only, TP/SL prices and guard settings when they are set", () => {
    const s = summarizeProposal(
      view({
        side: "sell",
        reduce_only: true,
        take_profit: "0.8",
        stop_loss: "0.7",
        trailing_stop_bps: 150,
        max_hold_minutes: 60,
        approval_needed: true,
        approval_state: "by_config",
      }),
    );
    expect(s).toMatchObject({
      side: "sell",
      reduce_only: true,
      take_profit: "0.8",
      stop_loss: "0.7",
      trailing_stop_bps: 150,
      max_hold_minutes: 60,
      approval: "by_config",
    });
  });

  it("is at most a third of the whole view's JSON for a ten-check proposal", () => {
    const checks = Array.from({ length: 10 }, (_, i) => ({
      check: `check_${i}`,
      passed: true,
      limit: 50_000,
      value: 479.7505,
      message: `notional at the worst execution price 479.75 must be ≤ 50000 (${i})`,
    }));
    const v = view({ checks });
    expect(JSON.stringify(summarizeProposal(v)).length * 3).toBeLessThan(JSON.stringify(v).length);
  });
});
