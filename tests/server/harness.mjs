// harness.mjs — starts `glm serve` for the end-to-end tests and hands out OpenAI clients.
// Every server listens on 127.0.0.1 with --port 0 (the kernel picks a free port; the server
// prints it), every wait is bounded, and every server is stopped with SIGTERM at the end of its
// test file (its exit status is checked: a clean shutdown exits 0).
// Environment (set by CMakeLists.txt): GLM_BIN (the glm binary), GLM_CKPT45 / GLM_CKPT47 (the
// crafted checkpoints of craft_model.py), GLM_TEST_TMP (a scratch directory).
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import assert from 'node:assert/strict';
import OpenAI from 'openai';

export const GLM = process.env.GLM_BIN;
export const CKPT45 = process.env.GLM_CKPT45;
export const CKPT47 = process.env.GLM_CKPT47;
export const TMP = process.env.GLM_TEST_TMP || '/tmp';
if (!GLM) throw new Error('GLM_BIN is not set (run these tests through ctest)');

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
export { sleep };

// Starts a server; resolves once it printed its port. opts.args: extra flags; opts.model: the
// checkpoint (omit for the demo mode); opts.env: extra environment.
export async function startServer(opts = {}) {
  const args = ['serve', '--port', '0', '--host', '127.0.0.1'];
  if (opts.model) args.push('--model', opts.model);
  args.push(...(opts.args || []));
  const proc = spawn(GLM, args, { env: { ...process.env, ...(opts.env || {}) }, stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  const exited = new Promise((resolve) => proc.on('exit', (code, signal) => resolve({ code, signal })));
  proc.stdout.on('data', (d) => { log += d; });
  proc.stderr.on('data', (d) => { log += d; });
  const deadline = Date.now() + (opts.startTimeoutMs || 30000);
  let port = null;
  while (port === null) {
    const m = /listening on http:\/\/[^\s:]+:(\d+)/.exec(log);
    if (m) port = Number(m[1]);
    else if (proc.exitCode !== null) throw new Error(`glm serve exited early (${proc.exitCode}):\n${log}`);
    else if (Date.now() > deadline) {
      proc.kill('SIGKILL');
      throw new Error(`glm serve did not start in time:\n${log}`);
    } else await sleep(20);
  }
  const baseURL = `http://127.0.0.1:${port}`;
  const server = {
    proc, port, baseURL, exited,
    get log() { return log; },
    client(extra = {}) {
      return new OpenAI({ baseURL: `${baseURL}/v1`, apiKey: extra.apiKey || 'unused', maxRetries: 0, timeout: 60000, ...extra });
    },
    // SIGTERM and wait (bounded) for the exit; returns {code, signal}
    async stop(signal = 'SIGTERM', timeoutMs = 20000) {
      if (proc.exitCode !== null) return { code: proc.exitCode, signal: null };
      proc.kill(signal);
      let timer;
      const r = await Promise.race([exited, new Promise((res) => { timer = setTimeout(() => res(null), timeoutMs); })]);
      clearTimeout(timer);
      if (!r) {
        proc.kill('SIGKILL');
        throw new Error(`glm serve did not exit within ${timeoutMs} ms after ${signal}:\n${log}`);
      }
      checkSanitizers(log);
      return r;
    },
    rssKiB() {
      const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${proc.pid}/status`, 'utf8'));
      return Number(m[1]);
    },
    async metrics() {
      const r = await fetch(`${baseURL}/metrics`, { headers: opts.apiKey ? { Authorization: `Bearer ${opts.apiKey}` } : {} });
      assert.equal(r.status, 200);
      return parseMetrics(await r.text());
    },
    // Waits (bounded) until the engine has nothing running or waiting and the only HTTP request
    // in flight is the metrics request itself; the gauges are snapshots the engine thread
    // refreshes, so a test polls them rather than reading them once. Returns the metrics.
    async settle(timeoutMs = 15000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const m = await this.metrics();
        const state = { running: metric(m, 'glm:num_requests_running'), waiting: metric(m, 'glm:num_requests_waiting'),
          http_in_flight: metric(m, 'glm:http_requests_in_flight') };
        if (state.running === 0 && state.waiting === 0 && state.http_in_flight === 1) return m;
        if (Date.now() > deadline) throw new Error(`server did not settle: ${JSON.stringify(state)}`);
        await sleep(20);
      }
    },
    async post(path, body, headers = {}) {
      const r = await fetch(`${baseURL}${path}`, {
        method: 'POST', headers: { 'Content-Type': 'application/json', ...headers },
        body: typeof body === 'string' ? body : JSON.stringify(body),
      });
      const text = await r.text();
      let json = null;
      try { json = JSON.parse(text); } catch { /* not JSON */ }
      return { status: r.status, json, text, headers: r.headers };
    },
  };
  return server;
}

// Sanitizer builds report to stderr and (UBSan) keep running: any report fails the test.
function checkSanitizers(log) {
  const m = /(runtime error:|ERROR: AddressSanitizer|ERROR: LeakSanitizer|WARNING: ThreadSanitizer)[^\n]*/.exec(log);
  if (m) throw new Error(`sanitizer report from glm serve: ${m[0]}\n${log}`);
}

// {"name{labels}": value} of a Prometheus text exposition; also checks its syntax.
export function parseMetrics(text) {
  const out = {};
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (-?[0-9.eE+-]+|NaN|\+Inf|-Inf)$/.exec(line);
    assert.ok(m, `bad metrics line: ${line}`);
    out[m[1] + (m[2] || '')] = Number(m[3]);
  }
  return out;
}

// The first metric whose name and labels contain all the given fragments.
export function metric(all, name, ...labels) {
  for (const [k, v] of Object.entries(all))
    if ((k === name || k.startsWith(name + '{')) && labels.every((l) => k.includes(l))) return v;
  return undefined;
}

// Collects a streamed chat completion: content, reasoning, tool calls (merged like the SDK's
// helpers would), finish reasons, chunks.
export async function collectChat(stream) {
  const r = { content: '', reasoning: '', reasoningAlias: '', toolCalls: [], finish: null, stopReason: undefined,
    chunks: [], roleSeen: false, usage: null, logprobs: [], ids: new Set() };
  for await (const chunk of stream) {
    r.chunks.push(chunk);
    r.ids.add(chunk.id);
    if (chunk.usage) r.usage = chunk.usage;
    for (const ch of chunk.choices) {
      const d = ch.delta || {};
      if (d.role === 'assistant') r.roleSeen = true;
      if (d.content) r.content += d.content;
      if (d.reasoning_content) r.reasoning += d.reasoning_content;
      if (d.reasoning) r.reasoningAlias += d.reasoning;
      for (const tc of d.tool_calls || []) {
        const t = (r.toolCalls[tc.index] ||= { id: '', type: '', function: { name: '', arguments: '' } });
        if (tc.id) t.id = tc.id;
        if (tc.type) t.type = tc.type;
        if (tc.function?.name) t.function.name += tc.function.name;
        if (tc.function?.arguments) t.function.arguments += tc.function.arguments;
      }
      if (ch.logprobs?.content) r.logprobs.push(...ch.logprobs.content);
      if (ch.finish_reason) { r.finish = ch.finish_reason; r.stopReason = ch.stop_reason; }
    }
  }
  return r;
}

// The chunks of one choice, in order (chunks with empty choices, like the usage chunk, belong
// to none).
export function choiceChunks(chunks, index) {
  return chunks.flatMap((c) => c.choices.filter((ch) => ch.index === index));
}

// vLLM's streaming shape, checked per choice: for chat the first chunk of every choice is the
// role chunk {role: 'assistant', content: ''} and no other chunk carries a role; for both chat
// and completions exactly one chunk has a finish_reason and it is the choice's last chunk
// (it carries the last text when the end brought text; otherwise its text is "" (completions,
// chat without parsers: {content: ''}) or, with parsers or for a finish without a token of its
// own, its delta is {}).
// Returns the per-choice lists of chunks.
export function checkStreamShape(chunks, { chat, n = 1 }) {
  const idx = new Set(chunks.flatMap((c) => c.choices.map((ch) => ch.index)));
  assert.deepEqual([...idx].sort((a, b) => a - b), [...Array(n).keys()], 'every choice streamed');
  if (chat) assert.deepEqual(chunks[0].choices[0].delta, { role: 'assistant', content: '' }, 'the role chunk comes first');
  const out = [];
  for (let i = 0; i < n; i++) {
    const cs = choiceChunks(chunks, i);
    if (chat) {
      assert.deepEqual(cs[0].delta, { role: 'assistant', content: '' }, `choice ${i} opens with the role chunk`);
      assert.equal(cs[0].finish_reason, null);
      assert.equal(cs.filter((ch) => ch.delta.role !== undefined).length, 1, `choice ${i}: one role chunk`);
    }
    const fin = cs.filter((ch) => ch.finish_reason !== null && ch.finish_reason !== undefined);
    assert.equal(fin.length, 1, `choice ${i}: exactly one chunk with a finish_reason: ${JSON.stringify(cs)}`);
    assert.equal(fin[0], cs[cs.length - 1], `choice ${i}: the finish_reason is on its last chunk`);
    out.push(cs);
  }
  return out;
}

// The chunks of one choice (as choiceChunks gives them) that stand for generated tokens: for
// completions every chunk whose `text` is a string ("" included), for chat every chunk whose
// delta.content is a string ("" included) except the role chunk, which opens the choice. Without
// reasoning/tool parsers vLLM sends exactly one such chunk per generated token, also when the
// token released no text, and `vllm bench serve` times them as tokens.
export function tokenChunks(cs, { chat }) {
  if (!chat) return cs.filter((ch) => typeof ch.text === 'string');
  return cs.filter((ch) => ch.delta && ch.delta.role === undefined && typeof ch.delta.content === 'string');
}

// The crafted answers (spec_glm45.json / spec_glm47.json): what the model says in each mode.
export const ANSWER = { reasoning: 'Let me think.', content: 'The answer is 4.' };
export const TOOL = { reasoning: 'I need the weather.', args: { city: '北京', days: 2 } };
export const AFTER_TOOL = { reasoning: 'Got it.', content: 'It is sunny.' };
export const STORY = 'The Fibonacci numbers start with zero and one. Each next number is the sum of the two numbers '
  + 'before it, so the list grows: one, two, three, five, eight, thirteen, twenty-one. The ratio of two neighbours '
  + 'gets close to the golden mean, about 1.618, and the same spiral shows up in sunflowers and shells. '
  + 'Leonardo of Pisa wrote about them in 1202 when he asked how fast rabbits would breed in a perfect world.';

export const WEATHER_TOOL = {
  type: 'function',
  function: {
    name: 'get_weather',
    description: 'Get the weather for a city',
    parameters: { type: 'object', properties: { city: { type: 'string' }, days: { type: 'integer' } }, required: ['city'] },
  },
};
