// check_deps.mjs — fails with the fix when the pinned npm packages of tests/server are missing.
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

try {
  const { default: OpenAI } = await import('openai');
  if (typeof OpenAI !== 'function') throw new Error('unexpected openai module shape');
} catch (e) {
  const dir = dirname(fileURLToPath(import.meta.url));
  console.error(`the server tests need the pinned npm packages: run (cd ${dir} && npm ci)\n${e.message}`);
  process.exit(1);
}
