import { createHash, randomBytes } from "node:crypto";
import type { Profile } from "../policy/scopes.js";
import type { Db } from "./db.js";

/**
 * API bearer tokens for the HTTP transport (DESIGN.md §8). The token is shown once at creation; only
 * its sha256 is stored (a token is 32 random bytes, so a plain hash is enough: no dictionary to
 * attack). Tokens look like `tw_<43 base64url chars>`.
 */

/** A token as listed (never includes the token or its hash). */
export interface TokenInfo {
  name: string;
  profile: Profile;
  prefix: string;
  created_at: number;
  revoked_at: number | null;
  last_used_at: number | null;
}

function hashToken(token: string): string {
  return createHash("sha256").update(token).digest("hex");
}

/**
 * Creates a token. @returns the plaintext token (print once, never store) and its info.
 * @throws Error when a token with that name exists (revoke it or pick another name).
 */
export function createToken(
  db: Db,
  name: string,
  profile: Profile,
  now: number,
): { token: string; info: TokenInfo } {
  const token = `tw_${randomBytes(32).toString("base64url")}`;
  const prefix = token.slice(0, 7);
  try {
    db.prepare(
      "INSERT INTO api_tokens (name, profile, token_hash, prefix, created_at) VALUES (?, ?, ?, ?, ?)",
    ).run(name, profile, hashToken(token), prefix, now);
  } catch (e) {
    if (String((e as Error).message).includes("UNIQUE")) {
      throw new Error(`a token named "${name}" already exists; revoke it or choose another --name`);
    }
    throw e;
  }
  return { token, info: { name, profile, prefix, created_at: now, revoked_at: null, last_used_at: null } };
}

/** Lists all tokens, newest first. */
export function listTokens(db: Db): TokenInfo[] {
  return db
    .prepare(
      "SELECT name, profile, prefix, created_at, revoked_at, last_used_at FROM api_tokens ORDER BY id DESC",
    )
    .all() as TokenInfo[];
}

/** Revokes a token by name. @returns false when no active token has that name. */
export function revokeToken(db: Db, name: string, now: number): boolean {
  return (
    db.prepare("UPDATE api_tokens SET revoked_at = ? WHERE name = ? AND revoked_at IS NULL").run(now, name)
      .changes > 0
  );
}

/** `last_used_at` is written when it is at least this old (ms): not on every request (issue 15). */
export const LAST_USED_RESOLUTION_MS = 60_000;

/**
 * Resolves a presented bearer token to its row id, name and profile; revoked or unknown tokens
 * resolve to undefined. Records `last_used_at` (ms UTC) when it is unset or at least
 * {@link LAST_USED_RESOLUTION_MS} old, so it is accurate to a minute without a write per request.
 */
export function authenticateToken(
  db: Db,
  token: string,
  now: number,
): { id: number; name: string; profile: Profile } | undefined {
  const row = db
    .prepare(
      "SELECT id, name, profile, last_used_at FROM api_tokens WHERE token_hash = ? AND revoked_at IS NULL",
    )
    .get(hashToken(token)) as
    | { id: number; name: string; profile: Profile; last_used_at: number | null }
    | undefined;
  if (!row) return undefined;
  if (row.last_used_at === null || now - row.last_used_at >= LAST_USED_RESOLUTION_MS)
    db.prepare("UPDATE api_tokens SET last_used_at = ? WHERE id = ?").run(now, row.id);
  return { id: row.id, name: row.name, profile: row.profile };
}
