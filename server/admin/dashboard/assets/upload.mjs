// Turning what the operator drops or picks (files, a folder, several folders) into the admin
// API's multipart upload: one part per file whose filename is its path inside the function.

/** Paths never uploaded: version control and editor litter. */
const SKIP = /(^|\/)(\.git|\.hg|\.svn|\.DS_Store|\.idea|\.vscode)(\/|$)/;
const NODE_MODULES = /(^|\/)node_modules(\/|$)/;

function readAllEntries(reader) {
  return new Promise((resolve, reject) => {
    const all = [];
    const next = () =>
      reader.readEntries((batch) => {
        if (batch.length === 0) resolve(all);
        else {
          all.push(...batch);
          next();
        }
      }, reject);
    next();
  });
}

async function walkEntry(entry, prefix, out) {
  if (entry.isFile) {
    const file = await new Promise((resolve, reject) => entry.file(resolve, reject));
    out.push({ path: prefix + entry.name, file });
  } else if (entry.isDirectory) {
    for (const child of await readAllEntries(entry.createReader())) {
      await walkEntry(child, `${prefix}${entry.name}/`, out);
    }
  }
}

/** Files of a drop event, walking dropped folders. */
export async function filesFromDrop(dataTransfer) {
  const out = [];
  const entries = [...dataTransfer.items].map((item) => (item.webkitGetAsEntry ? item.webkitGetAsEntry() : null));
  if (entries.some(Boolean)) {
    for (const entry of entries) if (entry) await walkEntry(entry, '', out);
  } else {
    for (const file of dataTransfer.files) out.push({ path: file.name, file });
  }
  return out;
}

/** Files of an <input type=file> (with or without webkitdirectory). */
export function filesFromInput(input) {
  return [...input.files].map((file) => ({ path: file.webkitRelativePath || file.name, file }));
}

/**
 * Normalises picked files: drops litter (and node_modules unless they are to be bundled), and
 * strips the folder name itself when one folder was dropped, so `hello/index.ts` becomes
 * `index.ts`.
 */
export function prepare(files, { keepNodeModules = false } = {}) {
  let kept = files.filter((f) => !SKIP.test(f.path) && (keepNodeModules || !NODE_MODULES.test(f.path)));
  const firsts = new Set(kept.map((f) => f.path.split('/')[0]));
  if (kept.length > 0 && firsts.size === 1 && kept.every((f) => f.path.includes('/'))) {
    const strip = [...firsts][0].length + 1;
    kept = kept.map((f) => ({ ...f, path: f.path.slice(strip) }));
  }
  return kept.sort((a, b) => a.path.localeCompare(b.path));
}

const ENTRY_GUESSES = [
  'index.ts',
  'index.js',
  'index.mjs',
  'worker.ts',
  'worker.js',
  'src/index.ts',
  'src/index.js',
  'src/worker.ts',
];

/** The entry module to propose when the operator typed none. */
export function guessEntry(files) {
  if (files.length === 1) return files[0].path;
  const paths = new Set(files.map((f) => f.path));
  return ENTRY_GUESSES.find((p) => paths.has(p)) ?? '';
}

export function formData(files, { entry, routes, bundle, activate }) {
  const form = new FormData();
  for (const { path, file } of files) form.append('file', file, path);
  if (entry) form.append('entry', entry);
  for (const route of routes) form.append('routes', route);
  if (bundle) form.append('bundle', 'true');
  if (!activate) form.append('activate', 'false');
  return form;
}
