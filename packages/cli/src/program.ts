import { Command, CommanderError } from 'commander';
import { registerDemoCommand } from './commands/demo.js';
import { registerExportCommand } from './commands/export.js';
import { registerInspectCommand } from './commands/inspect.js';
import { registerRecoverCommand } from './commands/recover.js';
import { registerRestoreCommand } from './commands/restore.js';
import { registerVerifyCommand } from './commands/verify.js';
import { CliError, EXIT, type ExitCode } from './exit-codes.js';
import { type CliIO, processIO } from './output/io.js';
import { TOOL_VERSION } from './version.js';

/** Builds the `sam-backup` command line. Each command sets `state.exitCode`. */
export function buildProgram(io: CliIO, state: { exitCode: ExitCode }): Command {
  const program = new Command('sam-backup')
    .description(
      'Back up and restore a complete SAM AI installation (Odoo data, knowledge graph, vectors) as one verified bundle.',
    )
    .version(TOOL_VERSION, '-V, --version')
    .showHelpAfterError('(run "sam-backup --help" for the list of commands)')
    .configureOutput({
      writeOut: (s) => io.stdout.write(s),
      writeErr: (s) => io.stderr.write(s),
    })
    .exitOverride();
  registerVerifyCommand(program, io, state);
  registerInspectCommand(program, io, state);
  const env = io.env ?? process.env;
  registerExportCommand(program, io, state, env);
  registerRestoreCommand(program, io, state, env);
  registerRecoverCommand(program, io, state, env);
  registerDemoCommand(program, io, state);
  for (const cmd of program.commands) cmd.exitOverride();
  return program;
}

/** Runs the command line and returns the exit code; never calls process.exit itself. */
export async function run(argv: readonly string[], io: CliIO = processIO): Promise<ExitCode> {
  const state: { exitCode: ExitCode } = { exitCode: EXIT.ok };
  const program = buildProgram(io, state);
  try {
    await program.parseAsync(argv as string[], { from: 'user' });
    return state.exitCode;
  } catch (err) {
    if (err instanceof CommanderError) {
      // --help and --version end with "(outputHelp)"/"(version)" codes and exit 0.
      if (err.exitCode === 0) return EXIT.ok;
      return EXIT.usage;
    }
    if (err instanceof CliError) {
      io.stderr.write(`sam-backup: ${err.message}\n`);
      return err.exitCode;
    }
    const message = err instanceof Error ? (err.stack ?? err.message) : String(err);
    io.stderr.write(`sam-backup: unexpected failure, nothing was changed: ${message}\n`);
    return EXIT.failed;
  }
}
