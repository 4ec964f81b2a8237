/**
 * How the tests get a Redis, in this order:
 *   1. `REDIS_URL`, when set;
 *   2. a `redis:7` container through testcontainers, when a Docker engine answers;
 *   3. a `redis-server` started here on a free port in a temporary directory.
 * Otherwise the run fails with a message naming all three.
 * The URL reaches the tests as `inject('redisUrl')`.
 */
import { execFileSync } from 'node:child_process';
import type { TestProject } from 'vitest/node';
import { RedisServer } from './redis-server.js';

declare module 'vitest' {
  export interface ProvidedContext {
    redisUrl: string;
  }
}

function dockerEngineAnswers(): boolean {
  try {
    execFileSync('docker', ['info', '--format', '{{.ServerVersion}}'], {
      stdio: 'pipe',
      timeout: 5000,
    });
    return true;
  } catch {
    return false;
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  if (process.env.REDIS_URL) {
    project.provide('redisUrl', process.env.REDIS_URL);
    return async () => {};
  }
  const problems: string[] = ['REDIS_URL is not set'];
  if (dockerEngineAnswers()) {
    try {
      const { GenericContainer, Wait } = await import('testcontainers');
      const container = await new GenericContainer('redis:7')
        .withExposedPorts(6379)
        .withWaitStrategy(Wait.forLogMessage('Ready to accept connections'))
        .start();
      project.provide(
        'redisUrl',
        `redis://${container.getHost()}:${container.getMappedPort(6379)}`,
      );
      return async () => {
        await container.stop();
      };
    } catch (err) {
      problems.push(`testcontainers could not start redis:7: ${(err as Error).message}`);
    }
  } else {
    problems.push('no Docker engine answers (testcontainers)');
  }
  try {
    const server = await RedisServer.start();
    project.provide('redisUrl', server.url);
    return () => server.dispose();
  } catch (err) {
    problems.push(`redis-server could not be started: ${(err as Error).message}`);
  }
  throw new Error(`no Redis for the tests: ${problems.join('; ')}`);
}
