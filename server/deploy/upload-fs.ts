// The files of one upload seen as a read-only file system: POSIX paths relative to the upload's
// root. For deployments published by the operator from a folder on disk (`npm start`,
// `islet dev`), bare imports may also fall back to a node_modules folder on the host, read
// lazily; uploads through the API never see the host's disk.
import fs from 'node:fs';
import path from 'node:path';

export class UploadFs {
  #files: Map<string, Buffer>;
  #dirs = new Set<string>();
  #hostNodeModules: string | null;
  #hostCache = new Map<string, Buffer | null>();

  constructor(files: Map<string, Buffer>, hostNodeModules?: string) {
    this.#files = files;
    this.#hostNodeModules = hostNodeModules ? path.resolve(hostNodeModules) : null;
    for (const p of files.keys()) {
      const parts = p.split('/');
      for (let i = 1; i < parts.length; i++) this.#dirs.add(parts.slice(0, i).join('/'));
    }
  }

  /** the host path behind `node_modules/...` when the upload itself lacks it */
  #hostPath(p: string): string | null {
    if (!this.#hostNodeModules || !p.startsWith('node_modules/')) return null;
    const full = path.join(this.#hostNodeModules, p.slice('node_modules/'.length));
    // the join above normalizes: make sure nothing climbed out of the folder
    return full.startsWith(this.#hostNodeModules + path.sep) ? full : null;
  }

  /** every file read so far, from the upload or the host: what a build actually needed */
  readonly used = new Map<string, Buffer>();

  read(p: string): Buffer | null {
    const own = this.#files.get(p);
    if (own) {
      this.used.set(p, own);
      return own;
    }
    const host = this.#hostPath(p);
    if (!host) return null;
    if (!this.#hostCache.has(p)) {
      let data: Buffer | null = null;
      try {
        if (fs.statSync(host).isFile()) data = fs.readFileSync(host);
      } catch {
        data = null;
      }
      this.#hostCache.set(p, data);
    }
    const data = this.#hostCache.get(p) ?? null;
    if (data) this.used.set(p, data);
    return data;
  }

  isFile(p: string): boolean {
    return this.read(p) !== null;
  }

  isDir(p: string): boolean {
    if (p === '' || this.#dirs.has(p)) return true;
    const host = this.#hostPath(p);
    if (!host) return false;
    try {
      return fs.statSync(host).isDirectory();
    } catch {
      return false;
    }
  }

  /** whether the file came from the host's node_modules rather than the upload */
  fromHost(p: string): boolean {
    return !this.#files.has(p) && this.#hostPath(p) !== null;
  }
}
