/**
 * The one place that imports the Cedar engine. It is the Node.js build of
 * `@cedar-policy/cedar-wasm` (the default ESM build targets bundlers and does not load
 * under plain Node). Everything else in src/policy talks to Cedar through this module,
 * so swapping the binding touches one file.
 */
export {
  checkParseSchema,
  getCedarVersion,
  policySetTextToParts,
  policyToJson,
  preparsePolicySet,
  statefulIsAuthorized,
  validate,
} from '@cedar-policy/cedar-wasm/nodejs';
export type {
  AuthorizationAnswer,
  CedarValueJson,
  DetailedError,
  EntityJson,
  EntityUidJson,
  Expr,
  PolicyJson,
} from '@cedar-policy/cedar-wasm/nodejs';
