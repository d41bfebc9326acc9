import type { App } from "../../src/app.js";
import type { SimClock } from "../../src/clock.js";
import type { Config } from "../../src/config.js";
import { type HttpHandle, startHttp } from "../../src/server/http.js";
import { createToken } from "../../src/store/tokens.js";
import { orderApp } from "../policy/helpers.js";

/** A test app (paper over the real 30-day replay, SimClock at T0) served over HTTP with the console. */
export async function consoleSetup(patch: (c: Config) => void = () => {}): Promise<{
  app: App;
  clock: SimClock;
  h: HttpHandle;
  tokens: { operator: string; readonly: string; agent: string };
  cleanup: () => Promise<void>;
}> {
  const t = await orderApp((c) => {
    c.console.pollMs = 100;
    patch(c);
  });
  // Load the replay data now: a first read takes seconds, longer than an idle keep-alive socket lives.
  await t.app.market.ticker("BTC");
  const now = t.clock.now();
  const tokens = {
    operator: createToken(t.app.db, "ops", "operator", now).token,
    readonly: createToken(t.app.db, "viewer", "readonly", now).token,
    agent: createToken(t.app.db, "bot", "agent", now).token,
  };
  const h = await startHttp(t.app, {
    host: "127.0.0.1",
    port: 0,
    stateless: false,
    allowedOrigins: [],
    allowedHosts: [],
  });
  return {
    app: t.app,
    clock: t.clock,
    h,
    tokens,
    cleanup: async () => {
      await h.close();
      await t.cleanup();
    },
  };
}

/** A minimal browser: a cookie jar and form posts, redirects not followed. */
export class WebSession {
  cookie: string | null = null;
  setCookie: string | null = null;
  constructor(private readonly base: string) {}

  async request(
    path: string,
    init: { method?: string; form?: Record<string, string>; headers?: Record<string, string> } = {},
  ): Promise<{ status: number; location: string | null; text: string; headers: Headers }> {
    const headers: Record<string, string> = { accept: "text/html", ...init.headers };
    if (this.cookie) headers.cookie = this.cookie;
    let body: string | undefined;
    if (init.form) {
      headers["content-type"] = "application/x-www-form-urlencoded";
      body = new URLSearchParams(init.form).toString();
    }
    const res = await fetch(`${this.base}${path}`, {
      method: init.method ?? (init.form ? "POST" : "GET"),
      headers,
      body,
      redirect: "manual",
    });
    const sc = res.headers.get("set-cookie");
    if (sc) {
      this.setCookie = sc;
      const [pair] = sc.split(";");
      this.cookie = pair.endsWith("=") ? null : pair;
    }
    return {
      status: res.status,
      location: res.headers.get("location"),
      text: await res.text(),
      headers: res.headers,
    };
  }

  get(path: string, headers: Record<string, string> = {}) {
    return this.request(path, { headers });
  }

  post(path: string, form: Record<string, string>, headers: Record<string, string> = {}) {
    return this.request(path, { form, headers });
  }

  /** Logs in with a token; returns the login response. */
  login(token: string) {
    return this.post("/console/login", { token });
  }

  /** The CSRF token embedded in a page of this session. */
  async csrf(path = "/console/control"): Promise<string> {
    const page = await this.get(path);
    const m = /name="csrf" value="([^"]+)"/.exec(page.text);
    if (!m) throw new Error(`no csrf field on ${path} (status ${page.status})`);
    return m[1];
  }
}
