// The body of every Node module islet cannot offer (fs, net, child_process...): importing it works,
// as on Workers, so code that only mentions it deploys; using any export throws an error naming
// the module and what was used.
export function unavailableError(id: string, what: string): Error {
  const error = new Error(
    `${what} from ${id} is not available in islet: functions have no file system, sockets, processes or threads`,
  );
  (error as Error & { code: string }).code = 'ERR_NOT_AVAILABLE_IN_ISLET';
  return error;
}

/** an export that throws on any use: call, construct or property access */
function unavailable(id: string, name: string): unknown {
  // a function (not an arrow) so that `new` reaches the construct trap
  // biome-ignore lint/complexity/useArrowFunction: an arrow function cannot be constructed
  const target = function () {};
  const fail = (): never => {
    throw unavailableError(id, name);
  };
  return new Proxy(target, {
    apply: fail,
    construct: fail,
    get(_target, key) {
      if (key === 'prototype') return Object.prototype;
      if (key === Symbol.toPrimitive || key === 'toString') return () => `[${id} ${name}: not available in islet]`;
      if (typeof key === 'symbol' || key === 'then') return undefined;
      return fail();
    },
    set: fail,
  });
}

export function unavailableModule(id: string, names: string[]): Record<string, unknown> {
  const module: Record<string, unknown> = {};
  for (const name of names) module[name] = unavailable(id, name);
  return new Proxy(module, {
    get(target, key) {
      if (typeof key === 'symbol' || key === 'then' || key === '__esModule') return undefined;
      if (key in target) return target[key];
      throw unavailableError(id, key);
    },
  });
}
