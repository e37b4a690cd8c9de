import type { AuditEvent, AuditHook } from '../security/audit.js';
import {
  CollectionSecurity,
  type SecurityOptions,
  type SecuritySpec,
} from '../security/collection-security.js';
import { InvalidSchemaError } from '../security/errors.js';
import { ReferenceGraph } from '../security/reference-graph.js';
import type { CollectionMeta } from './catalog.js';
import { InvalidCollectionNameError } from './errors.js';
import { checkCollectionName } from './names.js';

/** Allow-all security instances kept for collections without a spec (then the cache starts over). */
const MAX_OPEN_CACHED = 4096;

/** Options of Bundoc.open that reach the security layer. */
export interface AuditOptions {
  /** Told about every denied operation, every admin (rule-bypassing) one, and every schema change. */
  audit?: AuditHook;
  /** Where errors thrown (or promises rejected) by `audit` go; default: dropped. */
  onAuditError?: (err: unknown) => void;
}

/**
 * The compiled security of every collection of one database, and the reference graph between them,
 * derived from the catalog: updated whenever a catalog entry changes under a schema change (which holds
 * the database lock alone, so no write runs against a half-updated registry).
 */
export class SecurityRegistry {
  readonly #options: SecurityOptions;
  /** Only collections with a non-empty spec; the others get an open (allow-all) instance on demand. */
  readonly #secured = new Map<string, CollectionSecurity>();
  /** Allow-all instances by name (they only carry the name and the audit hook); bounded. */
  readonly #open = new Map<string, CollectionSecurity>();
  #graph: ReferenceGraph | undefined;

  constructor(options: AuditOptions) {
    this.#options = {
      ...(options.audit ? { audit: options.audit } : {}),
      ...(options.onAuditError ? { onAuditError: options.onAuditError } : {}),
    };
  }

  /**
   * Compiles and checks a spec for collection `name` without installing it: the security layer's
   * checks, plus the database's collection-name rules for every reference target.
   */
  compile(name: string, spec: unknown): CollectionSecurity {
    const sec = CollectionSecurity.compile(name, spec, this.#options);
    for (const edge of sec.references) {
      // The delete planner finds referrers with a query on the path: its names must be document field names.
      for (const step of edge.steps) {
        if (step.kind !== 'field') continue;
        const n = step.name;
        if (n === '' || n.startsWith('$') || n.includes('.') || n.includes('\0')) {
          throw new InvalidSchemaError(
            `x-bundoc-ref at "${edge.path}": property ${JSON.stringify(n)} cannot be a document field name (empty, starting with "$", or containing "." or NUL)`,
          );
        }
      }
      try {
        checkCollectionName(edge.target);
      } catch (e) {
        if (!(e instanceof InvalidCollectionNameError)) throw e;
        throw new InvalidSchemaError(`x-bundoc-ref at "${edge.path}": ${e.message}`, { cause: e });
      }
    }
    return sec;
  }

  /** Installs the security stored in a catalog entry (undefined: the collection is gone). */
  set(name: string, meta: CollectionMeta | undefined): void {
    const spec = meta?.security;
    const had = this.#secured.get(name);
    if (spec === undefined || isEmptySpec(spec)) {
      if (!had) return;
      this.#secured.delete(name);
    } else {
      if (had && JSON.stringify(had.spec) === JSON.stringify(spec)) return;
      this.#secured.set(name, CollectionSecurity.compile(name, spec, this.#options));
    }
    this.#graph = undefined;
  }

  /** The security of collection `name`: allow-all when it has no spec. */
  of(name: string): CollectionSecurity {
    const sec = this.#secured.get(name) ?? this.#open.get(name);
    if (sec) return sec;
    if (this.#open.size >= MAX_OPEN_CACHED) this.#open.clear();
    const open = CollectionSecurity.compile(name, undefined, this.#options);
    this.#open.set(name, open);
    return open;
  }

  /** The references between all collections. */
  graph(): ReferenceGraph {
    this.#graph ??= new ReferenceGraph(this.#secured.values());
    return this.#graph;
  }

  /** Collections other than `name` whose schemas reference `name`. */
  referencing(name: string): string[] {
    const from = new Set(
      this.graph()
        .incoming(name)
        .map((e) => e.from),
    );
    from.delete(name);
    return [...from].sort();
  }

  /** An audit event not tied to a document check (schema changes). */
  audit(collection: string, op: AuditEvent['op']): void {
    this.of(collection).audit({ op, auth: null, admin: true, outcome: 'admin' });
  }
}

export function isEmptySpec(spec: SecuritySpec): boolean {
  return spec.schema === undefined && spec.rules === undefined && spec.validationLevel === undefined;
}
