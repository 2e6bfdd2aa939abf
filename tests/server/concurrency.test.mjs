// concurrency.test.mjs — many connections at once: 32 concurrent streaming clients, 10 of which
// disconnect mid-stream. The other 22 must get the complete crafted story; the server must stay
// up, cancel the abandoned generations (metrics: aborts, nothing left running) and its memory
// must come back to its level after an identical warm-up round (no per-request leak).
// Then graceful shutdown: SIGTERM with a stream in flight ends it with finish_reason "abort"
// (after --shutdown-timeout), the client sees [DONE], the process exits 0.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, collectChat, metric, sleep, CKPT45, STORY } from './harness.mjs';

const STORY_ASK = [{ role: 'user', content: 'Tell me about Fibonacci.' }];
const N_CLIENTS = 32, N_DISCONNECT = 10;
const SANITIZED = process.env.GLM_SANITIZED === '1';

async function complete(client) {
  const s = await client.chat.completions.create({ model: CKPT45, messages: STORY_ASK, stream: true,
    stream_options: { include_usage: true } });
  return collectChat(s);
}

// streams a long generation and walks away after a few chunks
async function disconnect(client, afterChunks) {
  const ac = new AbortController();
  const s = await client.chat.completions.create({ model: CKPT45, messages: STORY_ASK, stream: true,
    max_tokens: 1500, ignore_eos: true }, { signal: ac.signal });
  let n = 0;
  try {
    for await (const chunk of s) {
      if (++n === afterChunks) ac.abort();
    }
  } catch (e) {
    // depending on timing the SDK either ends the iteration or throws its abort error
    assert.ok(e.name === 'APIUserAbortError' || e.name === 'AbortError', String(e));
  }
  assert.ok(ac.signal.aborted);
  assert.ok(n >= afterChunks && n < 100, `the client stopped reading after ${n} chunks`);
  return n;
}

async function round(srv) {
  const client = srv.client();
  const jobs = [];
  for (let i = 0; i < N_CLIENTS; i++)
    jobs.push(i % 3 === 1 && jobs.filter((j) => j.kind === 'cut').length < N_DISCONNECT
      ? { kind: 'cut', p: disconnect(client, 3 + (i % 5)) }
      : { kind: 'full', p: complete(client) });
  assert.equal(jobs.filter((j) => j.kind === 'cut').length, N_DISCONNECT);
  const results = await Promise.all(jobs.map((j) => j.p));
  jobs.forEach((j, i) => {
    if (j.kind === 'cut') return;
    const r = results[i];
    assert.equal(r.content, STORY, `client ${i} got a wrong story`);
    assert.equal(r.reasoning, 'A story about numbers.');
    assert.equal(r.finish, 'stop');
    assert.ok(r.usage.completion_tokens > 100);
  });
}

test('32 concurrent streams, 10 clients disconnect mid-stream', async () => {
  const srv = await startServer({ model: CKPT45, args: ['--max-num-seqs', '64', '--kv-tokens', '16384',
    '--reasoning-parser', 'glm45', '--disable-log-requests'] });
  const lbl = `model_name="${CKPT45}"`;
  try {
    const idle = srv.rssKiB();
    // warm-up round: the KV pool pages and the allocator's arenas get touched once
    await round(srv);
    let m = await srv.settle();
    const aborts0 = metric(m, 'glm:request_success_total', lbl, 'finished_reason="abort"');
    assert.equal(aborts0, N_DISCONNECT, 'every abandoned stream was cancelled');
    const warm = srv.rssKiB();
    // (sanitized builds are ~20x slower: one round after the warm-up is enough there)
    for (let k = 0; k < (SANITIZED ? 1 : 2); k++) {
      await round(srv);
      m = await srv.settle();
      assert.equal(metric(m, 'glm:request_success_total', lbl, 'finished_reason="abort"'), aborts0 + (k + 1) * N_DISCONNECT);
      const rss = srv.rssKiB();
      console.log(`RSS KiB: idle ${idle}, after warm-up ${warm}, after round ${k + 2} ${rss}`);
      // (under ASan freed memory sits in quarantine; LeakSanitizer judges at exit instead)
      if (!SANITIZED)
        assert.ok(rss < warm + 16 * 1024, `RSS grew from ${warm} KiB to ${rss} KiB after round ${k + 2} (idle ${idle} KiB)`);
    }
    // KV blocks still in use belong to the prefix cache only
    assert.ok(metric(m, 'glm:kv_cache_blocks', lbl, 'state="used"') >= 0);
    assert.equal(metric(m, 'glm:request_success_total', lbl, 'finished_reason="error"'), 0);
    // still serving
    const again = await complete(srv.client());
    assert.equal(again.content, STORY);
  } finally {
    // a clean exit; with ASan this is also LeakSanitizer's "no leaks" (it exits 23 otherwise)
    const r = await srv.stop();
    assert.equal(r.code, 0, srv.log);
  }
});

test('a client that leaves a non-streaming request cancels its generation', async () => {
  const srv = await startServer({ model: CKPT45, args: ['--disable-log-requests'] });
  const lbl = `model_name="${CKPT45}"`;
  try {
    const ac = new AbortController();
    const req = fetch(`${srv.baseURL}/v1/chat/completions`, {
      method: 'POST', headers: { 'Content-Type': 'application/json' }, signal: ac.signal,
      body: JSON.stringify({ messages: STORY_ASK, max_tokens: 1900, ignore_eos: true }),
    });
    // wait until it is generating, then leave
    const deadline = Date.now() + 10000;
    while (metric(await srv.metrics(), 'glm:num_requests_running', lbl) !== 1) {
      assert.ok(Date.now() < deadline, 'the request never started');
      await sleep(10);
    }
    ac.abort();
    await assert.rejects(req);
    const m = await srv.settle();
    assert.equal(metric(m, 'glm:request_success_total', lbl, 'finished_reason="abort"'), 1);
    // it was cut short: far fewer than 1900 tokens were generated
    assert.ok(metric(m, 'glm:generation_tokens_total', lbl) < 1900);
  } finally {
    assert.equal((await srv.stop()).code, 0, srv.log);
  }
});

test('SIGTERM: in-flight streams end with finish_reason abort and [DONE]; exit status 0', async () => {
  const srv = await startServer({ model: CKPT45, args: ['--shutdown-timeout', '0.3', '--reasoning-parser', 'glm45'] });
  const res = await fetch(`${srv.baseURL}/v1/chat/completions`, {
    method: 'POST', headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ messages: STORY_ASK, stream: true, max_tokens: 1900, ignore_eos: true }),
  });
  assert.equal(res.status, 200);
  const reader = res.body.getReader();
  const dec = new TextDecoder();
  let text = '', signalled = false;
  const t0 = Date.now();
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    text += dec.decode(value, { stream: true });
    if (!signalled && text.split('\n\n').length > 10) {
      signalled = true;
      srv.proc.kill('SIGTERM');
    }
    assert.ok(Date.now() - t0 < 20000, 'the stream ended in bounded time');
  }
  const events = text.split('\n\n').filter(Boolean);
  assert.equal(events[events.length - 1], 'data: [DONE]');
  const last = JSON.parse(events[events.length - 2].slice(6));
  assert.equal(last.choices[0].finish_reason, 'abort');
  const r = await srv.stop();
  assert.equal(r.code, 0, srv.log);
  assert.match(srv.log, /shut down cleanly/);
  // nothing listens any more
  await assert.rejects(fetch(`${srv.baseURL}/health`));
});
