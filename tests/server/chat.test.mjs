// chat.test.mjs — /v1/chat/completions against the crafted GLM-4.5 checkpoint, driven by the
// official OpenAI SDK: streaming and whole responses, the reasoning split, thinking off, tool
// calls (typed arguments, streamed and whole), tool results fed back, tool_choice variants,
// stop strings (also across token boundaries), max_tokens, usage, logprobs, n, seeds.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, collectChat, checkStreamShape, tokenChunks, metric, sleep, CKPT45, ANSWER, TOOL, AFTER_TOOL,
  WEATHER_TOOL } from './harness.mjs';

let srv, client;
const MODEL = 'glm-crafted';
const ASK = [{ role: 'user', content: 'What is 2+2?' }];
const WEATHER = [{ role: 'user', content: 'Weather in Beijing?' }];

before(async () => {
  srv = await startServer({
    model: CKPT45,
    args: ['--served-model-name', MODEL, 'alias-two', '--reasoning-parser', 'glm45', '--tool-call-parser', 'glm45',
      '--enable-auto-tool-choice'],
  });
  client = srv.client();
});

after(async () => {
  const r = await srv.stop();
  assert.equal(r.code, 0, `clean exit expected:\n${srv.log}`);
});

test('non-streaming chat: reasoning split, shape, usage', async () => {
  const r = await client.chat.completions.create({ model: MODEL, messages: ASK });
  assert.match(r.id, /^chatcmpl-[0-9a-f]{32}$/);
  assert.equal(r.object, 'chat.completion');
  assert.equal(r.model, MODEL);
  assert.ok(Math.abs(r.created - Date.now() / 1000) < 120);
  assert.equal(r.choices.length, 1);
  const c = r.choices[0];
  assert.equal(c.index, 0);
  assert.equal(c.message.role, 'assistant');
  assert.equal(c.message.content, ANSWER.content);
  assert.equal(c.message.reasoning_content, ANSWER.reasoning);
  assert.equal(c.message.reasoning, ANSWER.reasoning);
  assert.deepEqual(c.message.tool_calls, []);
  assert.equal(c.finish_reason, 'stop');
  // ended on <|user|>, a generation_config eos id other than the primary one: vLLM reports it
  const tok = await srv.post('/tokenize', { prompt: '<|user|>' });
  assert.equal(c.stop_reason, tok.json.tokens[0]);
  // usage: the prompt is exactly what /tokenize renders for the same messages; the completion
  // is <think> + 'Let me think.' + </think> + 'The answer is 4.' + <|user|>
  const p = await srv.post('/tokenize', { model: MODEL, messages: ASK });
  assert.equal(r.usage.prompt_tokens, p.json.count);
  const gen = await srv.post('/tokenize', { prompt: `<think>${ANSWER.reasoning}</think>${ANSWER.content}<|user|>` });
  assert.equal(r.usage.completion_tokens, gen.json.count);
  assert.equal(r.usage.total_tokens, r.usage.prompt_tokens + r.usage.completion_tokens);
});

test('the alias served name works; the response echoes it', async () => {
  const r = await client.chat.completions.create({ model: 'alias-two', messages: ASK });
  assert.equal(r.model, 'alias-two');
  assert.equal(r.choices[0].message.content, ANSWER.content);
});

