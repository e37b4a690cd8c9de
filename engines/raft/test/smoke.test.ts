import t from 'tap';
import { bytes, Network, text } from './helpers/network.js';

t.test('three nodes elect a leader and replicate', async (t) => {
  const net = new Network([1, 2, 3]);
  net.campaign(1);
  t.same(net.leaders(), [1]);
  net.node(1).propose(bytes('a'));
  net.stabilize();
  for (const id of [1, 2, 3]) t.same(net.applied.get(id)!.map(text), ['a'], `node ${id}`);
});
