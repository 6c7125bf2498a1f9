import { CliError, EXIT } from './exit-codes.js';

/** A PostgreSQL URL from an option or the environment, checked before any work starts. */
export function postgresUrl(value: string | undefined, setting: string): string {
  if (!value) {
    throw new CliError(
      `${setting} is not set: give a PostgreSQL URL such as postgres://user@127.0.0.1:5432/postgres`,
      EXIT.usage,
    );
  }
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new CliError(`${setting} is not a URL: expected postgres://user@host:port/database`, EXIT.usage);
  }
  if (url.protocol !== 'postgres:' && url.protocol !== 'postgresql:') {
    throw new CliError(
      `${setting} has the scheme "${url.protocol}": expected postgres://user@host:port/database`,
      EXIT.usage,
    );
  }
  return value;
}

/** The URL without its password, for messages and logs. */
export function redactUrl(value: string): string {
  try {
    const url = new URL(value);
    if (url.password) url.password = '***';
    return url.toString();
  } catch {
    return '<unparsable URL>';
  }
}
