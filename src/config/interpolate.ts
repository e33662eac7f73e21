/**
 * `${VAR}` and `${VAR:-default}` interpolation over parsed YAML values (never over the raw text, so
 * a value from the environment cannot change the document's structure). `$${` writes a literal `${`.
 */
const REFERENCE = /\$\$\{|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g;

export interface InterpolationResult {
  value: unknown;
  problems: string[];
}

export function formatPath(path: readonly PropertyKey[]): string {
  let text = '';
  for (const part of path) {
    if (typeof part === 'number') text += `[${part}]`;
    // Keys that are not plain words (an owner id like "../x") are quoted so the path stays readable.
    else if (typeof part === 'string' && !/^[A-Za-z_][A-Za-z0-9_-]*$/.test(part))
      text += `[${JSON.stringify(part)}]`;
    else text += text === '' ? String(part) : `.${String(part)}`;
  }
  return text === '' ? '(root)' : text;
}

export function interpolateEnvironment(
  value: unknown,
  env: Readonly<Record<string, string | undefined>>,
): InterpolationResult {
  const problems: string[] = [];

  const visit = (node: unknown, path: PropertyKey[]): unknown => {
    if (typeof node === 'string') {
      return node.replace(REFERENCE, (match, name: string | undefined, fallback: string | undefined) => {
        if (match === '$${') return '${';
        const found = env[name!];
        if (found !== undefined && found !== '') return found;
        if (fallback !== undefined) return fallback;
        problems.push(`${formatPath(path)}: environment variable ${name} is not set`);
        return '';
      });
    }
    if (Array.isArray(node)) return node.map((item, index) => visit(item, [...path, index]));
    if (node !== null && typeof node === 'object') {
      return Object.fromEntries(
        Object.entries(node).map(([key, item]) => [key, visit(item, [...path, key])]),
      );
    }
    return node;
  };

  return { value: visit(value, []), problems };
}
