export {
  Bunder,
  type BunderOptions,
  type CallResult,
  ReplyError,
  type SetOptions,
  toResult,
} from './bunder.js';
export { Client } from './client.js';
export { allCommands } from './commands/index.js';
export type { CommandSpec } from './commands/table.js';
export { Config } from './config.js';
export { Engine, type KeyspaceEvent } from './engine.js';
export { Keyspace } from './keyspace.js';
export * from './reply.js';
export { DEFAULT_LIMITS, type ParserLimits, ProtocolError, RespParser, splitArgs } from './resp/parser.js';
export {
  arrayHeader,
  bulk,
  command,
  encodeReply,
  errorReply,
  integer,
  ReplyBuffer,
  simpleString,
} from './resp/writer.js';
export { type ListenOptions, RespServer } from './server.js';
