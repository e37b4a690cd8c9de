/**
 * The reply model every command returns. Bulk strings are latin1 JS strings (one char per byte, so they
 * are binary safe and compact); the writer encodes a reply for RESP2 or RESP3, the embedded API converts
 * it to Buffers and plain values.
 */

/** A status reply such as +OK. */
export class SimpleString {
  constructor(readonly value: string) {}
}

/** An error reply; `message` includes the code prefix, e.g. "ERR syntax error". */
export class ErrorReply {
  constructor(readonly message: string) {}
}

/** A double: RESP3 ',' and a bulk string in RESP2. */
export class DoubleReply {
  constructor(readonly value: number) {}
}

/** A map: RESP3 '%' and a flat array in RESP2. Items are key, value, key, value, … */
export class MapReply {
  constructor(readonly items: Reply[]) {}
}

/** An unordered set: RESP3 '~' and an array in RESP2. */
export class SetReply {
  constructor(readonly items: Reply[]) {}
}

/** An out-of-band message (pub/sub): RESP3 '>' and an array in RESP2. */
export class PushReply {
  constructor(readonly items: Reply[]) {}
}

/** A verbatim string (INFO, CLIENT LIST in RESP3): '=' with a format, a bulk string in RESP2. */
export class VerbatimReply {
  constructor(
    readonly value: string,
    readonly format = 'txt',
  ) {}
}

/** The null array (*-1): a timed-out blocking pop or an aborted EXEC. */
export class NullArrayReply {}

/** A reply whose bytes are already encoded (for both protocols). */
export class RawReply {
  constructor(readonly bytes: Buffer) {}
}

export type Reply =
  | string
  | number
  | bigint
  | null
  | SimpleString
  | ErrorReply
  | DoubleReply
  | MapReply
  | SetReply
  | PushReply
  | VerbatimReply
  | NullArrayReply
  | RawReply
  | Reply[];

export const OK = new SimpleString('OK');
export const PONG = new SimpleString('PONG');
export const QUEUED = new SimpleString('QUEUED');
export const NULL_ARRAY = new NullArrayReply();
/** Returned by commands whose replies were all pushed (the SUBSCRIBE family): nothing more to send. */
export const NO_REPLY = new RawReply(Buffer.alloc(0));

export function err(message: string): ErrorReply {
  return new ErrorReply(message);
}

/** Errors that many commands share, worded exactly as Redis 7 words them. */
export const E = {
  WRONGTYPE: new ErrorReply('WRONGTYPE Operation against a key holding the wrong kind of value'),
  SYNTAX: new ErrorReply('ERR syntax error'),
  NOT_INT: new ErrorReply('ERR value is not an integer or out of range'),
  NOT_FLOAT: new ErrorReply('ERR value is not a valid float'),
  OVERFLOW: new ErrorReply('ERR increment or decrement would overflow'),
  NAN: new ErrorReply('ERR increment would produce NaN or Infinity'),
  /** HINCRBYFLOAT's reply to an infinite increment, before it reads the key. */
  NOT_FINITE: new ErrorReply('ERR value is NaN or Infinity'),
  NO_KEY: new ErrorReply('ERR no such key'),
  INDEX_RANGE: new ErrorReply('ERR index out of range'),
  DB_RANGE: new ErrorReply('ERR DB index is out of range'),
  POSITIVE: new ErrorReply('ERR value is out of range, must be positive'),
  SAME_OBJECT: new ErrorReply('ERR source and destination objects are the same'),
  MIN_MAX_FLOAT: new ErrorReply('ERR min or max is not a float'),
  MIN_MAX_LEX: new ErrorReply('ERR min or max not valid string range item'),
  HASH_NOT_INT: new ErrorReply('ERR hash value is not an integer'),
  HASH_NOT_FLOAT: new ErrorReply('ERR hash value is not a float'),
  TIMEOUT: new ErrorReply('ERR timeout is not a float or out of range'),
  TIMEOUT_NEG: new ErrorReply('ERR timeout is negative'),
  STRING_TOO_BIG: new ErrorReply('ERR string exceeds maximum allowed size (proto-max-bulk-len)'),
  BIT_OFFSET: new ErrorReply('ERR bit offset is not an integer or out of range'),
  BIT_VALUE: new ErrorReply('ERR bit is not an integer or out of range'),
  NOAUTH: new ErrorReply('NOAUTH Authentication required.'),
} as const;

export function arityError(name: string): ErrorReply {
  return new ErrorReply(`ERR wrong number of arguments for '${name}' command`);
}
