// The admin API's error answers, written once: `{"error": {"code", "message"}}` with the HTTP
// status of the error's code (server/errors.ts). The wire `code` a client reads is mapped here,
// in one table, from the error's stable ISLET_* code: these are the codes README documents
// (ROUTE_TAKEN, BUSY, NOT_FOUND, TOO_MANY_AUTH_FAILURES...), and renaming a class or a code
// inside the server never changes them. Every admin route answers errors through
// `adminRouter()`; an error that is none of these classes becomes a 500 with a generic message:
// stack traces and internal details go to the server log, never to the client.
import { Hono, type Context, type ErrorHandler, type NotFoundHandler } from 'hono';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import {
  ApiError,
  DeployError,
  StoreError,
  type AdminErrorCode,
  type DeployErrorCode,
  type StoreErrorCode,
} from '../errors';
import type { Logger } from '../observe/server-log';
import type { AdminEnv } from './auth';

/** the wire code of each error code the admin API answers with */
const wireCodes: Record<AdminErrorCode | DeployErrorCode | StoreErrorCode, string> = {
  ISLET_ADMIN_UNAUTHORIZED: 'UNAUTHORIZED',
  ISLET_ADMIN_FORBIDDEN: 'FORBIDDEN',
  ISLET_ADMIN_TOO_MANY_AUTH_FAILURES: 'TOO_MANY_AUTH_FAILURES',
  ISLET_ADMIN_NOT_FOUND: 'NOT_FOUND',
  ISLET_ADMIN_TENANT_NOT_FOUND: 'TENANT_NOT_FOUND',
  ISLET_ADMIN_BAD_JSON: 'BAD_JSON',
  ISLET_ADMIN_BAD_ENV: 'BAD_ENV',
  ISLET_ADMIN_BAD_LIMITS: 'BAD_LIMITS',
  ISLET_ADMIN_BAD_BINDINGS: 'BAD_BINDINGS',
  ISLET_ADMIN_BAD_KV: 'BAD_KV',
  ISLET_ADMIN_KV_QUOTA: 'KV_QUOTA',
  ISLET_ADMIN_UNAVAILABLE: 'UNAVAILABLE',
  ISLET_ADMIN_BAD_LOG_LIMIT: 'LOGS_INVALID_LIMIT',
  ISLET_ADMIN_BAD_OPTION: 'BAD_OPTION',
  ISLET_ADMIN_BAD_MULTIPART: 'BAD_MULTIPART',
  ISLET_ADMIN_UNSUPPORTED_MEDIA_TYPE: 'UNSUPPORTED_MEDIA_TYPE',
  ISLET_ADMIN_PAYLOAD_TOO_LARGE: 'PAYLOAD_TOO_LARGE',
  ISLET_ADMIN_METRICS_UNAVAILABLE: 'METRICS_UNAVAILABLE',
  ISLET_ADMIN_HOSTNAME_CHECK_FAILED: 'HOSTNAME_NOT_VERIFIED',
  ISLET_ADMIN_BAD_HOSTNAME: 'BAD_HOSTNAME',
  ISLET_ADMIN_NO_PREVIOUS_DEPLOYMENT: 'NO_PREVIOUS_DEPLOYMENT',
  ISLET_ADMIN_BAD_LOG_FILTER: 'BAD_LOG_FILTER',
  ISLET_ADMIN_TOO_MANY_FOLLOWERS: 'TOO_MANY_FOLLOWERS',
  ISLET_ADMIN_BAD_RANGE: 'BAD_RANGE',
  ISLET_ADMIN_HISTORY_UNAVAILABLE: 'HISTORY_UNAVAILABLE',
  ISLET_ADMIN_PROFILE_RUNNING: 'PROFILE_RUNNING',

  ISLET_DEPLOY_UPLOAD_EMPTY: 'UPLOAD_EMPTY',
  ISLET_DEPLOY_UPLOAD_TOO_LARGE: 'UPLOAD_TOO_LARGE',
  ISLET_DEPLOY_UPLOAD_BAD_PATH: 'UPLOAD_BAD_PATH',
  ISLET_DEPLOY_UPLOAD_BAD_ARCHIVE: 'UPLOAD_BAD_ARCHIVE',
  ISLET_DEPLOY_ENTRY_NOT_FOUND: 'ENTRY_NOT_FOUND',
  ISLET_DEPLOY_BUILD_FAILED: 'BUILD_FAILED',
  ISLET_DEPLOY_UNRESOLVED_IMPORT: 'UNRESOLVED_IMPORT',
  ISLET_DEPLOY_NO_FETCH_HANDLER: 'NO_FETCH_HANDLER',
  ISLET_DEPLOY_DEPLOYMENT_REJECTED: 'DEPLOYMENT_REJECTED',
  ISLET_DEPLOY_BAD_CONFIG: 'BAD_CONFIG',
  ISLET_DEPLOY_BAD_ROUTE: 'BAD_ROUTE',
  ISLET_DEPLOY_ROUTE_TAKEN: 'ROUTE_TAKEN',
  ISLET_DEPLOY_BUSY: 'BUSY',
  ISLET_DEPLOY_BUILD_LIMIT: 'BUILD_LIMIT_EXCEEDED',
  ISLET_DEPLOY_QUOTA_VERSIONS: 'QUOTA_EXCEEDED',
  ISLET_DEPLOY_QUOTA_SIZE: 'QUOTA_EXCEEDED',
  ISLET_DEPLOY_HOSTNAME_RESERVED: 'HOSTNAME_RESERVED',
  ISLET_DEPLOY_HOSTNAME_NOT_VERIFIED: 'HOSTNAME_NOT_VERIFIED',

  ISLET_STORE_NOT_FOUND: 'NOT_FOUND',
  ISLET_STORE_INVALID_NAME: 'INVALID_NAME',
  ISLET_STORE_ACTIVE_DEPLOYMENT: 'ACTIVE_DEPLOYMENT',
  ISLET_STORE_CONFLICT: 'CONFLICT',
  ISLET_STORE_CORRUPT: 'STORE_CORRUPT',
  ISLET_STORE_ROUTE_TAKEN: 'ROUTE_TAKEN',
  ISLET_STORE_UNAVAILABLE: 'STORE_UNAVAILABLE',
};

