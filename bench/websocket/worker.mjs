// The workload of bench/websocket, served unchanged by islet and by workerd: a Workers module
// that accepts a WebSocket on any upgrade request and sends every message straight back.
export default {
  fetch(request) {
    if (request.headers.get('upgrade') !== 'websocket') return new Response('hello');
    const [client, server] = Object.values(new WebSocketPair());
    server.accept();
    server.addEventListener('message', (event) => server.send(event.data));
    return new Response(null, { status: 101, webSocket: client });
  },
};
