/** RESP2 reply encoders. Each returns the exact bytes a Redis server would send for that reply. */

const CRLF = '\r\n';

export function simpleString(s: string): Buffer {
  return Buffer.from(`+${s}${CRLF}`, 'utf8');
}

export function errorReply(message: string): Buffer {
  return Buffer.from(`-${message}${CRLF}`, 'utf8');
}

export function integer(n: number | bigint): Buffer {
  return Buffer.from(`:${n}${CRLF}`, 'latin1');
}

export function bulk(value: Buffer | string | null): Buffer {
  if (value === null) return Buffer.from(`$-1${CRLF}`, 'latin1');
  const body = typeof value === 'string' ? Buffer.from(value, 'utf8') : value;
  return Buffer.concat([Buffer.from(`$${body.length}${CRLF}`, 'latin1'), body, Buffer.from(CRLF, 'latin1')]);
}

export function arrayHeader(length: number | null): Buffer {
  return Buffer.from(`*${length === null ? -1 : length}${CRLF}`, 'latin1');
}

/** A request in RESP form (an array of bulk strings), as clients send commands and AOF files store them. */
export function command(args: ReadonlyArray<Buffer | string>): Buffer {
  return Buffer.concat([arrayHeader(args.length), ...args.map((a) => bulk(a))]);
}
