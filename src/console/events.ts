import type { Request, Response } from "express";
import type { App } from "../app.js";
import { type ChangeMarks, changedKinds, changeMarks } from "../store/changes.js";
import { resolveConsoleSession } from "../store/consoleSessions.js";

/**
 * Live updates (`GET /console/events`): a server-sent event stream that polls the database's change
 * marks every `console.pollMs` and sends `event: change` with the kinds that changed
 * (`{"kinds":["intents","audit"]}`). Polling the shared file sees changes made by any process on the
 * same home (serve, the CLI, another console). The session is re-checked on every poll: when it ends
 * (logout, expiry, token revoked) the stream sends `event: logout` and closes.
 */

/** Express handler of the event stream. Call the returned `stopAll` when the app closes. */
export function eventStream(app: App): {
  handler: (req: Request, res: Response) => void;
  stopAll: () => void;
} {
  const open = new Set<() => void>();
  const handler = (req: Request, res: Response) => {
    const sessionId = res.locals.sessionId as string;
    res.writeHead(200, {
      "Content-Type": "text/event-stream; charset=utf-8",
      "Cache-Control": "no-store",
      "X-Accel-Buffering": "no",
      Connection: "keep-alive",
    });
    res.write("retry: 3000\n\n");
    let marks: ChangeMarks = changeMarks(app.db);
    let sinceBeat = 0;
    const stop = () => {
      clearInterval(timer);
      open.delete(stop);
      if (!res.writableEnded) res.end();
    };
    const timer = setInterval(() => {
      try {
        if (!resolveConsoleSession(app.db, sessionId, app.clock.now()).ok) {
          res.write("event: logout\ndata: {}\n\n");
          stop();
          return;
        }
        const now = changeMarks(app.db);
        const kinds = changedKinds(marks, now);
        marks = now;
        if (kinds.length > 0) res.write(`event: change\ndata: ${JSON.stringify({ kinds })}\n\n`);
        sinceBeat += app.config.console.pollMs;
        if (sinceBeat >= 15_000) {
          sinceBeat = 0;
          res.write(": keep-alive\n\n");
        }
      } catch (err) {
        // The database closed under us (shutdown) or failed: end the stream, the browser retries.
        app.log.debug({ err }, "console event stream stopped");
        stop();
      }
    }, app.config.console.pollMs);
    open.add(stop);
    req.on("close", stop);
  };
  return {
    handler,
    stopAll: () => {
      for (const s of [...open]) s();
    },
  };
}
