/** pino, with every field that could carry a credential redacted (URLs are logged without passwords). */
import { pino } from 'pino';

export function createLogger(level = process.env.SAM_SIDECAR_LOG_LEVEL ?? 'info') {
  return pino({
    level,
    base: { service: 'sam-backup-sidecar' },
    redact: {
      paths: [
        'token',
        '*.token',
        'authorization',
        '*.authorization',
        'req.headers.authorization',
        'password',
        '*.password',
        '*.SAM_SIDECAR_TOKEN',
        'SAM_SIDECAR_TOKEN',
      ],
      censor: '[redacted]',
    },
  });
}
