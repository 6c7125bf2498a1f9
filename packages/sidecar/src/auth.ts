/**
 * Every route needs the token: `Authorization: Bearer <token>`, or for the dashboard in a browser
 * HTTP Basic with the token as the password. Compared in constant time (SHA-256 of both sides, so
 * the lengths leak nothing either).
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { NextFunction, Request, Response } from 'express';

function same(a: string, b: string): boolean {
  return timingSafeEqual(createHash('sha256').update(a).digest(), createHash('sha256').update(b).digest());
}

export function requireToken(token: string, opts: { basic?: boolean } = {}) {
  return (req: Request, res: Response, next: NextFunction): void => {
    const h = req.headers.authorization ?? '';
    let given: string | null = null;
    if (h.startsWith('Bearer ')) given = h.slice(7);
    else if (opts.basic && h.startsWith('Basic ')) {
      const decoded = Buffer.from(h.slice(6), 'base64').toString('utf8');
      given = decoded.slice(decoded.indexOf(':') + 1);
    }
    if (given !== null && same(given, token)) {
      next();
      return;
    }
    if (opts.basic) res.setHeader('WWW-Authenticate', 'Basic realm="sam-backup", charset="UTF-8"');
    res.status(401).json({ error: 'unauthorized: send the sidecar token (Authorization: Bearer <token>)' });
  };
}
