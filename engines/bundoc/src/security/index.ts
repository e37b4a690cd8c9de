export { type AdminOp, type AuditEvent, type AuditHook, emitAudit } from './audit.js';
export {
  CollectionSecurity,
  type SecurityOptions,
  type SecuritySpec,
  validateSecuritySpec,
} from './collection-security.js';
export { type AuthContext, type AuthInfo, checkAuthContext } from './context.js';
export {
  type DeleteAction,
  type DeletePlan,
  type PlanAction,
  type PlanOptions,
  planDelete,
  type ReferenceFinder,
  type SetNullAction,
  type StoredDoc,
} from './delete-plan.js';
export {
  DanglingReferenceError,
  DeletePlanTooLargeError,
  InvalidAuthContextError,
  InvalidRuleError,
  InvalidSchemaError,
  InvalidSecuritySpecError,
  PermissionDenied,
  ReferenceRestrictedError,
  type RuleOp,
  type SchemaIssue,
  SchemaValidationError,
} from './errors.js';
export { assertReferencesExist, type ReferenceExistence, referencesToCheck } from './reference-check.js';
export { ReferenceGraph } from './reference-graph.js';
export {
  applySetNull,
  type DocId,
  type OnDelete,
  type ReferenceEdge,
  referencedIds,
} from './references.js';
export type { RuleName, RulesSpec } from './rules.js';
export type { ValidationLevel } from './schema.js';