test('streaming chat: role first, reasoning deltas then content, finish chunk, usage chunk, [DONE]', async () => {
  const stream = await client.chat.completions.create({ model: MODEL, messages: ASK, stream: true,
    stream_options: { include_usage: true } });
  const r = await collectChat(stream);
  assert.equal(r.ids.size, 1);
  assert.match([...r.ids][0], /^chatcmpl-[0-9a-f]{32}$/);
  assert.equal(r.chunks[0].choices[0].delta.role, 'assistant');
  assert.equal(r.chunks[0].object, 'chat.completion.chunk');
  assert.equal(r.reasoning, ANSWER.reasoning);
  assert.equal(r.reasoningAlias, ANSWER.reasoning);
  assert.equal(r.content, ANSWER.content);
  assert.equal(r.finish, 'stop');
  // vLLM's shape: role chunk first, one finish chunk, last. The answer ends with the eos
  // <|user|>, which adds no text: the finish goes on a chunk of its own with an empty delta,
  // after the chunk with the last text
  const [cs] = checkStreamShape(r.chunks, { chat: true });
  const fin = cs[cs.length - 1];
  assert.deepEqual(fin.delta, {});
  assert.equal(fin.finish_reason, 'stop');
  assert.equal(fin.stop_reason, (await srv.post('/tokenize', { prompt: '<|user|>' })).json.tokens[0]);
  assert.deepEqual(cs[cs.length - 2].delta, { content: '.' });
  // every reasoning chunk comes before the first content chunk
  const kinds = r.chunks.flatMap((c) => c.choices.map((ch) => (ch.delta.reasoning_content ? 'r' : ch.delta.content ? 'c' : '-')));
  assert.ok(kinds.lastIndexOf('r') < kinds.indexOf('c'));
  // one chunk per token while text flows (benchmarks time chunks): 13 text tokens, of which
  // <think> and </think> produce no text
  assert.ok(kinds.filter((k) => k !== '-').length >= 10);
  const last = r.chunks[r.chunks.length - 1];
  assert.deepEqual(last.choices, []);
  assert.equal(last.usage.completion_tokens, 14);
  assert.equal(last.usage.total_tokens, last.usage.prompt_tokens + 14);
});

test('the SSE framing ends with data: [DONE]', async () => {
  const res = await srv.post('/v1/chat/completions', { messages: ASK, stream: true });
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type'), /text\/event-stream/);
  const events = res.text.split('\n\n').filter(Boolean);
  assert.equal(events[events.length - 1], 'data: [DONE]');
  for (const e of events.slice(0, -1)) JSON.parse(e.replace(/^data: /, ''));
  // no usage chunk unless asked for
  assert.ok(!res.text.includes('"usage"'));
});

test('enable_thinking false: the answer is all content', async () => {
  const r = await client.chat.completions.create({ model: MODEL, messages: ASK,
    chat_template_kwargs: { enable_thinking: false } });
  assert.equal(r.choices[0].message.content, ANSWER.content);
  assert.equal(r.choices[0].message.reasoning_content, null);
  // the rendered prompt ends with an empty think block (GLM-4.5 template)
  const p = await srv.post('/tokenize', { messages: ASK, chat_template_kwargs: { enable_thinking: false } });
  const text = (await srv.post('/detokenize', { tokens: p.json.tokens })).json.prompt;
  assert.ok(text.endsWith('/nothink<|assistant|>\n<think></think>'), text);
  const s = await collectChat(await client.chat.completions.create({ model: MODEL, messages: ASK, stream: true,
    chat_template_kwargs: { enable_thinking: false } }));
  assert.equal(s.content, ANSWER.content);
  assert.equal(s.reasoning, '');
});

test('reasoning_effort "none" turns thinking off like enable_thinking false', async () => {
  const r = await client.chat.completions.create({ model: MODEL, messages: ASK, reasoning_effort: 'none' });
  assert.equal(r.choices[0].message.content, ANSWER.content);
  assert.equal(r.choices[0].message.reasoning_content, null);
});

test('tool call, non-streaming: typed arguments, finish_reason tool_calls', async () => {
  const r = await client.chat.completions.create({ model: MODEL, messages: WEATHER, tools: [WEATHER_TOOL] });
  const c = r.choices[0];
  assert.equal(c.finish_reason, 'tool_calls');
  assert.equal(c.message.reasoning_content, TOOL.reasoning);
  assert.equal(c.message.content, null);
  assert.equal(c.message.tool_calls.length, 1);
  const call = c.message.tool_calls[0];
  assert.match(call.id, /^call_[0-9a-f]{24}$/);
  assert.equal(call.type, 'function');
  assert.equal(call.function.name, 'get_weather');
  // json.dumps(ensure_ascii=False) spacing, integer typed by the schema
  assert.equal(call.function.arguments, '{"city": "北京", "days": 2}');
  assert.deepEqual(JSON.parse(call.function.arguments), TOOL.args);
});

