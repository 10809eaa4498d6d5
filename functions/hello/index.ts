// The smallest islet function: answers every request with a greeting and the URL it was asked
// for. `npm start` serves it at http://hello.localhost:8080/.
interface Env {
  GREETING?: string;
}

export default {
  fetch(request: Request, env: Env): Response {
    const url = new URL(request.url);
    const greeting = env.GREETING ?? 'Hello from islet';
    return new Response(`${greeting}! You asked for ${url.pathname}\n`, {
      headers: { 'content-type': 'text/plain; charset=utf-8' },
    });
  },
};
