// What every part of the dashboard page shares: the page's state, building elements, the flash
// message. Every piece of server data goes into the page through textContent or attributes
// (h() below), never as markup.
import { ApiError, json } from './api.mjs';
import { Stats } from './stats.mjs';

export const $ = (selector) => document.querySelector(selector);

/** Builds an element: h('a', { href }, 'text', child). */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith('on')) el.addEventListener(name.slice(2), value);
    else if (name === 'dataset') Object.assign(el.dataset, value);
    else el.setAttribute(name, value === true ? '' : String(value));
  }
  el.append(...children.flat().filter((c) => c !== null && c !== undefined && c !== false));
  return el;
}

export const state = {
  tenants: [],
  tenantsAt: 0,
  tenant: null,
  stats: new Stats(),
  metricsOk: true,
  timer: null,
  logAbort: null,
  history: null,
  historyAt: 0,
  limitDetails: null,
};

export function flash(message, kind = 'error') {
  const el = $('#flash');
  el.textContent = message;
  el.className = kind;
  el.hidden = !message;
}

export function describe(error) {
  return error instanceof ApiError
    ? `${error.message} (${error.code})`
    : String(error?.message ? error.message : error);
}

/** The tenants the token may list, also offered as names in the tenant picker. */
export async function loadTenants() {
  const body = await json('/v1/tenants');
  state.tenants = body.tenants ?? [];
  state.tenantsAt = Date.now();
  const list = $('#tenant-names');
  list.replaceChildren(...state.tenants.map((t) => h('option', { value: t.name })));
  return state.tenants;
}