test('tool call arguments follow the schema types', async () => {
  const asString = structuredClone(WEATHER_TOOL);
  asString.function.parameters.properties.days = { type: 'string' };
  const r = await client.chat.completions.create({ model: MODEL, messages: WEATHER, tools: [asString] });
  assert.deepEqual(JSON.parse(r.choices[0].message.tool_calls[0].function.arguments), { city: '北京', days: '2' });
});

test('tool call, streaming: name first, then argument fragments that join to the same JSON', async () => {
  const r = await collectChat(await client.chat.completions.create({ model: MODEL, messages: WEATHER,
    tools: [WEATHER_TOOL], stream: true }));
  assert.equal(r.finish, 'tool_calls');
  checkStreamShape(r.chunks, { chat: true });
  assert.equal(r.reasoning, TOOL.reasoning);
  assert.equal(r.toolCalls.length, 1);
  assert.match(r.toolCalls[0].id, /^call_[0-9a-f]{24}$/);
  assert.equal(r.toolCalls[0].type, 'function');
  assert.equal(r.toolCalls[0].function.name, 'get_weather');
  assert.deepEqual(JSON.parse(r.toolCalls[0].function.arguments), TOOL.args);
  const deltas = r.chunks.flatMap((c) => c.choices.flatMap((ch) => ch.delta.tool_calls || []));
  assert.ok(deltas.length >= 3, 'arguments are streamed in pieces');
  assert.equal(deltas[0].function.name, 'get_weather');
  assert.equal(deltas[0].function.arguments, '');
  for (const d of deltas.slice(1)) {
    assert.equal(d.index, 0);
    assert.equal(d.id, undefined);
  }
  // the markup never reaches the content
  assert.ok(!r.content.includes('<tool_call>') && !r.content.includes('arg_'), JSON.stringify(r.content));
});

test('tool results fed back: the template renders them and the model answers', async () => {
  const first = await client.chat.completions.create({ model: MODEL, messages: WEATHER, tools: [WEATHER_TOOL] });
  const call = first.choices[0].message.tool_calls[0];
  const messages = [...WEATHER,
    { role: 'assistant', content: null, tool_calls: [call] },
    { role: 'tool', tool_call_id: call.id, content: 'sunny, 25C' }];
  const r = await client.chat.completions.create({ model: MODEL, messages, tools: [WEATHER_TOOL] });
  assert.equal(r.choices[0].message.content, AFTER_TOOL.content);
  assert.equal(r.choices[0].message.reasoning_content, AFTER_TOOL.reasoning);
  assert.equal(r.choices[0].finish_reason, 'stop');
  assert.deepEqual(r.choices[0].message.tool_calls, []);
  // the arguments string was decoded into a mapping for the template (serving.md §1.5)
  const p = await srv.post('/tokenize', { messages, tools: [WEATHER_TOOL] });
  const text = (await srv.post('/detokenize', { tokens: p.json.tokens })).json.prompt;
  assert.ok(text.includes('<tool_call>get_weather\n<arg_key>city</arg_key>\n<arg_value>北京</arg_value>\n'
    + '<arg_key>days</arg_key>\n<arg_value>2</arg_value>\n</tool_call><|observation|>\n<tool_response>\nsunny, 25C\n'
    + '</tool_response><|assistant|>'), text);
});

test('tool_choice none: the tools are not shown to the model (SGLang) and nothing is parsed', async () => {
  const r = await client.chat.completions.create({ model: MODEL, messages: WEATHER, tools: [WEATHER_TOOL], tool_choice: 'none' });
  const c = r.choices[0];
  assert.equal(c.finish_reason, 'stop');
  assert.deepEqual(c.message.tool_calls, []);
  assert.equal(c.message.content, ANSWER.content);
  const withTools = await srv.post('/tokenize', { messages: WEATHER, tools: [WEATHER_TOOL] });
  const none = await srv.post('/tokenize', { messages: WEATHER, tools: [WEATHER_TOOL], tool_choice: 'none' });
  const plain = await srv.post('/tokenize', { messages: WEATHER });
  assert.equal(none.json.count, plain.json.count);
  assert.ok(withTools.json.count > plain.json.count);
  assert.equal(r.usage.prompt_tokens, plain.json.count);
});

