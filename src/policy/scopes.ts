/**
 * Scopes and profiles (DESIGN.md §2). A profile is a named scope set; a caller holds exactly one
 * profile. The agent profile can tighten control (halt, reduce-only) but never loosen it, approve its
 * own orders, or raise limits.
 */

export const SCOPES = [
  "market:read",
  "knowledge:read",
  "knowledge:admin",
  "memory:write",
  "research:run",
  "account:read",
  "orders:propose",
  "orders:submit",
  "orders:approve",
  "portfolio:target",
  "control:tighten",
  "control:loosen",
  "audit:read",
  "alerts:ack",
] as const;

/** A permission a tool requires. */
export type Scope = (typeof SCOPES)[number];

export const PROFILES = ["readonly", "agent", "operator"] as const;
/** A named scope set. */
export type Profile = (typeof PROFILES)[number];

const READONLY: readonly Scope[] = ["market:read", "knowledge:read", "account:read", "audit:read"];
const AGENT: readonly Scope[] = [
  ...READONLY,
  "memory:write",
  "research:run",
  "orders:propose",
  "orders:submit",
  "portfolio:target",
  "control:tighten",
];

/** Scopes of each profile. `operator` has every scope. */
export const PROFILE_SCOPES: Readonly<Record<Profile, ReadonlySet<Scope>>> = {
  readonly: new Set(READONLY),
  agent: new Set(AGENT),
  operator: new Set(SCOPES),
};

/**
 * Who is calling. `id` is what the audit log records: `stdio:<profile>`, `token:<name>`,
 * `cli:<user>`, `system:<job>`, `eval:<scenario>`, `console:<token name>` (the operator console).
 */
export interface Caller {
  id: string;
  profile: Profile;
  scopes: ReadonlySet<Scope>;
  transport: "stdio" | "http" | "memory" | "cli" | "system" | "console";
}

/** Builds a caller for a profile. */
export function callerFor(id: string, profile: Profile, transport: Caller["transport"]): Caller {
  return { id, profile, scopes: PROFILE_SCOPES[profile], transport };
}
