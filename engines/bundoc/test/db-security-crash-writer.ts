// Child process of db-security-crash.test.ts: writes users, posts and comments (cascading references,
// indexed) and deletes users with their cascades, printing each acknowledged operation, until killed.
import { Bundoc } from '../src/index.js';

const [dir, seedText] = process.argv.slice(2);
let state = Number(seedText);
const rand = (n: number) => {
  state = (state * 1103515245 + 12345) & 0x7fffffff;
  return state % n;
};
const db = await Bundoc.open(dir!, { durability: 'full' });
const ref = (collection: string, onDelete: string) => ({ 'x-bundoc-ref': { collection, onDelete } });
if (!db.listCollections().includes('comments')) {
  await db.createCollection('users');
  await db.createCollection('posts', {
    schema: { properties: { author: ref('users', 'cascade'), editor: { ...ref('users', 'setNull') } } },
  });
  await db.createCollection('comments', { schema: { properties: { post: ref('posts', 'cascade') } } });
  await db.collection('posts').createIndex({ author: 1 });
  await db.collection('posts').createIndex({ editor: 1 });
  await db.collection('comments').createIndex({ post: 1 });
}
process.stdout.write('READY\n');
const users = db.collection('users');
const posts = db.collection('posts');
const comments = db.collection('comments');
for (let i = 0; ; i++) {
  const live = (await users.find({}, { projection: { _id: 1 } }).toArray()).map((d) => d._id as string);
  const op = rand(10);
  if (op < 3 || live.length < 3) {
    const id = `u${seedText}-${i}`;
    await users.insertOne({ _id: id });
    process.stdout.write(`A insert ${id}\n`);
  } else if (op < 8) {
    const author = live[rand(live.length)]!;
    const editor = live[rand(live.length)]!;
    const { _id } = await posts.insertOne({ author, editor });
    await comments.insertMany([{ post: _id }, { post: _id }]);
    process.stdout.write(`A post ${String(_id)}\n`);
  } else {
    const victim = live[rand(live.length)]!;
    const ops = [users.deleteOne({ _id: victim })];
    // Sometimes a write races the delete in the same process.
    if (rand(2) === 0)
      ops.push(posts.insertOne({ author: victim }).catch(() => ({ deletedCount: -1 })) as never);
    await Promise.all(ops);
    process.stdout.write(`A delete ${victim}\n`);
  }
}
