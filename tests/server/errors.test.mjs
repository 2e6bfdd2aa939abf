// errors.test.mjs — OpenAI-shaped errors with the status codes of serving.md §4.6: malformed
// JSON, wrong types, unknown model, prompt longer than --max-model-len, oversized bodies,
// missing or wrong API keys, a full queue (503), unknown routes; and a bad request never
// disturbs a request that is running next to it.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import { startServer, collectChat, CKPT45, ANSWER, STORY } from './harness.mjs';

const KEY = 'sk-test-secret';
let srv, client;
const ASK = [{ role: 'user', content: 'What is 2+2?' }];

before(async () => {
  srv = await startServer({ model: CKPT45, apiKey: KEY,
    args: ['--api-key', KEY, '--max-model-len', '300', '--max-request-bytes', '20000', '--reasoning-parser', 'glm45'] });
  client = srv.client({ apiKey: KEY });
});

after(async () => {
  const r = await srv.stop();
  assert.equal(r.code, 0, srv.log);
});

function assertErrorShape(json, status, type) {
  assert.ok(json && json.error, JSON.stringify(json));
  assert.equal(typeof json.error.message, 'string');
  assert.ok(json.error.message.length > 0);
  assert.equal(json.error.type, type);
  assert.equal(json.error.code, status);
  assert.ok('param' in json.error);
}

const auth = { Authorization: `Bearer ${KEY}` };

test('API key: missing or wrong -> 401 on every route but /health', async () => {
  const wrongChat = srv.client({ apiKey: 'sk-not-it' });
  await assert.rejects(wrongChat.chat.completions.create({ messages: ASK, model: 'x' }),
    (e) => e instanceof OpenAI.AuthenticationError && e.status === 401);
  const noKey = await srv.post('/v1/chat/completions', { messages: ASK });
  assert.equal(noKey.status, 401);
  assertErrorShape(noKey.json, 401, 'AuthenticationError');
  const wrong = srv.client({ apiKey: 'sk-wrong' });
  await assert.rejects(wrong.models.list(), (e) => e.status === 401);
  for (const path of ['/v1/models', '/metrics']) {
    const r = await fetch(srv.baseURL + path);
    assert.equal(r.status, 401);
    assertErrorShape(await r.json(), 401, 'AuthenticationError');
  }
  for (const path of ['/tokenize', '/v1/completions']) {
    const r = await srv.post(path, { prompt: 'x' });
    assert.equal(r.status, 401);
  }
  assert.equal((await fetch(`${srv.baseURL}/health`)).status, 200);
  const ok = await client.chat.completions.create({ model: CKPT45, messages: ASK });
  assert.equal(ok.choices[0].message.content, ANSWER.content);
});

test('malformed JSON -> 400', async () => {
  for (const body of ['{"messages": [', 'not json', '']) {
    const r = await srv.post('/v1/chat/completions', body, auth);
    assert.equal(r.status, 400, body);
    assertErrorShape(r.json, 400, 'BadRequestError');
  }
  const arr = await srv.post('/v1/chat/completions', '[1,2]', auth);
  assert.equal(arr.status, 400);
});

test('wrong types and values -> 400 naming the field', async () => {
  const cases = [
    [{ messages: ASK, temperature: 'hot' }, 'temperature'],
    [{ messages: ASK, max_tokens: -5 }, 'max_tokens'],
    [{ messages: ASK, max_tokens: 1.5 }, 'max_tokens'],
    [{ messages: ASK, top_p: 0 }, 'top_p'],
    [{ messages: ASK, n: 0 }, 'n'],
    [{ messages: ASK, stream: 'yes' }, 'stream'],
    [{ messages: ASK, stop: 5 }, 'stop'],
    [{ messages: ASK, top_logprobs: 2 }, 'top_logprobs'],
    [{ messages: ASK, logprobs: true, top_logprobs: 99 }, 'top_logprobs'],
    [{ messages: ASK, stream_options: { include_usage: true } }, 'stream_options'],
    [{ messages: ASK, tools: [{ type: 'function' }] }, 'tools'],
    [{ messages: ASK, tool_choice: 'sometimes' }, 'tool_choice'],
    [{ messages: ASK, tool_choice: 'required' }, 'tool_choice'],
    [{ messages: [] }, 'messages'],
    [{ messages: 'hi' }, 'messages'],
    [{ messages: [{ content: 'no role' }] }, 'messages'],
    [{}, 'messages'],
    [{ messages: ASK, logit_bias: { 5: 10 } }, 'logit_bias'],
    [{ messages: ASK, response_format: { type: 'json_object' } }, 'response_format'],
    [{ messages: ASK, stop_token_ids: [99999999] }, 'stop_token_ids'],
    [{ messages: [{ role: 'assistant', content: null, tool_calls: [{ type: 'function', function: { name: 'f', arguments: '{bad' } }] }] }, 'messages'],
  ];
  for (const [body, param] of cases) {
    const r = await srv.post('/v1/chat/completions', body, auth);
    assert.equal(r.status, 400, `${JSON.stringify(body)} -> ${r.text}`);
    assertErrorShape(r.json, 400, 'BadRequestError');
    assert.equal(r.json.error.param, param, r.text);
  }
  // the SDK surfaces them as BadRequestError
  await assert.rejects(client.chat.completions.create({ model: CKPT45, messages: ASK, temperature: 'hot' }),
    (e) => e instanceof OpenAI.BadRequestError && e.status === 400 && /temperature/.test(e.message));
  const c = await srv.post('/v1/completions', { prompt: [1, 'x'] }, auth);
  assert.equal(c.status, 400);
  const c2 = await srv.post('/v1/completions', { prompt: [99999999] }, auth);
  assert.equal(c2.status, 400);
  // "auto" tool choice needs --enable-auto-tool-choice and --tool-call-parser (vLLM's rule)
  const t = await srv.post('/v1/chat/completions', { messages: ASK, tool_choice: 'auto',
    tools: [{ type: 'function', function: { name: 'f' } }] }, auth);
  assert.equal(t.status, 400);
  assert.match(t.json.error.message, /enable-auto-tool-choice/);
});

