/**
 * A minimal raw RESP client for tests: sends commands as bytes and parses replies into a neutral tree,
 * so that bunder's and Redis's replies can be compared exactly (type and bytes), including errors.
 */
import net from 'node:net';

export type RespValue =
  | { t: 'simple'; v: string }
  | { t: 'error'; v: string }
  | { t: 'int'; v: string }
  | { t: 'bulk'; v: string | null }
  | { t: 'array'; v: RespValue[] | null }
  | { t: 'other'; v: string; items?: RespValue[] };

/** Parses one reply from buf at pos; returns [value, nextPos] or null when incomplete. */
export function parseReply(buf: Buffer, pos: number): [RespValue, number] | null {
  if (pos >= buf.length) return null;
  const nl = buf.indexOf('\r\n', pos);
  if (nl < 0) return null;
  const type = String.fromCharCode(buf[pos]!);
  const line = buf.toString('latin1', pos + 1, nl);
  const next = nl + 2;
  switch (type) {
    case '+':
      return [{ t: 'simple', v: line }, next];
    case '-':
      return [{ t: 'error', v: line }, next];
    case ':':
      return [{ t: 'int', v: line }, next];
    case '$': {
      const n = Number(line);
      if (n < 0) return [{ t: 'bulk', v: null }, next];
      if (buf.length < next + n + 2) return null;
      return [{ t: 'bulk', v: buf.toString('latin1', next, next + n) }, next + n + 2];
    }
    case '*':
    case '%':
    case '~':
    case '>': {
      let n = Number(line);
      if (n < 0) return [{ t: 'array', v: null }, next];
      if (type === '%') n *= 2;
      const items: RespValue[] = [];
      let p = next;
      for (let i = 0; i < n; i++) {
        const r = parseReply(buf, p);
        if (!r) return null;
        items.push(r[0]);
        p = r[1];
      }
      return [type === '*' ? { t: 'array', v: items } : { t: 'other', v: type, items }, p];
    }
    default:
      return [{ t: 'other', v: type + line }, next];
  }
}

export class RespClient {
  private buf = Buffer.alloc(0);
  private waiters: Array<(v: RespValue) => void> = [];
  readonly pushes: RespValue[] = [];
  closed = false;

  private constructor(readonly socket: net.Socket) {
    socket.on('data', (d) => {
      this.buf = Buffer.concat([this.buf, d]);
      for (;;) {
        const r = parseReply(this.buf, 0);
        if (!r) break;
        this.buf = this.buf.subarray(r[1]);
        const w = this.waiters.shift();
        if (w) w(r[0]);
        else this.pushes.push(r[0]);
      }
    });
    socket.on('close', () => {
      this.closed = true;
      // Requests that will never be answered get a synthetic error instead of hanging the test.
      for (const w of this.waiters.splice(0)) w({ t: 'error', v: 'connection closed' });
    });
    socket.on('error', () => {});
  }

  static connect(port: number, host = '127.0.0.1'): Promise<RespClient> {
    return new Promise((resolve, reject) => {
      const s = net.connect(port, host, () => resolve(new RespClient(s)));
      s.once('error', reject);
    });
  }

  static encode(args: readonly string[]): Buffer {
    const parts: Buffer[] = [Buffer.from(`*${args.length}\r\n`)];
    for (const a of args) {
      const b = Buffer.from(a, 'latin1');
      parts.push(Buffer.from(`$${b.length}\r\n`), b, Buffer.from('\r\n'));
    }
    return Buffer.concat(parts);
  }

  /** Sends raw bytes; resolves with the next `n` replies. */
  sendRaw(bytes: Buffer | string, n = 1): Promise<RespValue[]> {
    const out: Promise<RespValue>[] = [];
    for (let i = 0; i < n; i++) out.push(new Promise((resolve) => this.waiters.push(resolve)));
    this.socket.write(bytes);
    return Promise.all(out);
  }

  async call(...args: string[]): Promise<RespValue> {
    const [r] = await this.sendRaw(RespClient.encode(args));
    return r!;
  }

  /** Resolves with the next reply that arrives without a request (pub/sub, unblocked commands). */
  next(): Promise<RespValue> {
    const p = this.pushes.shift();
    if (p) return Promise.resolve(p);
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  close(): void {
    this.socket.destroy();
  }
}

/** Whether a TCP port accepts connections (to skip tests when the reference Redis is absent). */
export function reachable(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(port, host);
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}
