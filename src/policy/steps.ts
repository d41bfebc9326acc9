import type { App } from "../app.js";
import { approvalStep } from "./approval.js";
import { controlStep } from "./control.js";
import { idempotencyStep, type PendingView } from "./idempotency.js";
import { limitScopeStep } from "./limitScope.js";
import { riskStep } from "./risk.js";
import { toolBudgetStep } from "./toolBudget.js";
import { venueGuardStep } from "./venueGuard.js";

/**
 * Registers the policy steps of DESIGN.md §3 on the App's gate, in their fixed order:
 * limit scope 20 (who may loosen a limit, issue 13) · rate limit 40 · [execution lane] idempotency 50 ·
 * control 55 · venue guard 60 · risk 70 · approval 80 (src/policy/gate.ts explains the lane and the
 * order).
 * @param views how the idempotency step shows an in-flight/ambiguous call per operation.
 */
export function registerPolicySteps(app: App, views: Record<string, PendingView>): void {
  app.gate
    .use(limitScopeStep(app))
    .use(controlStep())
    .use(toolBudgetStep(app.config.rateLimit.toolCallsPerMinute, app.clock))
    .use(idempotencyStep(views))
    .use(venueGuardStep(app.config))
    .use(riskStep(app))
    .use(approvalStep(app.approval, app.approval.consoleUrl));
}
