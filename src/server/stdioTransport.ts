import type { Readable, Writable } from "node:stream";
import type { Transport } from "@modelcontextprotocol/sdk/shared/transport.js";
import { type JSONRPCMessage, JSONRPCMessageSchema } from "@modelcontextprotocol/sdk/types.js";
import type { Logger } from "../log.js";

/**
 * Newline-delimited JSON-RPC over stdin/stdout (the MCP stdio transport) that survives hostile input.
 * The SDK's own stdio transport closes itself — and with it the server and the minute cycle — when a
 * line exceeds its buffer; this one refuses the line instead and keeps serving:
 * - a line longer than `maxLineBytes` is dropped as it streams in (never buffered whole) and answered
 *   with a JSON-RPC error `-32600` (id null);
 * - a line that is not JSON gets `-32700`; valid JSON that is not a JSON-RPC message gets `-32600`.
 * stdout carries protocol messages only.
 */

/** Options of {@link SafeStdioTransport}. */
export interface SafeStdioOptions {
  /** Largest accepted message (bytes of one line). Default 4 MiB, as over HTTP. */
  maxLineBytes?: number;
  log?: Logger;
  stdin?: Readable;
  stdout?: Writable;
}

/** The stdio transport of `tradewarden serve`. */
export class SafeStdioTransport implements Transport {
  onclose?: () => void;
  onerror?: (error: Error) => void;
  onmessage?: (message: JSONRPCMessage) => void;

  private readonly max: number;
  private readonly stdin: Readable;
  private readonly stdout: Writable;
  private chunks: Buffer[] = [];
  private size = 0;
  /** Bytes of an oversized line dropped so far (> 0 while skipping to its end). */
  private dropping = 0;
  private closed = false;

  constructor(private readonly o: SafeStdioOptions = {}) {
    this.max = o.maxLineBytes ?? 4 * 1024 * 1024;
    this.stdin = o.stdin ?? process.stdin;
    this.stdout = o.stdout ?? process.stdout;
  }

  private readonly onData = (chunk: Buffer) => {
    let rest = chunk;
    while (rest.length > 0) {
      const nl = rest.indexOf(0x0a);
      const part = nl === -1 ? rest : rest.subarray(0, nl);
      if (this.dropping > 0 || this.size + part.length > this.max) {
        this.dropping += this.size + part.length;
        this.chunks = [];
        this.size = 0;
      } else {
        this.chunks.push(part);
        this.size += part.length;
      }
      if (nl === -1) return;
      rest = rest.subarray(nl + 1);
      this.endOfLine();
    }
  };

  private endOfLine(): void {
    if (this.dropping > 0) {
      const bytes = this.dropping;
      this.dropping = 0;
      this.o.log?.warn({ bytes, limit: this.max }, "stdio message over the size limit refused");
      this.reply(
        -32600,
        `Message too large (${bytes} bytes; the limit is ${this.max}): refused, nothing was done`,
      );
      return;
    }
    const line = Buffer.concat(this.chunks).toString("utf8").replace(/\r$/, "");
    this.chunks = [];
    this.size = 0;
    if (line.trim() === "") return;
    let json: unknown;
    try {
      json = JSON.parse(line);
    } catch {
      this.reply(-32700, "Parse error (the line is not valid JSON)");
      return;
    }
    const msg = JSONRPCMessageSchema.safeParse(json);
    if (!msg.success) {
      this.reply(-32600, "Invalid request (not a JSON-RPC 2.0 message)");
      return;
    }
    this.onmessage?.(msg.data);
  }

  private reply(code: number, message: string): void {
    void this.send({ jsonrpc: "2.0", id: null, error: { code, message } } as unknown as JSONRPCMessage);
  }

  private readonly onEnd = () => void this.close();
  private readonly onError = (e: Error) => this.onerror?.(e);

  async start(): Promise<void> {
    this.stdin.on("data", this.onData);
    this.stdin.on("end", this.onEnd);
    this.stdin.on("error", this.onError);
  }

  send(message: JSONRPCMessage): Promise<void> {
    return new Promise((resolve) => {
      if (this.stdout.write(`${JSON.stringify(message)}\n`)) resolve();
      else this.stdout.once("drain", resolve);
    });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.stdin.off("data", this.onData);
    this.stdin.off("end", this.onEnd);
    this.stdin.off("error", this.onError);
    this.stdin.pause();
    this.onclose?.();
  }
}
