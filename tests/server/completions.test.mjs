// completions.test.mjs — /v1/completions (string and token-id prompts, several prompts, echo,
// legacy logprobs, streaming, seeds), /tokenize, /detokenize, /v1/models, /health and
// /metrics, on the crafted GLM-4.5 checkpoint.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, CKPT45, metric, checkStreamShape, tokenChunks } from './harness.mjs';

let srv, client;
const MODEL = 'crafted';
// a special token that no crafted sequence uses: every next token is equally likely after it
const UNIFORM = '<|code_middle|>';

before(async () => {
  srv = await startServer({ model: CKPT45, args: ['--served-model-name', MODEL] });
  client = srv.client();
});

after(async () => {
  const r = await srv.stop();
  assert.equal(r.code, 0, srv.log);
});

async function ids(text) {
  const r = await srv.post('/tokenize', { prompt: text });
  assert.equal(r.status, 200);
  return r.json.tokens;
}

test('a token-id prompt continues the crafted text', async () => {
  // "The answer is" -> " 4." then <|user|> (eos, not in the text)
  const prompt = await ids('The answer is');
  const r = await client.completions.create({ model: MODEL, prompt, max_tokens: 10 });
  assert.match(r.id, /^cmpl-[0-9a-f]{32}$/);
  assert.equal(r.object, 'text_completion');
  assert.equal(r.choices[0].text, ' 4.');
  assert.equal(r.choices[0].finish_reason, 'stop');
  assert.equal(r.usage.prompt_tokens, prompt.length);
  assert.equal(r.usage.completion_tokens, 4); // " ", "4", ".", <|user|>
});

test('a string prompt; echo prepends it', async () => {
  const r = await client.completions.create({ model: MODEL, prompt: 'The answer is', max_tokens: 10, echo: true });
  assert.equal(r.choices[0].text, 'The answer is 4.');
  const r2 = await client.completions.create({ model: MODEL, prompt: await ids('The answer is'), max_tokens: 10, echo: true });
  assert.equal(r2.choices[0].text, 'The answer is 4.');
});

test('max_tokens defaults to 16 and finish_reason length', async () => {
  // a token outside every crafted context gives uniform logits: the output is whatever greedy
  // picks, 16 tokens since eos is ignored
  const r = await client.completions.create({ model: MODEL, prompt: UNIFORM, ignore_eos: true });
  assert.equal(r.usage.completion_tokens, 16);
  assert.equal(r.choices[0].finish_reason, 'length');
  const r2 = await client.completions.create({ model: MODEL, prompt: 'The answer is', max_tokens: 2 });
  assert.equal(r2.choices[0].text, ' 4');
  assert.equal(r2.choices[0].finish_reason, 'length');
});

test('several prompts and n: choice index = prompt * n + k', async () => {
  const r = await client.completions.create({ model: MODEL, prompt: ['The answer is', 'Let me think'], n: 2, max_tokens: 10 });
  assert.deepEqual(r.choices.map((c) => c.index), [0, 1, 2, 3]);
  assert.deepEqual(r.choices.map((c) => c.text), [' 4.', ' 4.', '.</think>The answer is 4.', '.</think>The answer is 4.']);
  const a = await ids('The answer is'), b = await ids('Let me think');
  assert.equal(r.usage.prompt_tokens, a.length + b.length);
  const r2 = await client.completions.create({ model: MODEL, prompt: [a, b], max_tokens: 10 });
  assert.deepEqual(r2.choices.map((c) => c.text), [' 4.', '.</think>The answer is 4.']);
});

test('legacy logprobs', async () => {
  const prompt = await ids('The answer is');
  const r = await client.completions.create({ model: MODEL, prompt, max_tokens: 10, logprobs: 2 });
  const lp = r.choices[0].logprobs;
  assert.equal(lp.tokens.length, 4);
  assert.deepEqual(lp.tokens.slice(0, 3), [' ', '4', '.']);
  assert.equal(lp.token_logprobs.length, 4);
  for (const v of lp.token_logprobs) assert.ok(v <= 0 && v > -1e-3);
  assert.equal(lp.top_logprobs.length, 4);
  assert.equal(Object.keys(lp.top_logprobs[0]).length, 2);
  assert.deepEqual(lp.text_offset.slice(0, 3), [0, 1, 2]);
  // with echo the prompt's tokens come first (their logprobs are not computed: null)
  const e = await client.completions.create({ model: MODEL, prompt, max_tokens: 10, logprobs: 1, echo: true });
  const el = e.choices[0].logprobs;
  assert.equal(el.tokens.length, prompt.length + 4);
  assert.equal(el.token_logprobs[0], null);
  assert.equal(el.tokens.slice(0, prompt.length).join(''), 'The answer is');
});

