// Talks to a running `attnrt serve` through the official OpenAI Node client, as an application would:
// models, chat (whole and streamed with usage), text completions with n, seed and logprobs, and two errors.
// Exits non-zero when an answer is not what the API promises.
//
//   scripts/attnrt serve --port 8000 --api-key KEY &
//   npm install --no-save openai@4 && ATTNRT_URL=http://127.0.0.1:8000/v1 ATTNRT_API_KEY=KEY node scripts/openai-node-check.mjs
import OpenAI from "openai";
import assert from "node:assert/strict";

const baseURL = process.env.ATTNRT_URL ?? "http://127.0.0.1:8000/v1";
const apiKey = process.env.ATTNRT_API_KEY ?? "none";
const client = new OpenAI({ baseURL, apiKey });

const model = (await client.models.list()).data[0].id;
const messages = [{ role: "user", content: "Hello" }];
const whole = await client.chat.completions.create({ model, messages, max_tokens: 12, temperature: 0 });
assert.equal(whole.usage.completion_tokens, 12);
assert.equal(whole.choices[0].finish_reason, "length");

const stream = await client.chat.completions.create({ model, messages, max_tokens: 12, temperature: 0, stream: true,
    stream_options: { include_usage: true } });
let text = "";
let usage = null;
for await (const chunk of stream) {
  if (chunk.choices.length) text += chunk.choices[0].delta.content ?? "";
  if (chunk.usage) usage = chunk.usage;
}
assert.equal(text, whole.choices[0].message.content, "streamed text differs from the whole answer");
assert.equal(usage.total_tokens, whole.usage.total_tokens);

const twice = [];
for (let i = 0; i < 2; i++) {
  twice.push(await client.completions.create({ model, prompt: "abc", max_tokens: 5, temperature: 0.7, seed: 3, n: 2,
      logprobs: 2 }));
}
assert.equal(twice[0].choices.length, 2);
assert.deepEqual(twice[0].choices.map(c => c.text), twice[1].choices.map(c => c.text), "a seed did not reproduce");
assert.equal(twice[0].choices[0].logprobs.tokens.length, 5);

await assert.rejects(client.chat.completions.create({ model, messages: [], max_tokens: 3 }), e => e.status === 400);
if (process.env.ATTNRT_API_KEY) {
  await assert.rejects(new OpenAI({ baseURL, apiKey: apiKey + "-wrong" }).models.list(), e => e.status === 401);
}
console.log(`openai-node against ${baseURL} (${model}): all checks passed`);