test('tool_choice required and named', async () => {
  const r1 = await client.chat.completions.create({ model: MODEL, messages: WEATHER, tools: [WEATHER_TOOL], tool_choice: 'required' });
  assert.equal(r1.choices[0].message.tool_calls[0].function.name, 'get_weather');
  const other = { type: 'function', function: { name: 'get_time', parameters: { type: 'object', properties: {} } } };
  const r2 = await client.chat.completions.create({ model: MODEL, messages: WEATHER, tools: [other, WEATHER_TOOL],
    tool_choice: { type: 'function', function: { name: 'get_weather' } } });
  assert.equal(r2.choices[0].message.tool_calls.length, 1);
  assert.equal(r2.choices[0].finish_reason, 'tool_calls');
  // a call to a function the named choice excludes is dropped
  const r3 = await client.chat.completions.create({ model: MODEL, messages: WEATHER, tools: [other, WEATHER_TOOL],
    tool_choice: { type: 'function', function: { name: 'get_time' } } });
  assert.deepEqual(r3.choices[0].message.tool_calls, []);
  assert.equal(r3.choices[0].finish_reason, 'stop');
});

test('stop strings: never leak, even across token boundaries', async () => {
  // " answer" and " is" are two tokens; "swer i" spans them
  const r = await client.chat.completions.create({ model: MODEL, messages: ASK, stop: ['swer i'] });
  assert.equal(r.choices[0].message.content, 'The an');
  assert.equal(r.choices[0].finish_reason, 'stop');
  assert.equal(r.choices[0].stop_reason, 'swer i');
  // usage counts the tokens up to the one that completed the match
  assert.equal(r.usage.completion_tokens, 10);
  const s = await collectChat(await client.chat.completions.create({ model: MODEL, messages: ASK, stop: ['swer i'], stream: true }));
  assert.equal(s.content, 'The an');
  assert.equal(s.finish, 'stop');
  assert.equal(s.stopReason, 'swer i');
  for (const c of s.chunks)
    for (const ch of c.choices) assert.ok(!JSON.stringify(ch.delta).includes('swer'), JSON.stringify(c));
  // the token " is" completes the match; the text before the match (" an") went out with the
  // token " answer" (only the possible start of a stop string is held back), so the finish
  // chunk that the match produces at once has nothing left to carry
  const [sc] = checkStreamShape(s.chunks, { chat: true });
  assert.deepEqual(sc[sc.length - 1].delta, {});
  assert.equal(sc[sc.length - 1].stop_reason, 'swer i');
  assert.deepEqual(sc[sc.length - 2].delta, { content: ' an' });
  // stop strings apply to the reasoning too (vLLM searches the whole output)
  const t = await client.chat.completions.create({ model: MODEL, messages: ASK, stop: ['think.', 'nothing'] });
  assert.equal(t.choices[0].message.reasoning_content, 'Let me ');
  assert.equal(t.choices[0].message.content, null);
  assert.equal(t.choices[0].stop_reason, 'think.');
});

test('include_stop_str_in_output keeps the matched stop string', async () => {
  const r = await client.chat.completions.create({ model: MODEL, messages: ASK, stop: ['swer i'],
    include_stop_str_in_output: true, chat_template_kwargs: { enable_thinking: false } });
  assert.equal(r.choices[0].message.content, 'The answer i');
  assert.equal(r.choices[0].stop_reason, 'swer i');
});

test('text held back for a stop string is released with the finish, on one chunk', async () => {
  // "." could start ".x": it is held until the eos ends the answer, then released; vLLM sends it
  // on the final chunk together with finish_reason
  const s = await collectChat(await client.chat.completions.create({ model: MODEL, messages: ASK, stop: ['.x'],
    stream: true, chat_template_kwargs: { enable_thinking: false } }));
  assert.equal(s.content, ANSWER.content);
  const [cs] = checkStreamShape(s.chunks, { chat: true });
  const fin = cs[cs.length - 1];
  assert.deepEqual(fin.delta, { content: '.' });
  assert.equal(fin.finish_reason, 'stop');
  assert.deepEqual(cs[cs.length - 2].delta, { content: '4' });
});

