import type { Migration } from "./index.js";

/**
 * Operator console sessions (issue 14, docs/console.md). A session is created by logging in with an
 * operator or readonly API token; only the sha256 of the session id is stored (the id itself lives in
 * the browser's HttpOnly cookie), together with the token row it came from, so revoking the token ends
 * the session at its next request. Rows are never deleted: logout and expiry set `ended_at`.
 */
export const m009Console: Migration = {
  version: 9,
  name: "console",
  up: `
CREATE TABLE console_sessions (
  id_hash TEXT PRIMARY KEY,
  token_id INTEGER NOT NULL REFERENCES api_tokens(id),
  token_name TEXT NOT NULL,
  profile TEXT NOT NULL CHECK (profile IN ('operator','readonly')),
  created_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL,
  last_seen_at INTEGER NOT NULL,
  ended_at INTEGER,
  end_reason TEXT,
  flash TEXT
);
CREATE INDEX console_sessions_token ON console_sessions(token_id);
`,
};
