// glm47.test.mjs — the GLM-4.7 flavour: a crafted checkpoint with the GLM-4.7 template (prompts
// end inside an open <think>, so the output has no opening tag) and the glm47 tool-call format,
// served with --tool-call-parser glm47; clear_thinking false keeps history reasoning.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, collectChat, checkStreamShape, CKPT47, ANSWER, TOOL, AFTER_TOOL, WEATHER_TOOL } from './harness.mjs';

let srv, client;
const MODEL = 'glm47-crafted';
const ASK = [{ role: 'user', content: 'What is 2+2?' }];
const WEATHER = [{ role: 'user', content: 'Weather in Beijing?' }];
const HISTORY = [
  { role: 'user', content: 'Hi' },
  { role: 'assistant', content: 'Hello!', reasoning_content: 'The user greets me.' },
  { role: 'user', content: 'What is 2+2?' },
];

before(async () => {
  srv = await startServer({ model: CKPT47, args: ['--served-model-name', MODEL, '--reasoning-parser', 'glm45',
    '--tool-call-parser', 'glm47', '--enable-auto-tool-choice'] });
  client = srv.client();
});

after(async () => {
  assert.equal((await srv.stop()).code, 0, srv.log);
});

async function rendered(body) {
  const t = await srv.post('/tokenize', body);
  assert.equal(t.status, 200, t.text);
  return (await srv.post('/detokenize', { tokens: t.json.tokens })).json.prompt;
}

test('thinking on: the prompt ends with <think>, the output has only </think>', async () => {
  assert.ok((await rendered({ messages: ASK })).endsWith('<|assistant|><think>'));
  const r = await client.chat.completions.create({ model: MODEL, messages: ASK });
  assert.equal(r.choices[0].message.reasoning_content, ANSWER.reasoning);
  assert.equal(r.choices[0].message.content, ANSWER.content);
  const s = await collectChat(await client.chat.completions.create({ model: MODEL, messages: ASK, stream: true }));
  assert.equal(s.reasoning, ANSWER.reasoning);
  assert.equal(s.content, ANSWER.content);
  checkStreamShape(s.chunks, { chat: true });
});

test('thinking off: the prompt ends with </think>, everything is content', async () => {
  const kw = { enable_thinking: false };
  assert.ok((await rendered({ messages: ASK, chat_template_kwargs: kw })).endsWith('<|assistant|></think>'));
  const r = await client.chat.completions.create({ model: MODEL, messages: ASK, chat_template_kwargs: kw });
  assert.equal(r.choices[0].message.content, ANSWER.content);
  assert.equal(r.choices[0].message.reasoning_content, null);
});

test('glm47 tool calls, whole and streamed', async () => {
  const r = await client.chat.completions.create({ model: MODEL, messages: WEATHER, tools: [WEATHER_TOOL] });
  const c = r.choices[0];
  assert.equal(c.finish_reason, 'tool_calls');
  assert.equal(c.message.reasoning_content, TOOL.reasoning);
  assert.equal(c.message.tool_calls[0].function.name, 'get_weather');
  assert.deepEqual(JSON.parse(c.message.tool_calls[0].function.arguments), TOOL.args);
  const s = await collectChat(await client.chat.completions.create({ model: MODEL, messages: WEATHER,
    tools: [WEATHER_TOOL], stream: true }));
  assert.equal(s.finish, 'tool_calls');
  checkStreamShape(s.chunks, { chat: true });
  assert.equal(s.toolCalls[0].function.name, 'get_weather');
  assert.deepEqual(JSON.parse(s.toolCalls[0].function.arguments), TOOL.args);
  assert.equal(s.content, '');
  // fed back
  const messages = [...WEATHER, { role: 'assistant', content: '', tool_calls: [c.message.tool_calls[0]] },
    { role: 'tool', tool_call_id: c.message.tool_calls[0].id, content: 'sunny, 25C' }];
  const text = await rendered({ messages, tools: [WEATHER_TOOL] });
  assert.ok(text.endsWith('<|assistant|></think><tool_call>get_weather<arg_key>city</arg_key><arg_value>北京</arg_value>'
    + '<arg_key>days</arg_key><arg_value>2</arg_value></tool_call><|observation|><tool_response>sunny, 25C'
    + '</tool_response><|assistant|><think>'), text);
  const r2 = await client.chat.completions.create({ model: MODEL, messages, tools: [WEATHER_TOOL] });
  assert.equal(r2.choices[0].message.content, AFTER_TOOL.content);
  assert.equal(r2.choices[0].message.reasoning_content, AFTER_TOOL.reasoning);
});

test('clear_thinking false keeps the history reasoning; the default drops it', async () => {
  const def = await rendered({ messages: HISTORY });
  assert.ok(def.includes('<|assistant|></think>Hello!<|user|>'), def);
  assert.ok(!def.includes('The user greets me.'));
  const keep = await rendered({ messages: HISTORY, chat_template_kwargs: { clear_thinking: false } });
  assert.ok(keep.includes('<|assistant|><think>The user greets me.</think>Hello!<|user|>'), keep);
  // the request itself: more prompt tokens, same crafted answer
  const a = await client.chat.completions.create({ model: MODEL, messages: HISTORY });
  const b = await client.chat.completions.create({ model: MODEL, messages: HISTORY,
    chat_template_kwargs: { enable_thinking: true, clear_thinking: false } });
  assert.ok(b.usage.prompt_tokens > a.usage.prompt_tokens);
  assert.equal(b.choices[0].message.content, ANSWER.content);
  assert.equal(b.choices[0].message.reasoning_content, ANSWER.reasoning);
  // `reasoning` (vLLM's newer name) is accepted on history messages too
  const alias = HISTORY.map((m) => (m.reasoning_content ? { role: m.role, content: m.content, reasoning: m.reasoning_content } : m));
  assert.equal(await rendered({ messages: alias, chat_template_kwargs: { clear_thinking: false } }), keep);
});
