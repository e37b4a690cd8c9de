import t from 'tap';
import { runSeedRange } from './sim/seeds.js';

// first half of the seeds; simulation-b runs the second half in parallel
t.test('deterministic simulation, seeds part 1 of 2', async (t) => runSeedRange(t, 0, 2));
