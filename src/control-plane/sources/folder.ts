// A folder of YAML/JSON configuration as a config source: read with the loader's file reader, watched with
// fs.watch (recursive: Node 20 supports it on Linux, macOS and Windows). A folder that does not exist yet — the
// runtime's registry folder before its first workload — reads as empty and is picked up once created.

import { type FSWatcher, type Stats, statSync, watch } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { type ReadResult, readConfigFiles } from '../../config/sources/files.js';
import type { ConfigSource } from './source.js';

export interface FolderSourceOptions {
  /** As shown in logs; default `folder:<dir>`. */
  name?: string;
  /** How often a missing folder (or one fs.watch refuses) is looked at again, in ms; default 1000. */
  pollIntervalMs?: number;
  /**
   * Never use fs.watch: compare listings of the tree every interval (file systems that send no change events,
   * such as NFS or some container mounts).
   */
  poll?: boolean;
}

export class FolderSource implements ConfigSource {
  readonly name: string;
  readonly dir: string;
  private readonly pollIntervalMs: number;
  private readonly pollOnly: boolean;

  constructor(dir: string, options: FolderSourceOptions = {}) {
    this.dir = dir;
    this.name = options.name ?? `folder:${dir}`;
    this.pollIntervalMs = options.pollIntervalMs ?? 1000;
    this.pollOnly = options.poll ?? false;
  }

  /** The files under the folder; a folder that does not exist (yet) is empty, not an error. */
  async read(): Promise<ReadResult> {
    if (inodeOf(this.dir) === undefined) return { files: [], diagnostics: [] };
    const result = await readConfigFiles(this.dir);
    // Removed between the two looks: still "not there yet", not an I/O error.
    if (result.files.length === 0 && inodeOf(this.dir) === undefined) return { files: [], diagnostics: [] };
    return result;
  }

  watch(onChange: () => void): () => void {
    const w = new FolderWatch(this.dir, this.pollIntervalMs, this.pollOnly, onChange);
    return () => w.close();
  }
}

/**
 * One watch of one folder, in one of two states. Watching: an fs.watch on the folder; after each event the folder
 * is looked at again, and if it is gone or was replaced (another inode: removed and created again) the watch
 * is dropped. Polling: every interval the folder is looked at; once it exists it is watched again and
 * `onChange` is called (it may already hold files). Polling is used rather than watching the nearest existing
 * parent: the parent may not exist either (a state folder made on the first `skiff up`), parents can be large or
 * busy, and a once-a-second stat of one path costs nothing. When fs.watch refuses an existing folder (ENOSPC:
 * the inotify watch limit), or with `poll: true`, polling compares listings of the tree (paths, sizes,
 * modification times) instead.
 */
class FolderWatch {
  private watcher: FSWatcher | undefined;
  private watchedInode: number | undefined;
  private timer: NodeJS.Timeout | undefined;
  private listing: string | undefined;
  private closed = false;

  constructor(
    private readonly dir: string,
    private readonly intervalMs: number,
    private readonly pollOnly: boolean,
    private readonly onChange: () => void,
  ) {
    // Synchronously, so that nothing written after watch() returns is missed.
    this.attach(false);
  }

  close(): void {
    this.closed = true;
    this.stopWatching();
    this.stopPolling();
  }

  /** Watches the folder if it exists, else polls. `announce`: tell the listener once watching (it appeared). */
  private attach(announce: boolean): void {
    if (this.closed || this.watcher) return;
    if (this.pollOnly) {
      this.startPolling();
      return;
    }
    let info: Stats;
    try {
      info = statSync(this.dir);
      const watcher = watch(this.dir, { recursive: info.isDirectory() }, (_event, name) =>
        this.onEvent(name),
      );
      watcher.on('error', () => this.lost());
      this.watcher = watcher;
      this.watchedInode = info.ino;
    } catch {
      // ENOENT: not there yet; ENOSPC/EMFILE: no more watches. Poll instead.
      this.startPolling();
      return;
    }
    this.stopPolling();
    if (announce) this.notify();
  }

  private onEvent(name: string | null): void {
    if (this.closed) return;
    // Hidden entries (editor swap files, .git) are never read: no reason to reload.
    if (name?.split(/[\\/]/).some((part) => part.startsWith('.'))) return;
    this.notify();
    if (inodeOf(this.dir) !== this.watchedInode) this.lost();
  }

  /** The folder went away or was replaced: what it held changed; look for it again. */
  private lost(): void {
    if (this.closed || !this.watcher) return;
    this.stopWatching();
    this.notify();
    this.attach(true);
  }

  private startPolling(): void {
    if (this.closed || this.timer) return;
    this.timer = setInterval(() => void this.poll(), this.intervalMs);
  }

  private stopPolling(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.listing = undefined;
  }

  private async poll(): Promise<void> {
    if (this.closed || this.watcher) return;
    if (inodeOf(this.dir) === undefined) {
      // Gone while its listing was being compared: what it held changed.
      if (this.listing !== undefined) this.notify();
      this.listing = undefined;
      return;
    }
    this.attach(true);
    if (this.watcher) return;
    // It exists and fs.watch refused it: compare listings of the tree. The first listing is told too (the folder
    // may have just appeared; at worst the store reloads once for nothing).
    const listing = await listTree(this.dir);
    if (this.closed || this.watcher) return;
    if (listing !== this.listing) this.notify();
    this.listing = listing;
  }

  private stopWatching(): void {
    this.watcher?.close();
    this.watcher = undefined;
    this.watchedInode = undefined;
  }

  private notify(): void {
    try {
      this.onChange();
    } catch {
      // A listener's failure is its own; the watch goes on.
    }
  }
}

/** The path's inode, undefined when it does not exist (or cannot be looked at). */
function inodeOf(p: string): number | undefined {
  try {
    return statSync(p).ino;
  } catch {
    return undefined;
  }
}

async function listTree(dir: string): Promise<string> {
  try {
    const names = (await readdir(dir, { recursive: true })).sort();
    const parts: string[] = [];
    for (const name of names) {
      try {
        const s = await stat(path.join(dir, name));
        parts.push(`${name}\0${s.size}\0${s.mtimeMs}`);
      } catch {
        parts.push(`${name}\0gone`);
      }
    }
    return parts.join('\n');
  } catch {
    return '';
  }
}
