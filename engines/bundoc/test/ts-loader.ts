// Node flags for a child process that runs this package's TypeScript sources: the test runner's loader
// (tsx, set as tap's node-arg in package.json), not tap's process-info hook, which would report the
// child as a test of its own.
export const tsLoaderArgs = process.execArgv.filter(
  (a) => a === '--import=tsx' || a === '--enable-source-maps',
);
