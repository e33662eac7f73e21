/** What a command hands to the entry: it prints one of the two forms and exits with the code. */
export interface CommandResult {
  exitCode: number;
  /** For people. */
  text: string;
  /** For `--json`: printed as one JSON document. */
  json: unknown;
}