test('stop_token_ids end the generation at that token', async () => {
  const dot = (await srv.post('/tokenize', { prompt: '.' })).json.tokens[0];
  const r = await client.chat.completions.create({ model: MODEL, messages: ASK, stop_token_ids: [dot],
    chat_template_kwargs: { enable_thinking: false } });
  assert.equal(r.choices[0].message.content, 'The answer is 4');
  assert.equal(r.choices[0].stop_reason, dot);
  // streamed: the stop token adds no text, so the finish is a chunk of its own after "4"
  const s = await collectChat(await client.chat.completions.create({ model: MODEL, messages: ASK, stop_token_ids: [dot],
    stream: true, chat_template_kwargs: { enable_thinking: false } }));
  assert.equal(s.content, 'The answer is 4');
  const [cs] = checkStreamShape(s.chunks, { chat: true });
  assert.deepEqual(cs[cs.length - 1].delta, {});
  assert.equal(cs[cs.length - 1].stop_reason, dot);
  assert.deepEqual(cs[cs.length - 2].delta, { content: '4' });
});

test('max_tokens and max_completion_tokens: finish_reason length', async () => {
  const r = await client.chat.completions.create({ model: MODEL, messages: ASK, max_tokens: 3 });
  assert.equal(r.choices[0].finish_reason, 'length');
  assert.equal(r.usage.completion_tokens, 3);
  assert.equal(r.choices[0].message.reasoning_content, 'Let'); // <think>, "L", "et"
  const r2 = await client.chat.completions.create({ model: MODEL, messages: ASK, max_completion_tokens: 4,
    chat_template_kwargs: { enable_thinking: false } });
  assert.equal(r2.choices[0].finish_reason, 'length');
  assert.equal(r2.usage.completion_tokens, 4);
  assert.equal(r2.choices[0].message.content, 'The answer is '); // "The", " answer", " is", " "
  // streamed: the max_tokens-th token's text carries finish_reason (one chunk, as in vLLM)
  const s = await collectChat(await client.chat.completions.create({ model: MODEL, messages: ASK, max_tokens: 3, stream: true }));
  assert.equal(s.finish, 'length');
  const [cs] = checkStreamShape(s.chunks, { chat: true });
  assert.equal(cs.length, 3); // role, "L", "et" + length (<think> adds no text)
  assert.equal(cs[2].delta.reasoning_content, 'et');
  assert.equal(cs[2].finish_reason, 'length');
  assert.equal(cs[2].stop_reason, null);
  const s2 = await collectChat(await client.chat.completions.create({ model: MODEL, messages: ASK, max_completion_tokens: 4,
    stream: true, chat_template_kwargs: { enable_thinking: false } }));
  const [cs2] = checkStreamShape(s2.chunks, { chat: true });
  assert.deepEqual(cs2.slice(1).map((ch) => [ch.delta.content, ch.finish_reason]),
    [['The', null], [' answer', null], [' is', null], [' ', 'length']]);
});

test('ignore_eos keeps generating past the eos token', async () => {
  const r = await client.chat.completions.create({ model: MODEL, messages: ASK, ignore_eos: true, max_tokens: 20 });
  assert.equal(r.choices[0].finish_reason, 'length');
  assert.equal(r.usage.completion_tokens, 20);
  assert.ok(r.choices[0].message.content.startsWith(ANSWER.content));
});

