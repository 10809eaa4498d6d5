// Errors the store raises, with stable codes so the admin API can map them to HTTP statuses
// without matching message text.
export type StoreErrorCode =
  | 'STORE_NOT_FOUND'
  | 'STORE_INVALID_NAME'
  | 'STORE_ACTIVE_DEPLOYMENT'
  | 'STORE_CORRUPT'
  | 'STORE_CONFLICT'
  /** another tenant's active deployment serves the route (or one overlapping it) */
  | 'STORE_ROUTE_TAKEN'
  /** the backend cannot be reached (PostgreSQL down, a lock held too long): retry later */
  | 'STORE_UNAVAILABLE';

export class StoreError extends Error {
  constructor(
    readonly code: StoreErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'StoreError';
  }
}

export function isStoreError(error: unknown, code?: StoreErrorCode): error is StoreError {
  return error instanceof StoreError && (code === undefined || error.code === code);
}
