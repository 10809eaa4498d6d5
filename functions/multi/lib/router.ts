// A tiny path router: exact paths and `:name` segments, nothing more. It lives in its own
// module to show that a deployment can be several files importing each other.
export type Params = Record<string, string>;
export type Handler = (request: Request, params: Params) => Response | Promise<Response>;

interface Route {
  method: string;
  parts: string[];
  handler: Handler;
}

export class Router {
  #routes: Route[] = [];

  on(method: string, pattern: string, handler: Handler): this {
    this.#routes.push({ method, parts: pattern.split('/').filter(Boolean), handler });
    return this;
  }

  handle(request: Request): Response | Promise<Response> | null {
    const segments = new URL(request.url).pathname.split('/').filter(Boolean).map(decodeURIComponent);
    for (const route of this.#routes) {
      if (route.method !== request.method || route.parts.length !== segments.length) continue;
      const params: Params = {};
      const matched = route.parts.every((part, i) => {
        if (part.startsWith(':')) {
          params[part.slice(1)] = segments[i]!;
          return true;
        }
        return part === segments[i];
      });
      if (matched) return route.handler(request, params);
    }
    return null;
  }
}