test('logprobs and top_logprobs, whole and streamed', async () => {
  const r = await client.chat.completions.create({ model: MODEL, messages: ASK, logprobs: true, top_logprobs: 3 });
  const lp = r.choices[0].logprobs.content;
  assert.equal(lp.length, r.usage.completion_tokens);
  for (const e of lp) {
    assert.ok(e.logprob <= 0 && e.logprob > -1e-3, `the crafted model is sure of ${e.token}: ${e.logprob}`);
    assert.equal(e.top_logprobs.length, 3);
    assert.equal(e.top_logprobs[0].token, e.token);
    assert.ok(e.top_logprobs[1].logprob < -20);
    assert.deepEqual(e.bytes, [...Buffer.from(e.token, 'utf8')]);
  }
  assert.equal(lp.map((e) => e.token).join(''), `<think>${ANSWER.reasoning}</think>${ANSWER.content}<|user|>`);
  const s = await collectChat(await client.chat.completions.create({ model: MODEL, messages: ASK, logprobs: true,
    top_logprobs: 2, stream: true }));
  assert.equal(s.logprobs.length, lp.length);
  assert.deepEqual(s.logprobs.map((e) => e.token), lp.map((e) => e.token));
  // the eos token's entry rides on the finish chunk, the output it belongs to
  const [cs] = checkStreamShape(s.chunks, { chat: true });
  assert.deepEqual(cs[cs.length - 1].logprobs.content.map((e) => e.token), ['<|user|>']);
  const none = await client.chat.completions.create({ model: MODEL, messages: ASK });
  assert.equal(none.choices[0].logprobs, null);
});

test('n > 1 gives n choices', async () => {
  const r = await client.chat.completions.create({ model: MODEL, messages: ASK, n: 3 });
  assert.deepEqual(r.choices.map((c) => c.index), [0, 1, 2]);
  for (const c of r.choices) assert.equal(c.message.content, ANSWER.content);
  assert.equal(r.usage.completion_tokens, 3 * 14);
  const s = await collectChat(await client.chat.completions.create({ model: MODEL, messages: ASK, n: 2, stream: true }));
  const perChoice = [0, 1].map((i) => s.chunks.flatMap((c) => c.choices.filter((ch) => ch.index === i))
    .map((ch) => ch.delta.content || '').join(''));
  assert.deepEqual(perChoice, [ANSWER.content, ANSWER.content]);
  checkStreamShape(s.chunks, { chat: true, n: 2 });
});

