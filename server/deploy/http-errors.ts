// The admin API's error shape, `{"error": {"code", "message"}}`, and the mapping of every error
// the deploy path can raise onto it. Unknown errors become a 500 with a generic message: stack
// traces and internal details go to the server log, never to the client.
import type { Context } from 'hono';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import type { Logger } from '../log';
import { StoreError } from '../store/errors';
import { DeployError } from './errors';

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

const storeStatus: Record<StoreError['code'], [number, string]> = {
  STORE_NOT_FOUND: [404, 'NOT_FOUND'],
  STORE_INVALID_NAME: [400, 'INVALID_NAME'],
  STORE_ACTIVE_DEPLOYMENT: [409, 'ACTIVE_DEPLOYMENT'],
  STORE_CONFLICT: [409, 'CONFLICT'],
  STORE_CORRUPT: [500, 'STORE_CORRUPT'],
  STORE_ROUTE_TAKEN: [409, 'ROUTE_TAKEN'],
  STORE_UNAVAILABLE: [503, 'STORE_UNAVAILABLE'],
};

export function toApiError(error: unknown): ApiError | null {
  if (error instanceof ApiError) return error;
  if (error instanceof DeployError) return new ApiError(error.status, error.code, error.message);
  if (error instanceof StoreError) {
    const [status, code] = storeStatus[error.code];
    return new ApiError(status, code, error.message);
  }
  return null;
}

export function errorBody(code: string, message: string): { error: { code: string; message: string } } {
  return { error: { code, message } };
}

export function handleError(logger: Logger) {
  return (error: unknown, c: Context) => {
    const api = toApiError(error);
    if (api) {
      if (api.status >= 500) logger.error('admin request failed', { method: c.req.method, path: c.req.path, code: api.code, error: api.message });
      return c.json(errorBody(api.code, api.message), api.status as ContentfulStatusCode);
    }
    logger.error('admin request failed', { method: c.req.method, path: c.req.path, error: (error as Error)?.stack ?? String(error) });
    return c.json(errorBody('INTERNAL', 'internal error; the server log has the details'), 500);
  };
}
