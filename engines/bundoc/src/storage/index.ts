export {
  BundocError,
  ClosedError,
  ConflictError,
  CorruptionError,
  FormatError,
  InvalidArgumentError,
  LockedError,
} from './errors.js';
