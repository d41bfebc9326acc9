import type { Migration } from "./index.js";

/**
 * Alerts (issue 16, docs/alerts.md): one row per alert with its lifecycle (raised, last seen,
 * resolved, acknowledged), an append-only log of the events channels deliver (raised / resolved),
 * and one delivery record per attempt and channel.
 *
 * Guarantees kept by the schema, so they hold across processes sharing one home:
 * - at most one open alert per dedupe key (`alerts_open_key`), and at most one alert per cause
 *   (`alerts_source`, e.g. `control_state:12`), so two monitors never raise the same thing twice;
 * - at most one in-flight or final delivery per event and channel (`alert_deliveries_once`): a
 *   second sender cannot claim an event another one is sending or has delivered. `owner` names the
 *   process of an attempt, so a restarted process recognises attempts its dead predecessor left.
 */
export const m010Alerts: Migration = {
  version: 10,
  name: "alerts",
  up: `
CREATE TABLE alerts (
  id INTEGER PRIMARY KEY,
  kind TEXT NOT NULL,
  severity TEXT NOT NULL CHECK (severity IN ('info','warning','critical')),
  dedupe_key TEXT NOT NULL,
  message TEXT NOT NULL,
  details TEXT NOT NULL,
  source TEXT,
  notice INTEGER NOT NULL DEFAULT 0,
  muted TEXT,
  raised_at INTEGER NOT NULL,
  last_seen_at INTEGER NOT NULL,
  occurrences INTEGER NOT NULL DEFAULT 1,
  resolved_at INTEGER,
  resolution TEXT,
  acked_at INTEGER,
  acked_by TEXT,
  ack_note TEXT
);
CREATE UNIQUE INDEX alerts_open_key ON alerts(dedupe_key) WHERE resolved_at IS NULL;
CREATE UNIQUE INDEX alerts_source ON alerts(source) WHERE source IS NOT NULL;
CREATE INDEX alerts_key_raised ON alerts(dedupe_key, raised_at);
CREATE INDEX alerts_raised ON alerts(raised_at);

CREATE TABLE alert_events (
  id INTEGER PRIMARY KEY,
  alert_id INTEGER NOT NULL REFERENCES alerts(id),
  phase TEXT NOT NULL CHECK (phase IN ('raised','resolved')),
  ts INTEGER NOT NULL,
  push INTEGER NOT NULL,
  UNIQUE (alert_id, phase)
);
CREATE TRIGGER alert_events_no_update BEFORE UPDATE ON alert_events
  BEGIN SELECT RAISE(ABORT, 'alert_events is append-only'); END;
CREATE TRIGGER alert_events_no_delete BEFORE DELETE ON alert_events
  BEGIN SELECT RAISE(ABORT, 'alert_events is append-only'); END;

CREATE TABLE alert_deliveries (
  id INTEGER PRIMARY KEY,
  event_id INTEGER NOT NULL REFERENCES alert_events(id),
  alert_id INTEGER NOT NULL REFERENCES alerts(id),
  channel TEXT NOT NULL,
  attempt INTEGER NOT NULL,
  status TEXT NOT NULL CHECK (status IN ('sending','ok','failed','abandoned','interrupted','skipped')),
  started_at INTEGER NOT NULL,
  finished_at INTEGER,
  http_status INTEGER,
  error TEXT,
  retry_after_ms INTEGER,
  owner TEXT
);
CREATE UNIQUE INDEX alert_deliveries_once ON alert_deliveries(event_id, channel)
  WHERE status IN ('sending','ok','abandoned','skipped');
CREATE INDEX alert_deliveries_sending ON alert_deliveries(started_at) WHERE status = 'sending';
CREATE INDEX alert_deliveries_channel ON alert_deliveries(channel, id);
CREATE INDEX alert_deliveries_alert ON alert_deliveries(alert_id);
CREATE TRIGGER alert_deliveries_no_delete BEFORE DELETE ON alert_deliveries
  BEGIN SELECT RAISE(ABORT, 'alert_deliveries is append-only'); END;

-- rejection_rate counts RISK_REJECTED rows of the last hour.
CREATE INDEX audit_log_code_ts ON audit_log(code, ts);
-- The reconciler tells our own fills from others' by venue order id.
CREATE INDEX orders_venue_oid ON orders(venue, venue_order_id);
`,
};
