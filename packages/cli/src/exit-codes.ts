/**
 * Exit codes of every `sam-backup` command (issue 2 §4, README "Exit codes"):
 * 0 done; 1 failed (and nothing was changed); 2 usage or configuration error;
 * 3 bundle refused (corrupt, malicious, incompatible).
 */
export const EXIT = {
  ok: 0,
  failed: 1,
  usage: 2,
  refused: 3,
} as const;

export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

/** An error that carries the exit code the command must end with and a message for a person. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: ExitCode,
  ) {
    super(message);
    this.name = 'CliError';
  }
}
