// The one module every system under test serves (workerd and islet load this file as it is;
// the bare node:http baseline calls `burn` from its default export, so the CPU workload is the
// same code everywhere; it hangs off the default export because workerd refuses named exports
// that are not handlers).
// One path per workload:
//   /hello           a short text response
//   /echo            POST a JSON body (1 KB in the benchmark), parsed and sent back re-encoded
//   /cpu             ~1 ms of CPU on this machine's Node: FNV-1a hashing in plain JavaScript
//   /stream          a 1 MiB response produced as a ReadableStream of 16 chunks of 64 KiB
//   /fetch?upstream= one fetch() to a local upstream server, its body returned

const HELLO = 'Hello, world!\n';
const CHUNK = new Uint8Array(64 * 1024).fill(0x61);
const STREAM_CHUNKS = 16;
const CPU_BYTES = new Uint8Array(1024).map((_, i) => (i * 31) & 0xff);
// Passes over CPU_BYTES for ~1 ms of hashing in Node 20 on the benchmark machine.
const CPU_ROUNDS = 940;

function burn(rounds) {
  let h = 0x811c9dc5;
  for (let r = 0; r < rounds; r++) {
    for (let i = 0; i < CPU_BYTES.length; i++) {
      h ^= CPU_BYTES[i];
      h = Math.imul(h, 0x01000193);
    }
    h ^= r;
  }
  return h >>> 0;
}

export default {
  // Shared with the node:http baseline so the CPU workload runs the same code there.
  burn,
  CPU_ROUNDS,
  async fetch(request) {
    const url = new URL(request.url);
    switch (url.pathname) {
      case '/hello':
        return new Response(HELLO, { headers: { 'content-type': 'text/plain' } });
      case '/echo': {
        const value = await request.json();
        return new Response(JSON.stringify(value), { headers: { 'content-type': 'application/json' } });
      }
      case '/cpu':
        return new Response(burn(CPU_ROUNDS).toString(16) + '\n', { headers: { 'content-type': 'text/plain' } });
      case '/stream': {
        let sent = 0;
        const body = new ReadableStream({
          pull(controller) {
            if (sent === STREAM_CHUNKS) {
              controller.close();
              return;
            }
            sent++;
            controller.enqueue(CHUNK);
          },
        });
        return new Response(body, { headers: { 'content-type': 'application/octet-stream' } });
      }
      case '/fetch': {
        const upstream = url.searchParams.get('upstream');
        if (!upstream) return new Response('missing ?upstream=\n', { status: 400 });
        const res = await fetch(upstream);
        return new Response(await res.text(), { status: res.status, headers: { 'content-type': 'text/plain' } });
      }
      default:
        return new Response('not found\n', { status: 404 });
    }
  },
};