test('streaming completions with usage', async () => {
  const stream = await client.completions.create({ model: MODEL, prompt: 'The answer is', max_tokens: 10, stream: true,
    stream_options: { include_usage: true } });
  let text = '', finish = null, usage = null, n = 0;
  const chunks = [];
  for await (const c of stream) {
    n++;
    chunks.push(c);
    assert.equal(c.object, 'text_completion');
    if (c.usage) usage = c.usage;
    for (const ch of c.choices) {
      text += ch.text;
      if (ch.finish_reason) finish = ch.finish_reason;
    }
  }
  assert.equal(text, ' 4.');
  assert.equal(finish, 'stop');
  assert.equal(usage.completion_tokens, 4);
  assert.ok(n >= 4);
  // one finish, on the last chunk; the eos adds no text, so that chunk's text is empty and the
  // "." came on the chunk before (vLLM: one chunk per engine output)
  const [cs] = checkStreamShape(chunks, { chat: false });
  assert.deepEqual(cs.map((ch) => [ch.text, ch.finish_reason]), [[' ', null], ['4', null], ['.', null], ['', 'stop']]);
  assert.deepEqual(chunks[chunks.length - 1].choices, []);
});

async function streamChunks(body) {
  const chunks = [];
  for await (const c of await client.completions.create({ model: MODEL, stream: true, ...body })) chunks.push(c);
  return chunks;
}

test('streaming completions: the last text carries finish_reason', async () => {
  // length: the max_tokens-th token's text and the finish on one chunk
  const [len] = checkStreamShape(await streamChunks({ prompt: 'The answer is', max_tokens: 2 }), { chat: false });
  assert.deepEqual(len.map((ch) => [ch.text, ch.finish_reason]), [[' ', null], ['4', 'length']]);
  assert.equal(len[1].stop_reason, null);
  // "." could start the stop string ".x": held back until the eos ends the text, then released
  // on the finish chunk; the "." token itself still gets its chunk, with empty text
  const [held] = checkStreamShape(await streamChunks({ prompt: 'The answer is', max_tokens: 10, stop: ['.x'] }), { chat: false });
  assert.deepEqual(held.map((ch) => [ch.text, ch.finish_reason]), [[' ', null], ['4', null], ['', null], ['.', 'stop']]);
  // a stop string: the token that completes it leaves no text, so the finish chunk's is empty
  const [stop] = checkStreamShape(await streamChunks({ prompt: 'The answer is', max_tokens: 10, stop: ['4'] }), { chat: false });
  assert.deepEqual(stop.map((ch) => [ch.text, ch.finish_reason]), [[' ', null], ['', 'stop']]);
  assert.equal(stop[1].stop_reason, '4');
  // logprobs: the entry of the token that ends the choice comes with the finish
  const [lp] = checkStreamShape(await streamChunks({ prompt: 'The answer is', max_tokens: 2, logprobs: 1 }), { chat: false });
  assert.deepEqual(lp.map((ch) => ch.logprobs.tokens), [[' '], ['4']]);
  // several prompts and n: one finish per choice, each on that choice's last chunk
  const many = checkStreamShape(await streamChunks({ prompt: ['The answer is', 'Let me think'], n: 2, max_tokens: 10 }),
    { chat: false, n: 4 });
  assert.deepEqual(many.map((cs) => cs.map((ch) => ch.text).join('')),
    [' 4.', ' 4.', '.</think>The answer is 4.', '.</think>The answer is 4.']);
});

