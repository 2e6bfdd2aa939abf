// demo.test.mjs — `glm serve` without --model: it writes the built-in demo checkpoint once
// (glm synth, random weights) into $GLM_DEMO_DIR, says so in the log and in /v1/models, and
// serves it; a second start reuses the cached checkpoint.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, rmSync } from 'node:fs';
import { startServer, TMP } from './harness.mjs';

test('demo mode: created once, announced as random weights, serves requests', async () => {
  const dir = `${TMP}/demo-${process.pid}`;
  rmSync(dir, { recursive: true, force: true });
  const env = { GLM_DEMO_DIR: dir };
  const srv = await startServer({ env, args: ['--max-model-len', '512'] });
  try {
    assert.ok(existsSync(`${dir}/config.json`));
    assert.ok(existsSync(`${dir}/DEMO-RANDOM-WEIGHTS.txt`));
    assert.match(srv.log, /creating the demo checkpoint/);
    assert.match(srv.log, /DEMO MODE.*RANDOM/);
    const client = srv.client();
    const models = (await client.models.list()).data;
    assert.equal(models[0].id, 'glm-demo');
    assert.equal(models[0].demo, true);
    assert.match(models[0].description, /RANDOM/);
    const r = await client.chat.completions.create({ model: 'glm-demo', messages: [{ role: 'user', content: 'Hello' }],
      max_tokens: 8 });
    assert.ok(['stop', 'length'].includes(r.choices[0].finish_reason));
    assert.ok(r.usage.completion_tokens >= 1 && r.usage.completion_tokens <= 8);
  } finally {
    assert.equal((await srv.stop()).code, 0, srv.log);
  }
  const again = await startServer({ env });
  try {
    assert.doesNotMatch(again.log, /creating the demo checkpoint/);
    assert.match(again.log, /DEMO MODE/);
  } finally {
    assert.equal((await again.stop()).code, 0, again.log);
    rmSync(dir, { recursive: true, force: true });
  }
});
