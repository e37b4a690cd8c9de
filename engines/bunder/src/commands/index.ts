/** Every command bunder implements, gathered for the engine's table. */
import { keyCommands } from './keys.js';
import { serverCommands } from './server.js';
import { stringCommands } from './strings.js';
import type { CommandSpec } from './table.js';

export const allCommands: readonly CommandSpec[] = [...keyCommands, ...stringCommands, ...serverCommands];
