export {
  InvalidFilterError,
  InvalidProjectionError,
  InvalidSortError,
  InvalidUpdateError,
  UpdateConflictError,
} from './errors.js';
export { compileFilter, type Filter, type Matcher } from './filter.js';
export { compileProjection, type ProjectionSpec, type Projector } from './projection.js';
export { compileSort, type SortSpec, sortDocuments } from './sort.js';
export { type ApplyOptions, type CompiledUpdate, compileUpdate, type UpdateSpec } from './update.js';
export { upsertDocument, upsertSeed } from './upsert.js';
