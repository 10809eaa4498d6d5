// Every error class the server raises, in one module with stable codes (undici's
// lib/core/errors.js is the model): callers, the admin API and tests match on `code`, never on
// message text. One naming scheme: `ISLET_<AREA>_<WHAT>` in upper snake case, e.g.
// `ISLET_LIMIT_EXCEEDED`, `ISLET_STORE_NOT_FOUND`, `ISLET_DEPLOY_ROUTE_TAKEN`. An error that the
// admin API answers with also carries its HTTP `status`; the admin API's wire codes (the
// documented `{"error": {"code"}}` values such as `ROUTE_TAKEN`) are derived from the class in
// one place (server/admin/), so renaming a class never changes what clients see.
//
// Messages say what was wrong and where (file:line:column, the option, the field), because many
// of them are shown to tenants or operators as they are.

/** The base of every islet error: a stable code, an optional HTTP status, an optional cause. */
export class IsletError extends Error {
  constructor(
    readonly code: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** true when `error` is an islet error, optionally of one code */
export function isIsletError(error: unknown, code?: string): error is IsletError {
  return error instanceof IsletError && (code === undefined || error.code === code);
}

// Classes are added below by area. Keep each area's classes together, in this file, with a
// comment saying what raises them.
