// The admin API as the page sees it: the token from sessionStorage sent as a Bearer token, JSON
// answers, and the API's `{error: {code, message}}` turned into thrown errors that keep the code.
const KEY = 'islet.token';

export const session = {
  get token() {
    return sessionStorage.getItem(KEY);
  },
  set token(value) {
    if (value) sessionStorage.setItem(KEY, value);
    else sessionStorage.removeItem(KEY);
  },
};

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

/** Listeners called when the API answers 401 (token revoked or wrong). */
export const unauthorized = new Set();

async function failure(response) {
  let code = `HTTP_${response.status}`;
  let message = `${response.status} ${response.statusText}`;
  try {
    const body = await response.json();
    if (body?.error) {
      code = body.error.code || code;
      message = body.error.message || message;
    }
  } catch {
    // not JSON: keep the status line
  }
  const error = new ApiError(response.status, code, message);
  if (response.status === 401) for (const listener of unauthorized) listener(error);
  return error;
}

/** Raw request with the session's token; throws ApiError for any non-2xx answer. */
export async function request(path, init = {}) {
  const headers = new Headers(init.headers);
  if (session.token) headers.set('authorization', `Bearer ${session.token}`);
  const response = await fetch(path, { ...init, headers });
  if (!response.ok) throw await failure(response);
  return response;
}

export async function json(path, init = {}) {
  const response = await request(path, init);
  if (response.status === 204) return null;
  return response.json();
}

export const tenantPath = (tenant) => `/v1/tenants/${encodeURIComponent(tenant)}`;
