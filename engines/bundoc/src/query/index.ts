export {
  InvalidFilterError,
  InvalidProjectionError,
  InvalidSortError,
  InvalidUpdateError,
  UpdateConflictError,
} from './errors.js';
export { compileFilter, type Filter, type Matcher } from './filter.js';