test('streaming completions: exactly one chunk per generated token, also when it releases no text', async () => {
  // vLLM sends a chunk for every engine output, its text "" when the token released none, and
  // `vllm bench serve` counts these chunks as tokens (ITL, TPOT).
  // ignore_eos: " ", "4", ".", then the eos <|user|> (a special token: skipped, no text), then
  // tokens outside every crafted context (greedy: the same every time)
  const prompt = await ids('The answer is');
  const N = 7;
  const plain = tokenChunks(checkStreamShape(await streamChunks({ prompt, max_tokens: N, ignore_eos: true, temperature: 0 }),
    { chat: false })[0], { chat: false });
  assert.equal(plain.length, N, JSON.stringify(plain));
  const chunks = await streamChunks({ prompt, max_tokens: N, ignore_eos: true, temperature: 0, logprobs: 1 });
  const [cs] = checkStreamShape(chunks, { chat: false });
  const tc = tokenChunks(cs, { chat: false });
  assert.equal(tc.length, N, JSON.stringify(cs));
  assert.equal(cs.length, N);
  assert.deepEqual(tc.map((ch) => ch.logprobs.tokens.length), Array(N).fill(1), 'one token per chunk');
  assert.deepEqual(tc.slice(0, 4).map((ch) => [ch.logprobs.tokens[0], ch.text]),
    [[' ', ' '], ['4', '4'], ['.', '.'], ['<|user|>', '']]);
  assert.equal(tc[N - 1].finish_reason, 'length');
  assert.deepEqual(plain.map((ch) => ch.text), tc.map((ch) => ch.text));
  const whole = await client.completions.create({ model: MODEL, prompt, max_tokens: N, ignore_eos: true, temperature: 0 });
  assert.equal(tc.map((ch) => ch.text).join(''), whole.choices[0].text);
  // with a stop string that "." could start: "." is held back, so its token's chunk has empty
  // text, and so has the eos's (it adds none); "." comes out with the next token's text
  const held = tokenChunks(checkStreamShape(await streamChunks({ prompt, max_tokens: N, ignore_eos: true, temperature: 0,
    stop: ['.x'] }),
    { chat: false })[0], { chat: false });
  assert.equal(held.length, N);
  assert.deepEqual(held.slice(0, 4).map((ch) => ch.text), [' ', '4', '', '']);
  assert.equal(held[4].text, `.${tc[4].text}`);
  // several choices: N chunks each
  const many = checkStreamShape(await streamChunks({ prompt: ['The answer is', 'Let me think'], n: 2, max_tokens: N,
    ignore_eos: true }), { chat: false, n: 4 });
  assert.deepEqual(many.map((c) => tokenChunks(c, { chat: false }).length), [N, N, N, N]);
});

test('streaming completions: a byte of an incomplete UTF-8 character gets a chunk with empty text', async () => {
  // After UNIFORM every token is equally likely; sampled with a seed, some tokens are single
  // bytes that start a multi-byte character (the tokenizer is byte-level): the detokenizer holds
  // them until the character completes, so their chunks carry "". Seeds are tried until a sample
  // has such a token; every sample must have one chunk per token, with and without logprobs
  // (the same seed samples the same tokens; the logprobs tell which token each chunk stands for).
  const N = 32;
  let found = false;
  for (let seed = 1; seed <= 40 && !found; seed++) {
    const body = { prompt: UNIFORM, max_tokens: N, temperature: 1.0, seed, ignore_eos: true };
    const tc = tokenChunks(checkStreamShape(await streamChunks(body), { chat: false })[0], { chat: false });
    const texts = tc.map((ch) => ch.text);
    assert.equal(tc.length, N, `seed ${seed}: ${JSON.stringify(texts)}`);
    const tl = tokenChunks(checkStreamShape(await streamChunks({ ...body, logprobs: 1 }), { chat: false })[0], { chat: false });
    assert.deepEqual(tl.map((ch) => ch.text), texts, `seed ${seed}: the same chunks with logprobs`);
    assert.deepEqual(tl.map((ch) => ch.logprobs.tokens.length), Array(N).fill(1), `seed ${seed}: one token per chunk`);
    const whole = await client.completions.create({ model: MODEL, ...body });
    assert.equal(texts.join(''), whole.choices[0].text, `seed ${seed}: the same text`);
    // a lone byte that is not a whole character reads as U+FFFD in the legacy logprobs
    found = tl.some((ch, k) => k < N - 1 && ch.text === '' && ch.logprobs.tokens[0] === '\uFFFD');
  }
  assert.ok(found, 'some seed samples a lead byte of a multi-byte character');
});

test('seeds: the same seed gives the same sample, different seeds differ', async () => {
  // after UNIFORM the next-token distribution is uniform
  const run = (seed) => client.completions.create({ model: MODEL, prompt: UNIFORM, max_tokens: 12, temperature: 1.0,
    seed, ignore_eos: true }).then((r) => r.choices[0].text);
  const a1 = await run(1234), a2 = await run(1234);
  assert.equal(a1, a2);
  const others = await Promise.all([run(1), run(2), run(3)]);
  assert.ok(new Set([a1, ...others]).size >= 3, JSON.stringify([a1, ...others]));
  // greedy ignores the seed
  const g1 = await client.completions.create({ model: MODEL, prompt: UNIFORM, max_tokens: 8, temperature: 0, seed: 1, ignore_eos: true });
  const g2 = await client.completions.create({ model: MODEL, prompt: UNIFORM, max_tokens: 8, temperature: 0, seed: 2, ignore_eos: true });
  assert.equal(g1.choices[0].text, g2.choices[0].text);
});

test('stop strings in completions', async () => {
  const r = await client.completions.create({ model: MODEL, prompt: 'The answer is', max_tokens: 10, stop: ['4'] });
  assert.equal(r.choices[0].text, ' ');
  assert.equal(r.choices[0].finish_reason, 'stop');
  assert.equal(r.choices[0].stop_reason, '4');
});

