/** The commands hosts run before or as every container launch; each ships as a bundle of its own. */
export const HOT_COMMANDS = ['sync', 'status', 'run'] as const;
export type HotCommand = (typeof HOT_COMMANDS)[number];

/**
 * The hot command that `argv` certainly runs, or null. Only the forms that leave no doubt count: the
 * command first, or after the one program option (`-c <path>`, `-c<path>`, `--config <path>`,
 * `--config=<path>`); anything else (help, other options, other commands) takes the general way.
 */
export function hotCommandOf(argv: readonly string[]): HotCommand | null {
  let index = 0;
  const first = argv[0];
  if (first === '-c' || first === '--config') index = 2;
  else if (first !== undefined && (first.startsWith('--config=') || /^-c[^-]/.test(first))) index = 1;
  const name = argv[index];
  return (HOT_COMMANDS as readonly string[]).includes(name ?? '') ? (name as HotCommand) : null;
}