test('unknown model -> 404 NotFoundError', async () => {
  await assert.rejects(client.chat.completions.create({ model: 'no-such-model', messages: ASK }),
    (e) => e instanceof OpenAI.NotFoundError && e.status === 404 && /The model `no-such-model` does not exist/.test(e.message));
  const r = await srv.post('/v1/completions', { model: 'nope', prompt: 'x' }, auth);
  assert.equal(r.status, 404);
  assertErrorShape(r.json, 404, 'NotFoundError');
  assert.equal(r.json.error.param, 'model');
});

test('prompt longer than --max-model-len -> 400; max_tokens beyond it -> 400', async () => {
  const long = [{ role: 'user', content: 'word '.repeat(400) }];
  await assert.rejects(client.chat.completions.create({ model: CKPT45, messages: long }),
    (e) => e.status === 400 && /maximum context length is 300 tokens/.test(e.message));
  await assert.rejects(client.completions.create({ model: CKPT45, prompt: 'word '.repeat(400) }),
    (e) => e.status === 400 && /maximum context length/.test(e.message));
  await assert.rejects(client.chat.completions.create({ model: CKPT45, messages: ASK, max_tokens: 1000 }),
    (e) => e.status === 400 && /too large: 1000/.test(e.message));
  // without max_tokens the rest of the context is the limit (vLLM)
  const r = await client.chat.completions.create({ model: CKPT45, messages: ASK, ignore_eos: true });
  assert.equal(r.choices[0].finish_reason, 'length');
  assert.equal(r.usage.total_tokens, 300);
});

test('a body over --max-request-bytes -> 413', async () => {
  const big = JSON.stringify({ messages: [{ role: 'user', content: 'x'.repeat(50000) }] });
  const r = await srv.post('/v1/chat/completions', big, auth);
  assert.equal(r.status, 413);
  assertErrorShape(r.json, 413, 'RequestEntityTooLargeError');
  // the server keeps serving
  const ok = await client.chat.completions.create({ model: CKPT45, messages: ASK });
  assert.equal(ok.choices[0].message.content, ANSWER.content);
});

test('unknown route -> 404, wrong method -> 405', async () => {
  const r = await fetch(`${srv.baseURL}/v1/nothing`, { headers: auth });
  assert.equal(r.status, 404);
  assertErrorShape(await r.json(), 404, 'NotFoundError');
  const m = await fetch(`${srv.baseURL}/v1/chat/completions`, { headers: auth });
  assert.equal(m.status, 405);
});

test('bad requests do not disturb a request running next to them', async () => {
  const running = client.chat.completions.create({ model: CKPT45, stream: true,
    messages: [{ role: 'user', content: 'Tell me about Fibonacci.' }] }).then(collectChat);
  const bad = [];
  for (let i = 0; i < 20; i++) {
    bad.push(srv.post('/v1/chat/completions', '{"messages": [', auth));
    bad.push(srv.post('/v1/chat/completions', { messages: ASK, temperature: -1 }, auth));
    bad.push(srv.post('/v1/completions', { prompt: 'x', model: 'nope' }, auth));
  }
  for (const r of await Promise.all(bad)) assert.ok(r.status === 400 || r.status === 404);
  const r = await running;
  assert.equal(r.content, STORY);
  assert.equal(r.finish, 'stop');
});

test('a full queue -> 503 while admitted requests complete', async () => {
  const q = await startServer({ model: CKPT45, args: ['--max-num-seqs', '1', '--max-queued-requests', '1'] });
  try {
    const c = q.client();
    // long requests: one runs, one waits, the rest find the queue full
    const reqs = [];
    for (let i = 0; i < 8; i++)
      reqs.push(c.chat.completions.create({ model: CKPT45, messages: ASK, max_tokens: 600, ignore_eos: true })
        .then((r) => ({ ok: r }), (e) => ({ err: e })));
    const res = await Promise.all(reqs);
    const full = res.filter((r) => r.err);
    const done = res.filter((r) => r.ok);
    assert.ok(done.length >= 1, 'some requests are served');
    assert.ok(full.length >= 1, 'some requests find the queue full');
    for (const r of full) {
      assert.equal(r.err.status, 503, String(r.err));
      assert.equal(r.err.error?.type, 'ServiceUnavailableError');
    }
    for (const r of done) assert.equal(r.ok.usage.completion_tokens, 600);
  } finally {
    assert.equal((await q.stop()).code, 0);
  }
});
