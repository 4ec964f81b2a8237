/**
 * The audit's face: what callers use (the CLI, tests), re-exported from the files that do
 * the work, and no logic of its own. audit.ts reads lines and reports, ledger.ts adds the
 * grants up, parse.ts reads one line, sweep.ts and workers.ts find overlaps and gaps,
 * types.ts is the report, format.ts prints it for a person.
 */
export { GrantAudit, auditGrantLog, UNREADABLE_SHOWN } from './audit.js';
export { LIST_LIMIT } from './sweep.js';
export { reportText } from './format.js';
export type * from './types.js';
