/** Every command bunder implements, gathered for the engine's table. */
import { bitCommands } from './bits.js';
import { dumpCommands } from './dump.js';
import { hashCommands } from './hashes.js';
import { keyCommands } from './keys.js';
import { listCommands } from './lists.js';
import { replicationCommands } from './replication.js';
import { serverCommands } from './server.js';
import { setCommands } from './sets.js';
import { sortCommands } from './sort.js';
import { streamCommands } from './streams.js';
import { stringCommands } from './strings.js';
import type { CommandSpec } from './table.js';
import { zsetCommands } from './zsets.js';

export const allCommands: readonly CommandSpec[] = [
  ...keyCommands,
  ...stringCommands,
  ...bitCommands,
  ...listCommands,
  ...hashCommands,
  ...setCommands,
  ...zsetCommands,
  ...streamCommands,
  ...sortCommands,
  ...dumpCommands,
  ...serverCommands,
  ...replicationCommands,
];
