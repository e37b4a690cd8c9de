import t from 'tap';
import { runSeedRange } from './sim/seeds.js';

t.test('deterministic simulation, seeds part 2 of 2', async (t) => runSeedRange(t, 1, 2));
