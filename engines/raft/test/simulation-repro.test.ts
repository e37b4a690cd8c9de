import t from 'tap';
import { optionsFor } from './sim/seeds.js';
import { runSeed } from './sim/simulation.js';

t.test('a seed reproduces exactly', async (t) => {
  const a = runSeed(optionsFor(12));
  const b = runSeed(optionsFor(12));
  t.same(a.stats, b.stats);
  t.same(a.history, b.history);
  t.ok(a.history.length > 50, 'the run recorded a client history');
});
