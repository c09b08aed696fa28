// The official OpenAI Node SDK against earshot: every audio call a user of the SDK makes.
// Usage: node openai_sdk_client.mjs <baseURL> <token> <audio.wav> <expected text>
// Exits 0 when every check holds; prints what failed otherwise.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import OpenAI from 'openai';

const [baseURL, token, audioPath, expected] = process.argv.slice(2);
const client = new OpenAI({ baseURL, apiKey: token, maxRetries: 0, timeout: 60000 });
const file = () => fs.createReadStream(audioPath);

async function main() {
  // Default (json): the SDK returns {text}.
  const json = await client.audio.transcriptions.create({ file: file(), model: 'whisper-1' });
  assert.equal(json.text, expected);

  for (const format of ['text', 'srt', 'vtt']) {
    const out = await client.audio.transcriptions.create({ file: file(), model: 'whisper-1', response_format: format });
    assert.equal(typeof out, 'string', `${format} is returned as a string`);
    assert.ok(out.includes(expected), `${format} holds the text: ${out}`);
    if (format === 'srt') assert.match(out, /^1\n00:00:00,000 --> 00:00:02,800\n/);
    if (format === 'vtt') assert.match(out, /^WEBVTT\n/);
  }

  const verbose = await client.audio.transcriptions.create({
    file: file(), model: 'whisper-1', response_format: 'verbose_json', language: 'en',
    timestamp_granularities: ['segment'],
  });
  assert.equal(verbose.task, 'transcribe');
  assert.equal(verbose.segments.length, 1);
  assert.ok(Math.abs(verbose.segments[0].end - 2.8) < 1e-9, `segment end ${verbose.segments[0].end}`);

  const translated = await client.audio.translations.create({
    file: file(), model: 'whisper-1', response_format: 'verbose_json',
  });
  assert.equal(translated.task, 'translate');

  const stream = await client.audio.transcriptions.create({ file: file(), model: 'whisper-1', stream: true });
  const types = [];
  let done = '';
  for await (const event of stream) {
    types.push(event.type);
    if (event.type === 'transcript.text.done') done = event.text;
  }
  assert.deepEqual(types, ['transcript.text.delta', 'transcript.text.done']);
  assert.equal(done, expected);

  const models = await client.models.list();
  assert.ok(models.data.some((m) => m.id === 'whisper-1'));

  // A wrong token is the SDK's permission error with the server's message.
  const wrong = new OpenAI({ baseURL, apiKey: 'not-a-token', maxRetries: 0 });
  await assert.rejects(wrong.audio.transcriptions.create({ file: file(), model: 'whisper-1' }), (err) => {
    assert.equal(err.status, 403);
    assert.match(err.message, /Token doesn't exist/);
    return true;
  });
  console.log('openai sdk: all checks passed');
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