test('streaming chat without parsers: exactly one content chunk per generated token, "" included', async () => {
  // vLLM's plain path (no reasoning or tool parser) sends delta {content: delta_text} for every
  // engine output, "" when the token released no text, and `vllm bench serve` counts the chunks
  // as tokens. (With parsers vLLM skips the deltas they swallow, e.g. </think>: see above.)
  const p = await startServer({ model: CKPT45 });
  try {
    const pc = p.client();
    const whole = `<think>${ANSWER.reasoning}</think>${ANSWER.content}<|user|>`;
    const nAnswer = (await p.post('/tokenize', { prompt: whole })).json.count; // 14
    // ignore_eos: the eos <|user|> (a special token: skipped, no text) and then tokens outside
    // every crafted context
    const N = nAnswer + 3;
    const body = { model: CKPT45, messages: ASK, max_tokens: N, ignore_eos: true, temperature: 0 };
    const plain = await collectChat(await pc.chat.completions.create({ ...body, stream: true }));
    const [pcs] = checkStreamShape(plain.chunks, { chat: true });
    assert.equal(tokenChunks(pcs, { chat: true }).length, N, JSON.stringify(pcs.map((ch) => ch.delta)));
    assert.equal(pcs.length, N + 1, 'the role chunk, then one chunk per token');
    // with logprobs: the same chunks, each with its token
    const s = await collectChat(await pc.chat.completions.create({ ...body, stream: true, logprobs: true }));
    const [cs] = checkStreamShape(s.chunks, { chat: true });
    const tc = tokenChunks(cs, { chat: true });
    assert.equal(tc.length, N, JSON.stringify(cs.map((ch) => ch.delta)));
    assert.equal(cs.length, N + 1, 'the role chunk, then one chunk per token');
    assert.deepEqual(tc.map((ch) => ch.logprobs.content.length), Array(N).fill(1), 'one token per chunk');
    assert.equal(tc.slice(0, nAnswer).map((ch) => ch.logprobs.content[0].token).join(''), whole);
    assert.deepEqual(tc[nAnswer - 1].delta, { content: '' }, 'the eos token gets a chunk with empty content');
    assert.equal(tc[N - 1].finish_reason, 'length');
    assert.deepEqual(tc.map((ch) => ch.delta), tokenChunks(pcs, { chat: true }).map((ch) => ch.delta));
    const r = await pc.chat.completions.create(body);
    assert.equal(s.content, r.choices[0].message.content);
    assert.ok(s.content.startsWith(`<think>${ANSWER.reasoning}</think>${ANSWER.content}`), s.content);

    // the eos ends the answer: its chunk carries the finish, with content "" (not an empty delta)
    const e = await collectChat(await pc.chat.completions.create({ model: CKPT45, messages: ASK, stream: true,
      stream_options: { include_usage: true } }));
    const [ecs] = checkStreamShape(e.chunks, { chat: true });
    const etc = tokenChunks(ecs, { chat: true });
    assert.equal(etc.length, e.usage.completion_tokens);
    assert.equal(etc.length, nAnswer);
    assert.deepEqual(ecs[ecs.length - 1].delta, { content: '' });
    assert.equal(ecs[ecs.length - 1].finish_reason, 'stop');
    assert.equal(ecs[ecs.length - 1].stop_reason, (await p.post('/tokenize', { prompt: '<|user|>' })).json.tokens[0]);

    // text held back for a stop string: the "." tokens get chunks with empty content; the held
    // "." comes out with the next text (the last one with the finish)
    const h = await collectChat(await pc.chat.completions.create({ model: CKPT45, messages: ASK, stream: true,
      stop: ['.x'], logprobs: true }));
    const [hcs] = checkStreamShape(h.chunks, { chat: true });
    const htc = tokenChunks(hcs, { chat: true });
    assert.equal(htc.length, nAnswer);
    const dots = htc.flatMap((ch, i) => (ch.logprobs.content[0].token === '.' ? [i] : []));
    assert.equal(dots.length, 2, JSON.stringify(htc.map((ch) => ch.logprobs.content[0].token)));
    for (const i of dots) assert.deepEqual(htc[i].delta, { content: '' });
    assert.deepEqual(htc[dots[0] + 1].delta, { content: '.</think>' });
    assert.deepEqual(htc[nAnswer - 1].delta, { content: '.' });
    assert.equal(htc[nAnswer - 1].finish_reason, 'stop');
    assert.equal(h.content, `<think>${ANSWER.reasoning}</think>${ANSWER.content}`);

    // n = 2: N chunks for each choice
    const m = await collectChat(await pc.chat.completions.create({ ...body, n: 2, stream: true }));
    assert.deepEqual(checkStreamShape(m.chunks, { chat: true, n: 2 }).map((c) => tokenChunks(c, { chat: true }).length), [N, N]);

    // a byte that starts a multi-byte character (the tokenizer is byte-level) is held by the
    // detokenizer until the character completes: its chunk has content "". After the eos every
    // token is equally likely, so seeded samples are tried until one has such a byte (streamed
    // with and without logprobs: the same seed samples the same tokens)
    let found = false;
    for (let seed = 1; seed <= 40 && !found; seed++) {
      const sb = { ...body, max_tokens: nAnswer + 24, temperature: 1.0, seed, stream: true };
      const y = await collectChat(await pc.chat.completions.create(sb));
      const ytc = tokenChunks(checkStreamShape(y.chunks, { chat: true })[0], { chat: true });
      assert.equal(ytc.length, sb.max_tokens, `seed ${seed}: ${JSON.stringify(ytc.map((ch) => ch.delta))}`);
      const x = await collectChat(await pc.chat.completions.create({ ...sb, logprobs: true }));
      const xtc = tokenChunks(checkStreamShape(x.chunks, { chat: true })[0], { chat: true });
      assert.deepEqual(xtc.map((ch) => ch.delta), ytc.map((ch) => ch.delta), `seed ${seed}: the same chunks with logprobs`);
      found = xtc.some((ch, i) => {
        const b = ch.logprobs.content[0].bytes;
        return i < xtc.length - 1 && ch.delta.content === '' && b.length === 1 && b[0] >= 0xc2 && b[0] <= 0xf4;
      });
    }
    assert.ok(found, 'some seed samples a lead byte of a multi-byte character');
  } finally {
    assert.equal((await p.stop()).code, 0, p.log);
  }
});

