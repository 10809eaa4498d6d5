// What functions/hello answers for `/`: every server in bench/serve sends exactly these bytes.
export const HELLO = Buffer.from('Hello from islet! You asked for /\n');
export const HELLO_CONTENT_TYPE = 'text/plain; charset=utf-8';
