import { seededRandom } from './rng.js';

/** The reference document of the bundoc spec (§4): {_id, name, email, age, active, tags[2], address, score}. */
export interface ReferenceDoc {
  _id: string;
  name: string;
  email: string;
  age: number;
  active: boolean;
  tags: [string, string];
  address: { city: string; zip: string };
  score: number;
}

const FIRST = ['ada', 'alan', 'grace', 'edsger', 'barbara', 'ken', 'dennis', 'linus', 'margaret', 'donald'];
const CITIES = ['Paris', 'Lyon', 'Berlin', 'Oslo', 'Lisbon', 'Rome', 'Vienna', 'Prague', 'Madrid', 'Dublin'];
const TAGS = ['red', 'green', 'blue', 'alpha', 'beta', 'gamma', 'new', 'vip', 'trial', 'legacy'];

/**
 * Deterministic documents: the same `seed` gives every system the same data. `first` numbers the first
 * document (its `_id` and name), so that batches generated one at a time do not collide.
 */
export function referenceDocs(count: number, seed = 42, first = 0): ReferenceDoc[] {
  const random = seededRandom(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)]!;
  const docs: ReferenceDoc[] = new Array(count);
  for (let n = 0; n < count; n++) {
    const i = first + n;
    const name = `${pick(FIRST)}-${i}`;
    docs[n] = {
      _id: `u${i.toString().padStart(8, '0')}`,
      name,
      email: `${name}@example.com`,
      age: 18 + Math.floor(random() * 70),
      active: random() < 0.5,
      tags: [pick(TAGS), pick(TAGS)],
      address: { city: pick(CITIES), zip: String(10000 + Math.floor(random() * 90000)) },
      score: Math.round(random() * 1e6) / 100,
    };
  }
  return docs;
}
