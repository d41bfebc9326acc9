import { createHash, randomBytes } from "node:crypto";
import type { Db } from "./db.js";

/**
 * Operator console login sessions (migration 009, docs/console.md). The session id is 32 random
 * bytes shown only to the browser (HttpOnly cookie); the table keeps its sha256, so a copy of the
 * database cannot be used to log in. Times are ms UTC. Rows are never deleted: logout, expiry and
 * token revocation set `ended_at` and `end_reason`.
 */

/** Profiles that may hold a console session (agent tokens are refused at login). */
export type ConsoleProfile = "operator" | "readonly";

/** A stored session (never includes the id itself). */
export interface ConsoleSession {
  id_hash: string;
  token_id: number;
  token_name: string;
  profile: ConsoleProfile;
  created_at: number;
  expires_at: number;
  last_seen_at: number;
  ended_at: number | null;
  end_reason: string | null;
}

/** Why a presented session id does not grant access. */
export type SessionRefusal = "unknown" | "ended" | "expired" | "token_revoked";

/** sha256 hex of a session id (the stored key). */
export function sessionHash(id: string): string {
  return createHash("sha256").update(id).digest("hex");
}

/**
 * Opens a session for a token.
 * @returns the session id (for the cookie; never stored) and the stored row.
 */
export function createConsoleSession(
  db: Db,
  s: { tokenId: number; tokenName: string; profile: ConsoleProfile; now: number; ttlMs: number },
): { id: string; session: ConsoleSession } {
  const id = randomBytes(32).toString("base64url");
  const session: ConsoleSession = {
    id_hash: sessionHash(id),
    token_id: s.tokenId,
    token_name: s.tokenName,
    profile: s.profile,
    created_at: s.now,
    expires_at: s.now + s.ttlMs,
    last_seen_at: s.now,
    ended_at: null,
    end_reason: null,
  };
  db.prepare(
    `INSERT INTO console_sessions (id_hash, token_id, token_name, profile, created_at, expires_at, last_seen_at)
     VALUES (@id_hash, @token_id, @token_name, @profile, @created_at, @expires_at, @last_seen_at)`,
  ).run(session);
  return { id, session };
}

/**
 * Resolves a presented session id at `now`. A session whose token was revoked, or which expired,
 * is ended on the spot (recorded with the reason) and refused.
 */
export function resolveConsoleSession(
  db: Db,
  id: string,
  now: number,
): { ok: true; session: ConsoleSession } | { ok: false; reason: SessionRefusal; session?: ConsoleSession } {
  const row = db
    .prepare(
      `SELECT s.id_hash, s.token_id, s.token_name, s.profile, s.created_at, s.expires_at, s.last_seen_at,
         s.ended_at, s.end_reason, t.revoked_at
       FROM console_sessions s JOIN api_tokens t ON t.id = s.token_id WHERE s.id_hash = ?`,
    )
    .get(sessionHash(id)) as (ConsoleSession & { revoked_at: number | null }) | undefined;
  if (!row) return { ok: false, reason: "unknown" };
  const { revoked_at, ...session } = row;
  if (session.ended_at !== null) return { ok: false, reason: "ended", session };
  const reason: SessionRefusal | null =
    revoked_at !== null ? "token_revoked" : session.expires_at <= now ? "expired" : null;
  if (reason) {
    endConsoleSession(db, session.id_hash, now, reason);
    return { ok: false, reason, session };
  }
  db.prepare("UPDATE console_sessions SET last_seen_at = ? WHERE id_hash = ?").run(now, session.id_hash);
  return { ok: true, session: { ...session, last_seen_at: now } };
}

/** Ends a session (logout, expiry, revocation). @returns false when it had already ended. */
export function endConsoleSession(db: Db, idHash: string, now: number, reason: string): boolean {
  return (
    db
      .prepare(
        "UPDATE console_sessions SET ended_at = ?, end_reason = ?, flash = NULL WHERE id_hash = ? AND ended_at IS NULL",
      )
      .run(now, reason, idHash).changes > 0
  );
}

/** A one-shot message shown on the next page of the session (the outcome of an action). */
export interface Flash {
  kind: "ok" | "error";
  text: string;
}

/** Stores the session's flash message, replacing any unread one. */
export function setFlash(db: Db, idHash: string, flash: Flash): void {
  db.prepare("UPDATE console_sessions SET flash = ? WHERE id_hash = ?").run(JSON.stringify(flash), idHash);
}

/** Reads and clears the session's flash message. */
export function takeFlash(db: Db, idHash: string): Flash | null {
  return db.transaction((): Flash | null => {
    const r = db.prepare("SELECT flash FROM console_sessions WHERE id_hash = ?").get(idHash) as
      | { flash: string | null }
      | undefined;
    if (!r?.flash) return null;
    db.prepare("UPDATE console_sessions SET flash = NULL WHERE id_hash = ?").run(idHash);
    return JSON.parse(r.flash) as Flash;
  })();
}
