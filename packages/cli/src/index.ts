export { CliError, EXIT, type ExitCode } from './exit-codes.js';
export type { CliIO } from './output/io.js';
export { buildProgram, run } from './program.js';
