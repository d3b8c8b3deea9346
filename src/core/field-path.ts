// Field paths into configuration documents: `spec.portLevelMtls["8080"].mode`, `items[2].metadata.name`.
// Used by every parser and validator to say exactly where a problem is.

/** One step into a document: an object key or an array index. */
export type PathSegment = string | number;
export type FieldPath = readonly PathSegment[];

const IDENTIFIER = /^[A-Za-z_$][A-Za-z0-9_$-]*$/;

/** Renders a path the way users write it: dots for plain keys, brackets for indices and unusual keys. */
export function formatPath(path: FieldPath): string {
  let out = '';
  for (const segment of path) {
    if (typeof segment === 'number') out += `[${segment}]`;
    else if (IDENTIFIER.test(segment)) out += out === '' ? segment : `.${segment}`;
    else out += `[${JSON.stringify(segment)}]`;
  }
  return out;
}
