import { randomBytes } from 'node:crypto';

/** A key prefix no other test uses, so each test owns its keys. */
export function testPrefix(): string {
  return `t${randomBytes(5).toString('hex')}:`;
}