type AnsweredCode = AdminErrorCode | DeployErrorCode | StoreErrorCode;

/** The wire code clients read for `code`. */
export function wireCode(code: AnsweredCode): string {
  return wireCodes[code];
}

export interface WireError {
  status: number;
  code: string;
  message: string;
}

/** How the admin API answers `error`, or null when it is not one it answers as it is. */
export function toWire(error: unknown): WireError | null {
  if (error instanceof ApiError || error instanceof DeployError || error instanceof StoreError) {
    return { status: error.status, code: wireCodes[error.code], message: error.message };
  }
  return null;
}

export function errorBody(code: string, message: string): { error: { code: string; message: string } } {
  return { error: { code, message } };
}

/** Answers any error thrown by an admin route (or its auth); logs 5xx and unknown errors when given a logger. */
export function answerError(logger?: Logger): ErrorHandler<AdminEnv> {
  return (error: unknown, c: Context) => {
    const wire = toWire(error);
    if (wire) {
      if (wire.status >= 500)
        logger?.error('admin request failed', {
          method: c.req.method,
          path: c.req.path,
          code: wire.code,
          error: wire.message,
        });
      return c.json(errorBody(wire.code, wire.message), wire.status as ContentfulStatusCode);
    }
    logger?.error('admin request failed', {
      method: c.req.method,
      path: c.req.path,
      error: (error as Error)?.stack ?? String(error),
    });
    return c.json(errorBody('INTERNAL', 'internal error; the server log has the details'), 500);
  };
}

/** The answer for a path no admin route serves. */
export const answerNotFound: NotFoundHandler = (c) =>
  c.json(errorBody(wireCode('ISLET_ADMIN_NOT_FOUND'), `no admin route ${c.req.method} ${c.req.path}`), 404);

/** A Hono app for admin routes: errors thrown by its handlers are answered as above. */
export function adminRouter(logger?: Logger): Hono<AdminEnv> {
  return new Hono<AdminEnv>().onError(answerError(logger));
}
