// The `abort-controller` package readable-stream falls back to: the platform's own classes.
export const AbortController = globalThis.AbortController;
export const AbortSignal = globalThis.AbortSignal;
export default AbortController;
