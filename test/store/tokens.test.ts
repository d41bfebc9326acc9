import { describe, expect, it } from "vitest";
import { openDb } from "../../src/store/db.js";
import {
  authenticateToken,
  createToken,
  LAST_USED_RESOLUTION_MS,
  listTokens,
  revokeToken,
} from "../../src/store/tokens.js";

describe("token authentication", () => {
  it("records last_used_at at most once a minute, and a revoked token no longer resolves", () => {
    const db = openDb(":memory:");
    const { token } = createToken(db, "bot", "agent", 0);
    const lastUsed = () => listTokens(db)[0].last_used_at;
    const writes = () => (db.prepare("SELECT total_changes() AS n").get() as { n: number }).n;

    expect(authenticateToken(db, token, 1_000)).toMatchObject({ name: "bot", profile: "agent" });
    expect(lastUsed()).toBe(1_000);
    const before = writes();
    for (let t = 2_000; t < 1_000 + LAST_USED_RESOLUTION_MS; t += 1_000) {
      expect(authenticateToken(db, token, t)?.name).toBe("bot");
    }
    expect(writes()).toBe(before); // 59 requests, no write
    expect(lastUsed()).toBe(1_000);
    authenticateToken(db, token, 1_000 + LAST_USED_RESOLUTION_MS);
    expect(lastUsed()).toBe(1_000 + LAST_USED_RESOLUTION_MS);

    expect(authenticateToken(db, "tw_not-a-token", 70_000)).toBeUndefined();
    revokeToken(db, "bot", 70_000);
    expect(authenticateToken(db, token, 70_001)).toBeUndefined();
    db.close();
  });
});
