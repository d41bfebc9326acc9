import type { App } from "../app.js";
import type { Component } from "../components.js";
import { consoleIntentUrl } from "../console/url.js";
import { VenueRegistry } from "../exchange/venues.js";
import type { ApprovalRequestEnv } from "../policy/approval.js";
import { registerPolicySteps } from "../policy/steps.js";
import { isMainnet } from "../policy/venueGuard.js";
import { listOrders } from "../store/orders.js";
import { OrderService, SUBMIT_SCOPE } from "./service.js";

declare module "../app.js" {
  interface App {
    /** Execution venues by id (paper, hyperliquid:testnet, okx:demo, ...). */
    venues: VenueRegistry;
    /** Intents, submissions, cancels and order-status resolution. */
    orders: OrderService;
    /** What approval decisions and requests read (src/policy/approval.ts). */
    approval: ApprovalRequestEnv;
  }
}

/**
 * The orders component (issue 4): venues, the order service and the policy steps of the gate.
 * Installed after the market component (the paper venue prices on `app.market`). On install, orders
 * a killed process left `pending` become `unknown`, to be resolved by order status before anything
 * new is sent for them.
 */
export const ordersComponent: Component = {
  name: "orders",
  install(app: App) {
    app.venues = new VenueRegistry(app);
    app.orders = new OrderService({
      db: app.db,
      clock: app.clock,
      log: app.log,
      venues: app.venues,
      autoApproveNotional: app.config.paper.autoApproveNotional,
    });
    app.approval = {
      db: app.db,
      clock: app.clock,
      log: app.log,
      cycleVenue: app.config.cycle.venue,
      ttlMs: app.config.approval.ttlMs,
      trustFormElicitation: app.config.approval.trustFormElicitation,
      urlWaitMs: app.config.approval.urlWaitMs,
      urlWatchMs: app.config.approval.urlWatchMs,
      consoleUrl: (id) => consoleIntentUrl(app.config, id),
    };
    registerPolicySteps(app, {
      [SUBMIT_SCOPE]: (row) => {
        const id = row.result ? (JSON.parse(row.result) as { order_id?: string }).order_id : undefined;
        return id ? app.orders.pendingViewById(id) : undefined;
      },
    });
    const interrupted = app.orders.markInterrupted();
    if (interrupted > 0)
      app.log.warn({ orders: interrupted }, "orders left pending by a previous process are now unknown");
    app.statusProviders.set("orders", () => ({
      venues: app.venues.ids().map((id) => ({
        id,
        mainnet: isMainnet(id),
        allowed: !isMainnet(id) || app.config.venues.allowMainnet[id] === true,
      })),
      unknown_orders: listOrders(app.db, { statuses: ["unknown"], limit: 1000 }).length,
    }));
  },
};
