/**
 * Where the end-to-end tests find the real services that scripts/dev.sh starts.
 * Tests never mock these: when a service is down they fail with the command that starts it.
 */
export const pgUrl = process.env.SAM_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:55432/postgres';
export const redisUrl = process.env.SAM_TEST_REDIS_URL ?? 'redis://127.0.0.1:56379';
