/** Exit codes of the CLI and of skill runs, in one place; documented in `--help` and the README. */
export const EXIT_OK = 0;
/** Something failed: a source error, a write error, an unusable token. */
export const EXIT_ERROR = 1;
/** Bad usage or configuration. */
export const EXIT_USAGE = 2;
/** Some token needs the user to authorize (or a skill asked for it). */
export const EXIT_NEEDS_AUTH = 3;
/** A skill ran past its timeout. */
export const EXIT_TIMEOUT = 124;
/** The container runtime failed under a started skill (Docker's own convention for its failures). */
export const EXIT_FAILED = 125;
/** Ctrl-C or SIGTERM: the shell's convention for a command ended by SIGINT; a stopped run too. */
export const EXIT_INTERRUPTED = 130;
/** The reader of the output went away (`| head`) while the command ran: 128 + SIGPIPE, as a shell says. */
export const EXIT_PIPE_CLOSED = 141;

export const EXIT_CODES_HELP = `Exit codes:
  0    all tokens usable (or the skill's own exit code for run)
  1    errors: a token source or the token folder failed, a token is not usable
  2    usage or configuration errors
  3    some provider needs authorization
  124  a skill timed out (run)`;
