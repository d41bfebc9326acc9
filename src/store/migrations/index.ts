import { m001Foundation } from "./001_foundation.js";
import { m002Market } from "./002_market.js";
import { m003Orders } from "./003_orders.js";
import { m004Engine } from "./004_engine.js";
import { m005Research } from "./005_research.js";
import { m006Knowledge } from "./006_knowledge.js";
import { m007Gate } from "./007_gate.js";
import { m008Book } from "./008_book.js";
import { m009Console } from "./009_console.js";
import { m010Alerts } from "./010_alerts.js";
import { m011Decisions } from "./011_decisions.js";
import { m012ResearchDiagnostics } from "./012_research_diagnostics.js";
import { m014Speed } from "./014_speed.js";
import { m015CycleBlocks } from "./015_cycle_blocks.js";

/**
 * A versioned schema change. `up` is plain SQL run in one transaction with the version bump.
 * Numbers are reserved per area so parallel work does not collide:
 * 1 foundation · 2 market data · 3 orders/venues · 4 engine/cycle · 5 research · 6 knowledge ·
 * 7 gate (leases, lanes) · 8 book · 9 console · 10 alerts · 11 decisions · 12 research diagnostics ·
 * 13 data · 14 speed · 15 cycle blocks.
 */
export interface Migration {
  version: number;
  name: string;
  up: string;
}

/** All migrations, in version order. */
export const MIGRATIONS: readonly Migration[] = [
  m001Foundation,
  m002Market,
  m003Orders,
  m004Engine,
  m005Research,
  m006Knowledge,
  m007Gate,
  m008Book,
  m009Console,
  m010Alerts,
  m011Decisions,
  m012ResearchDiagnostics,
  m014Speed,
  m015CycleBlocks,
];
