// `islet dev`'s file watcher: chokidar (v4), not fs.watch. Node 20's recursive fs.watch loses a
// file once it has been replaced by a rename (what `sed -i` and many editors do when they save:
// write a temp file, rename it over the original), after which every later save of that file went
// unnoticed. chokidar watches each directory for entries coming and going and re-attaches to a
// file replaced under the same name (its `atomic` handling turns unlink+add into one change);
// @parcel/watcher would do as well but needs a native binary, where chokidar is plain JavaScript
// with a single dependency. Changes are debounced: one save often fires several events.
import path from 'node:path';
import { watch } from 'chokidar';

/** Folders and files whose changes never affect the build. */
const IGNORED = /(^|[/\\])(node_modules|\.git|\.islet|\.DS_Store)([/\\]|$)|~$|\.swp$|\.swx$|[/\\]\.#[^/\\]*$/;

export interface DevWatcher {
  /** resolves once the initial scan is done and changes are being reported */
  ready: Promise<void>;
  close(): Promise<void>;
}

export function watchFolder(
  target: string,
  onChange: (file: string) => void,
  onError: (error: Error) => void,
  debounceMs = 80,
): DevWatcher {
  const watcher = watch(target, {
    ignoreInitial: true,
    atomic: true,
    ignored: (file: string) => IGNORED.test(path.relative(target, file)),
  });
  let timer: NodeJS.Timeout | undefined;
  let last = '';
  watcher.on('all', (_event, file) => {
    last = file;
    clearTimeout(timer);
    timer = setTimeout(() => onChange(path.relative(target, last) || path.basename(last)), debounceMs);
  });
  watcher.on('error', (error) => onError(error as Error));
  const ready = new Promise<void>((resolve) => watcher.once('ready', () => resolve()));
  return {
    ready,
    close: async () => {
      clearTimeout(timer);
      await watcher.close();
    },
  };
}
