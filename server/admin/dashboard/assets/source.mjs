// A deployment's files (the sources the tenant uploaded, read back from the source maps) and the
// difference between two deployments, file by file, from the admin API (sources.ts there).
import { json, request, tenantPath } from './api.mjs';
import { $, describe, flash, h } from './page.mjs';

const deploymentPath = (tenant, id) => `${tenantPath(tenant)}/deployments/${encodeURIComponent(id)}`;

async function showFile(tenant, id, path, item) {
  for (const li of $('#source-files').children) li.classList.toggle('current', li === item);
  try {
    const text = await (
      await request(`${deploymentPath(tenant, id)}/files/${path.split('/').map(encodeURIComponent).join('/')}`)
    ).text();
    $('#source-text').textContent = text;
  } catch (error) {
    $('#source-text').textContent = `Cannot read ${path}: ${describe(error)}`;
  }
}

export async function showSource(tenant, id) {
  let listing;
  try {
    listing = await json(`${deploymentPath(tenant, id)}/files`);
  } catch (error) {
    return flash(describe(error));
  }
  $('#source-title').textContent = `Source of ${id}`;
  $('#source-panel').hidden = false;
  const items = listing.files.map((f) => {
    const item = h(
      'li',
      {},
      h('button', { type: 'button', class: 'file', onclick: () => showFile(tenant, id, f.path, item) }, f.path),
      f.kind === 'module' ? h('span', { class: 'muted' }, ' built') : null,
    );
    return item;
  });
  $('#source-files').replaceChildren(...items);
  $('#source-text').textContent = '';
  const first = listing.files.findIndex((f) => !f.path.includes('node_modules/'));
  if (first >= 0) await showFile(tenant, id, listing.files[first].path, items[first]);
  $('#source-panel').scrollIntoView({ block: 'nearest' });
}

function patchLines(patch) {
  return patch.split('\n').map((line) =>
    h(
      'span',
      {
        class:
          line.startsWith('+++') || line.startsWith('---')
            ? 'meta'
            : line.startsWith('+')
              ? 'add'
              : line.startsWith('-')
                ? 'del'
                : line.startsWith('@@')
                  ? 'hunk'
                  : 'ctx',
      },
      `${line}\n`,
    ),
  );
}

export async function showDiff(tenant, from, to) {
  const box = $('#diff');
  if (from === to) return box.replaceChildren(h('p', { class: 'muted' }, 'Pick two different deployments.'));
  let answer;
  try {
    answer = await json(`${deploymentPath(tenant, from)}/diff/${encodeURIComponent(to)}`);
  } catch (error) {
    return box.replaceChildren(h('p', { class: 'error' }, describe(error)));
  }
  const changed = answer.files.filter((f) => f.status !== 'unchanged');
  box.replaceChildren(
    h(
      'p',
      { class: 'note' },
      changed.length
        ? `${changed.length} file${changed.length === 1 ? '' : 's'} changed from ${from} to ${to}`
        : `No difference between ${from} and ${to}.`,
    ),
    ...changed.map((f) =>
      h(
        'details',
        { class: 'file-diff', open: true, dataset: { path: f.path, status: f.status } },
        h(
          'summary',
          {},
          h('span', { class: `diff-status ${f.status}` }, f.status),
          ` ${f.path} `,
          h('span', { class: 'add' }, `+${f.additions}`),
          ' ',
          h('span', { class: 'del' }, `−${f.deletions}`),
        ),
        f.patch ? h('pre', { class: 'patch' }, ...patchLines(f.patch)) : h('p', { class: 'muted' }, f.note ?? ''),
      ),
    ),
  );
}