test('streaming chat sends nothing before the engine answers: a queued request gets its role chunk once it runs', async () => {
  // One sequence slot: B waits in the queue while A generates. vLLM sends the role chunk with
  // the first engine output, so a client's TTFT includes queueing and prefill; sending it at
  // once would make TTFT meaningless. The engine refreshes its waiting gauge in the same loop
  // iteration that posts B's first token, before any client could have read that token and
  // asked /metrics, so no metrics read issued after B's first chunk arrived may still see B
  // waiting.
  const q = await startServer({ model: CKPT45, args: ['--max-num-seqs', '1', '--reasoning-parser', 'glm45'] });
  try {
    const qc = q.client();
    const a = await qc.chat.completions.create({ model: CKPT45, stream: true, max_tokens: 400, ignore_eos: true,
      messages: [{ role: 'user', content: 'Tell me about Fibonacci.' }] });
    const ai = a[Symbol.asyncIterator]();
    assert.equal((await ai.next()).done, false); // A runs
    const aDone = (async () => { while (!(await ai.next()).done); })();
    let firstB = null, bDone = false;
    const b = (async () => {
      const res = await fetch(`${q.baseURL}/v1/chat/completions`, {
        method: 'POST', headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ messages: ASK, stream: true }),
      });
      const reader = res.body.getReader();
      const dec = new TextDecoder();
      let text = '';
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        if (firstB === null && value.length) firstB = performance.now();
        text += dec.decode(value, { stream: true });
      }
      bDone = true;
      return text;
    })();
    const polls = [];
    const deadline = Date.now() + 30000;
    while (!bDone) {
      assert.ok(Date.now() < deadline, 'B finished in time');
      const t = performance.now();
      polls.push({ t, waiting: metric(await q.metrics(), 'glm:num_requests_waiting') });
      await sleep(5);
    }
    const text = await b;
    await aDone;
    assert.ok(polls.some((p) => p.waiting === 1), 'B was queued behind A');
    const late = polls.filter((p) => p.t > firstB && p.waiting !== 0);
    assert.deepEqual(late, [], 'B sent a chunk while it was still waiting in the queue');
    // and B's stream has the usual shape
    const chunks = text.split('\n\n').filter(Boolean);
    assert.equal(chunks[chunks.length - 1], 'data: [DONE]');
    const parsed = chunks.slice(0, -1).map((e) => JSON.parse(e.replace(/^data: /, '')));
    const [cs] = checkStreamShape(parsed, { chat: true });
    assert.equal(cs.map((ch) => ch.delta.content || '').join(''), ANSWER.content);
  } finally {
    assert.equal((await q.stop()).code, 0, q.log);
  }
});

test('sampling parameters are accepted and the crafted answer survives them', async () => {
  const r = await client.chat.completions.create({ model: MODEL, messages: ASK, temperature: 0.7, top_p: 0.9,
    top_k: 20, min_p: 0.05, presence_penalty: 0.5, frequency_penalty: 0.5, repetition_penalty: 1.1, seed: 7 });
  assert.equal(r.choices[0].message.content, ANSWER.content);
  const g = await client.chat.completions.create({ model: MODEL, messages: ASK, temperature: 0 });
  assert.equal(g.choices[0].message.content, ANSWER.content);
});

test('skip_special_tokens false keeps special tokens in the text', async () => {
  const r = await client.chat.completions.create({ model: MODEL, messages: ASK, ignore_eos: true, max_tokens: 15,
    skip_special_tokens: false, chat_template_kwargs: { enable_thinking: false } });
  assert.ok(r.choices[0].message.content.startsWith(`${ANSWER.content}<|user|>`), r.choices[0].message.content);
});
