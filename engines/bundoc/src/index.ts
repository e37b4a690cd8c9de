// The document database; its storage layer is also importable alone as '@bunbase/bundoc/storage'.
export * from './db/index.js';
export * from './storage/index.js';
