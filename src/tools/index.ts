import { accountTools } from "./account.js";
import { alertTools } from "./alerts.js";
import { auditTools } from "./audit.js";
import { controlTools } from "./control.js";
import { knowledgeTools } from "./knowledge.js";
import { marketTools } from "./market.js";
import { orderTools } from "./orders.js";
import { portfolioTools } from "./portfolio.js";
import type { AnyToolDef } from "./registry.js";
import { checkCatalog } from "./registry.js";
import { researchTools } from "./research.js";
import { systemTools } from "./system.js";

/**
 * The whole tool catalog. Each toolset lives in its own file and is added here with one line.
 * @throws Error when the catalog breaks a naming or strictness rule (checked at start-up; the
 *   error-field check of result schemas runs in test/tools/registry.test.ts).
 */
export function allTools(): AnyToolDef[] {
  const tools: AnyToolDef[] = [
    ...systemTools,
    ...marketTools,
    ...auditTools,
    ...knowledgeTools,
    ...orderTools,
    ...accountTools,
    ...controlTools,
    ...portfolioTools,
    ...researchTools,
    ...alertTools,
  ];
  // The output-schema check converts every result schema (≈ 30 ms of start-up) and depends only on
  // the build: test/tools/registry.test.ts runs the full check on this catalog instead (issue 15).
  checkCatalog(tools, { outputSchemas: false });
  return tools;
}
