import { m001Foundation } from "./001_foundation.js";
import { m002Market } from "./002_market.js";
import { m003Orders } from "./003_orders.js";
import { m004Engine } from "./004_engine.js";
import { m005Research } from "./005_research.js";
import { m006Knowledge } from "./006_knowledge.js";
import { m008Book } from "./008_book.js";

/**
 * A versioned schema change. `up` is plain SQL run in one transaction with the version bump.
 * Numbers are reserved per area so parallel work does not collide:
 * 1 foundation · 2 market data · 3 orders/venues · 4 engine/cycle · 5 research · 6 knowledge ·
 * 8 the book (issue 13: funding once, participation, liquidation, guards, portfolio limits).
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
  m008Book,
];
