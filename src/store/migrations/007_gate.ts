import type { Migration } from "./index.js";

/**
 * Gate under concurrency (issue 12): leases shared by processes on one home (the background-job
 * lease and one execution-lane lock per venue account), the worst-case notional of an intent (the
 * amount reserved against notional and leverage limits), and indexes for per-caller reads.
 */
export const m007Gate: Migration = {
  version: 7,
  name: "gate",
  up: `
CREATE TABLE leases (
  name TEXT PRIMARY KEY,
  holder TEXT NOT NULL,
  host TEXT NOT NULL,
  pid INTEGER NOT NULL,
  acquired_at INTEGER NOT NULL,
  renewed_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL
);
ALTER TABLE intents ADD COLUMN worst_notional TEXT;
CREATE INDEX intents_caller ON intents(caller, created_at);
CREATE INDEX orders_caller ON orders(caller, created_at);
CREATE INDEX audit_log_caller ON audit_log(caller, id);
`,
};
