/**
 * Process entry of a KV node: `node kv-node-main.js '<KvNodeConfig as JSON>'`. Prints
 * `listening <raftPort> <clientPort>` once both ports are bound; the peers' addresses then come either
 * in the config (`peers`) or as one JSON line on stdin (`{"2":{"host":...,"port":...},...}`), so that a
 * whole cluster can start on port 0. Stops on SIGTERM; the crash tests use SIGKILL.
 */
import { createInterface } from 'node:readline';
import type { PeerAddress } from '../transport-tcp.js';
import type { NodeId } from '../types.js';
import { type KvNodeConfig, startKvNode } from './kv-node.js';

type MainConfig = KvNodeConfig & { readonly peers?: Record<string, PeerAddress> };

function toMap(peers: Record<string, PeerAddress>): Map<NodeId, PeerAddress> {
  return new Map(Object.entries(peers).map(([k, v]) => [Number(k), v]));
}

const config = JSON.parse(process.argv[2] ?? '{}') as MainConfig;
const node = await startKvNode(config);
process.stdout.write(`listening ${node.raftPort} ${node.clientPort}\n`);
if (config.peers) {
  node.setPeers(toMap(config.peers));
} else {
  const rl = createInterface({ input: process.stdin });
  rl.once('line', (line) => {
    node.setPeers(toMap(JSON.parse(line) as Record<string, PeerAddress>));
    rl.close();
  });
}
process.once('SIGTERM', () => {
  void node.stop().then(() => process.exit(0));
});