test('/tokenize and /detokenize round-trip, also for chat messages', async () => {
  const t = await srv.post('/tokenize', { model: MODEL, prompt: 'Hello <think>x</think>', return_token_strs: true });
  assert.equal(t.status, 200);
  assert.equal(t.json.count, t.json.tokens.length);
  assert.equal(t.json.max_model_len, 2048);
  assert.equal(t.json.token_strs.join(''), 'Hello <think>x</think>');
  const d = await srv.post('/detokenize', { model: MODEL, tokens: t.json.tokens });
  assert.equal(d.json.prompt, 'Hello <think>x</think>');
  const c = await srv.post('/tokenize', { messages: [{ role: 'user', content: 'Hi' }] });
  const text = (await srv.post('/detokenize', { tokens: c.json.tokens })).json.prompt;
  assert.equal(text, '[gMASK]<sop><|user|>\nHi<|assistant|>');
  const bad = await srv.post('/detokenize', { tokens: [1, 'x'] });
  assert.equal(bad.status, 400);
});

test('/v1/models, /health, /version', async () => {
  const models = await client.models.list();
  const ids = [];
  for await (const m of models) ids.push(m);
  assert.equal(ids.length, 1);
  assert.equal(ids[0].id, MODEL);
  assert.equal(ids[0].object, 'model');
  assert.equal(ids[0].max_model_len, 2048);
  assert.equal(ids[0].root, process.env.GLM_CKPT45);
  assert.equal(ids[0].demo, undefined);
  const h = await fetch(`${srv.baseURL}/health`);
  assert.equal(h.status, 200);
  const v = await fetch(`${srv.baseURL}/version`);
  assert.equal(v.status, 200);
});

test('/metrics: Prometheus text with request, token and latency series', async () => {
  const before = await srv.metrics();
  await client.completions.create({ model: MODEL, prompt: 'The answer is', max_tokens: 10 });
  const m = await srv.metrics();
  const lbl = `model_name="${MODEL}"`;
  assert.equal(metric(m, 'glm:request_success_total', lbl, 'finished_reason="stop"'),
    metric(before, 'glm:request_success_total', lbl, 'finished_reason="stop"') + 1);
  assert.equal(metric(m, 'glm:generation_tokens_total', lbl), metric(before, 'glm:generation_tokens_total', lbl) + 4);
  assert.ok(metric(m, 'glm:prompt_tokens_total', lbl) > metric(before, 'glm:prompt_tokens_total', lbl));
  assert.equal(metric(m, 'glm:time_to_first_token_seconds_count', lbl), metric(before, 'glm:time_to_first_token_seconds_count', lbl) + 1);
  assert.equal(metric(m, 'glm:time_to_first_token_seconds_bucket', lbl, 'le="+Inf"'), metric(m, 'glm:time_to_first_token_seconds_count', lbl));
  assert.ok(metric(m, 'glm:time_per_output_token_seconds_count', lbl) >= 1);
  // nothing is left running once the engine thread has caught up
  const idle = await srv.settle();
  assert.equal(metric(idle, 'glm:num_requests_running', lbl), 0);
  assert.equal(metric(idle, 'glm:num_requests_waiting', lbl), 0);
  const kv = metric(m, 'glm:kv_cache_usage_perc', lbl);
  assert.ok(kv >= 0 && kv <= 1);
  assert.ok(metric(m, 'glm:prefix_cache_hit_rate', lbl) >= 0);
  assert.ok(metric(m, 'glm:http_requests_total', 'path="/v1/completions"', 'status="200"') >= 1);
});

test('a repeated prompt is served from the prefix cache (usage and metrics say so)', async () => {
  const prompt = 'Once upon a time there was a tokenizer that counted every byte it saw, twice, to be sure. ' .repeat(3);
  const first = await client.completions.create({ model: MODEL, prompt, max_tokens: 2 });
  assert.equal(first.usage.prompt_tokens_details.cached_tokens, 0);
  const again = await client.completions.create({ model: MODEL, prompt, max_tokens: 2 });
  const cached = again.usage.prompt_tokens_details.cached_tokens;
  assert.ok(cached >= 16 && cached < again.usage.prompt_tokens, `cached ${cached} of ${again.usage.prompt_tokens}`);
  const m = await srv.metrics();
  const lbl = `model_name="${MODEL}"`;
  assert.ok(metric(m, 'glm:prefix_cache_hits_total', lbl) >= cached);
  assert.ok(metric(m, 'glm:prefix_cache_hit_rate', lbl) > 0);
  assert.ok(metric(m, 'glm:prefix_cache_queries_total', lbl) > metric(m, 'glm:prefix_cache_hits_total', lbl));
});
