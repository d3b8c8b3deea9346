// Where the control plane's configuration comes from: the user's folder, the runtime's registry folder, later a
// Kubernetes cluster. The store reads every source together and rebuilds the model when any of them changes.

import type { ReadResult } from '../../config/sources/files.js';

export type { ReadResult };

/**
 * One configuration source. `read` returns the current files (as the loader takes them) and I/O problems as
 * diagnostics; it does not throw for missing or unreadable input. `watch` calls `onChange` — possibly several
 * times for one edit, the store debounces — whenever a later `read` may return something else, and returns a
 * function that stops watching (timers and watchers closed; safe to call twice).
 */
export interface ConfigSource {
  readonly name: string;
  read(): Promise<ReadResult>;
  watch(onChange: () => void): () => void;
}
