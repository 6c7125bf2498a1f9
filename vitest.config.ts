import { defineConfig } from 'vitest/config';

// One vitest run over every package's tests and the end-to-end tests, so the summary is one line.
// The "source" export condition makes workspace packages resolve to their TypeScript sources.
export default defineConfig({
  resolve: { conditions: ['source'] },
  ssr: { resolve: { conditions: ['source'] } },
  test: {
    include: ['packages/*/test/**/*.test.ts', 'test/e2e/**/*.test.ts'],
    testTimeout: 120_000,
    hookTimeout: 300_000,
    pool: 'forks',
    // Two test files at a time: most of a test's time is spent in PostgreSQL, psql, pg_dump and
    // Chroma (other processes), so the second core is free for a second file. (Vitest's default is
    // cores - 1, one file at a time on these 2-core machines.)
    maxWorkers: 2,
    reporters: ['default', ['json', { outputFile: 'test-results/vitest.json' }]],
  },
});
