// WebAssembly's promise-returning compilers inside islet isolates:
// - compile and instantiate: V8's asynchronous compilation finishes through a task V8 posts to
//   the embedder's platform, which islet's isolates do not run (the promise never settles; a
//   request would wait for its wall limit). They compile synchronously here instead, on the
//   tenant's thread and CPU budget, and settle their promise as the standard says (a
//   CompileError or TypeError rejects it).
// - compileStreaming and instantiateStreaming: V8 offers them only when the embedder streams
//   bytes into its compiler; here they read the Response whole and compile that, with the
//   checks the standard makes (a Response, ok, of type application/wasm).
import {
  SafeTypeError,
  SafePromise,
  ObjectDefineProperty,
  PromisePrototypeThen,
  PromiseResolve,
  StringPrototypeToLowerCase,
  StringPrototypeTrim,
  StringPrototypeSplit,
} from '../internal/primordials';

type Source = Response | PromiseLike<Response>;
type Instantiated = WebAssembly.WebAssemblyInstantiatedSource;

/** the functions are named by their declarations (compile, instantiate...), as the standard names them */
function method(wasm: object, name: string, value: (...args: never[]) => unknown): void {
  ObjectDefineProperty(wasm, name, { value, writable: true, configurable: true, enumerable: false });
}

export function installWasmCompilers(wasm: typeof WebAssembly, ResponseClass: typeof Response): void {
  if (typeof wasm !== 'object' || wasm === null) return;
  const { Module, Instance } = wasm;

  const compile = (bytes: BufferSource): Promise<WebAssembly.Module> =>
    new SafePromise((resolve) => resolve(new Module(bytes)));

  function instantiate(source: WebAssembly.Module, imports?: WebAssembly.Imports): Promise<WebAssembly.Instance>;
  function instantiate(source: BufferSource, imports?: WebAssembly.Imports): Promise<Instantiated>;
  function instantiate(source: BufferSource | WebAssembly.Module, imports?: WebAssembly.Imports): Promise<unknown> {
    return new SafePromise((resolve) => {
      if (source instanceof Module) resolve(new Instance(source, imports));
      else {
        const module = new Module(source);
        resolve({ module, instance: new Instance(module, imports) });
      }
    });
  }

  async function bytesOf(source: Source, name: string): Promise<ArrayBuffer> {
    const response = await source;
    const failed = `Failed to execute '${name}' on 'WebAssembly'`;
    if (!(response instanceof ResponseClass)) {
      throw new SafeTypeError(`${failed}: an argument must be a Response or a promise of one.`);
    }
    const type = response.headers.get('content-type');
    const mime = type === null ? '' : StringPrototypeSplit(type, /;/)[0];
    const essence = StringPrototypeToLowerCase(StringPrototypeTrim(mime));
    if (essence !== 'application/wasm') {
      throw new SafeTypeError(`${failed}: Incorrect response MIME type. Expected 'application/wasm'.`);
    }
    if (!response.ok) throw new SafeTypeError(`${failed}: HTTP status code is not ok.`);
    if (response.bodyUsed) throw new SafeTypeError(`${failed}: the Response body was already used.`);
    return await response.arrayBuffer();
  }

  const compileStreaming = (source: Source): Promise<WebAssembly.Module> =>
    PromisePrototypeThen(PromiseResolve(bytesOf(source, 'compileStreaming')), (bytes) => new Module(bytes));

  const instantiateStreaming = (source: Source, imports?: WebAssembly.Imports): Promise<Instantiated> =>
    PromisePrototypeThen(
      PromiseResolve(bytesOf(source, 'instantiateStreaming')),
      (bytes) => instantiate(bytes as BufferSource, imports) as unknown as Promise<Instantiated>,
    );

  method(wasm, 'compile', compile);
  method(wasm, 'instantiate', instantiate);
  method(wasm, 'compileStreaming', compileStreaming);
  method(wasm, 'instantiateStreaming', instantiateStreaming);
}
