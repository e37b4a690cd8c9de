import { createConnection, type Socket } from 'node:net';
import { RaftError } from '../errors.js';
import { encodeFrame, FrameDecoder } from '../framing.js';

/** Client requests of the KV node: length-prefixed frames of JSON. `get` is a linearizable read. */
export type KvRequest =
  | { readonly id: number; readonly op: 'put'; readonly key: string; readonly value: string }
  | { readonly id: number; readonly op: 'get'; readonly key: string }
  | { readonly id: number; readonly op: 'status' };

export type KvResponse =
  | { readonly id: number; readonly ok: true; readonly value?: string | null; readonly status?: unknown }
  | {
      readonly id: number;
      readonly ok: false;
      readonly code: string;
      readonly message: string;
      readonly leaderId?: number;
    };

export const KV_MAX_FRAME_BYTES = 1024 * 1024;

/** A failed request, with the node's error code (NOT_LEADER carries the leader to retry on). */
export class KvRequestError extends RaftError {
  constructor(
    code: string,
    message: string,
    readonly leaderId?: number,
  ) {
    super(code, message);
  }
}

type Omit<T, K extends keyof T> = { [P in Exclude<keyof T, K>]: T[P] };
type Body = KvRequest extends infer U ? (U extends { id: number } ? Omit<U, 'id'> : never) : never;

/** A pipelining client of one KV node: many requests in flight, answers matched by id. */
export class KvClient {
  private nextId = 1;
  private readonly waiting = new Map<number, { resolve(r: KvResponse): void; reject(e: unknown): void }>();

  private constructor(private readonly socket: Socket) {
    const decoder = new FrameDecoder(KV_MAX_FRAME_BYTES);
    socket.on('data', (chunk: Buffer) => {
      for (const f of decoder.push(chunk)) {
        const r = JSON.parse(f.toString('utf8')) as KvResponse;
        const w = this.waiting.get(r.id);
        this.waiting.delete(r.id);
        w?.resolve(r);
      }
    });
    const fail = (err: unknown) => {
      for (const w of this.waiting.values()) w.reject(err);
      this.waiting.clear();
    };
    socket.on('error', fail);
    socket.on('close', () =>
      fail(new KvRequestError('CONNECTION_CLOSED', 'connection to the kv node closed')),
    );
  }

  static connect(port: number, host = '127.0.0.1'): Promise<KvClient> {
    return new Promise((resolve, reject) => {
      const s = createConnection({ host, port });
      s.setNoDelay(true);
      s.once('error', reject);
      s.once('connect', () => {
        s.off('error', reject);
        resolve(new KvClient(s));
      });
    });
  }

  request(body: Body): Promise<KvResponse> {
    if (this.socket.destroyed)
      return Promise.reject(new KvRequestError('CONNECTION_CLOSED', 'connection closed'));
    const id = this.nextId++;
    const p = new Promise<KvResponse>((resolve, reject) => this.waiting.set(id, { resolve, reject }));
    this.socket.write(encodeFrame(Buffer.from(JSON.stringify({ ...body, id }))));
    return p;
  }

  /** Like request, but a failure answer becomes a rejected KvRequestError. */
  async call(body: Body): Promise<KvResponse & { ok: true }> {
    const r = await this.request(body);
    if (!r.ok) throw new KvRequestError(r.code, r.message, r.leaderId);
    return r;
  }

  close(): void {
    this.socket.destroy();
  }
}
