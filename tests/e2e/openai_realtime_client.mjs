// The official OpenAI Node SDK's realtime client (OpenAIRealtimeWS, openai/realtime/ws)
// against earshot's TLS listener: a transcription session that streams a spoken file as
// PCM16 at 24 kHz, at real speed or as fast as it goes, with server_vad turns.
// Usage: node openai_realtime_client.mjs <https base URL ending in /v1> <token> <ca.pem>
//        <audio file> <expected transcript> <realtime|fast>
// Prints the delays it measured and "all checks passed"; exits 1 with what failed otherwise.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import OpenAI from 'openai';
import { OpenAIRealtimeWS } from 'openai/realtime/ws';

const [baseURL, token, caPath, audioPath, expected, pace] = process.argv.slice(2);
const client = new OpenAI({ baseURL, apiKey: token, maxRetries: 0 });
const pcm = execFileSync('ffmpeg', ['-v', 'error', '-i', audioPath, '-ac', '1', '-ar', '24000',
  '-f', 's16le', 'pipe:1'], { maxBuffer: 1 << 28 });
const silence = Buffer.alloc(24000 * 2 * 1.5);
const audio = Buffer.concat([pcm, silence]);
const piece = 24000 * 2 / 10;  // 100 ms

const rt = new OpenAIRealtimeWS({ model: 'whisper-1', options: { ca: fs.readFileSync(caPath) } }, client);
const start = Date.now();
const deltas = new Map();
let firstDeltaMs = null;
let speechStopped = null;
const done = new Promise((resolve, reject) => {
  const timer = setTimeout(() => reject(new Error('no completed transcript within 60 s')), 60000);
  rt.on('error', (e) => { clearTimeout(timer); reject(e); });
  rt.on('conversation.item.input_audio_transcription.delta', (e) => {
    if (firstDeltaMs === null) firstDeltaMs = Date.now() - start;
    deltas.set(e.item_id, (deltas.get(e.item_id) ?? '') + e.delta);
  });
  rt.on('input_audio_buffer.speech_stopped', () => { speechStopped = Date.now(); });
  rt.on('conversation.item.input_audio_transcription.completed', (e) => {
    clearTimeout(timer);
    resolve({ event: e, afterStop: speechStopped === null ? null : Date.now() - speechStopped });
  });
});
const created = new Promise((resolve) => rt.on('session.created', resolve));

rt.socket.on('open', async () => {
  await created;
  rt.send({
    type: 'session.update',
    session: {
      type: 'transcription',
      audio: {
        input: {
          format: { type: 'audio/pcm', rate: 24000 },
          transcription: { model: 'whisper-1', language: 'en' },
          turn_detection: { type: 'server_vad', threshold: 0.5, prefix_padding_ms: 300, silence_duration_ms: 500 },
        },
      },
    },
  });
  for (let at = 0; at < audio.length; at += piece) {
    rt.send({ type: 'input_audio_buffer.append', audio: audio.subarray(at, at + piece).toString('base64') });
    if (pace === 'realtime') await new Promise((r) => setTimeout(r, 100));
  }
});

try {
  const { event, afterStop } = await done;
  assert.equal(event.transcript, expected);
  assert.equal(deltas.get(event.item_id) ?? '', event.transcript, 'the deltas add up to the transcript');
  console.log(`pace ${pace}: first delta after ${firstDeltaMs} ms, completed ${afterStop} ms after speech_stopped`);
  rt.close();
  console.log('all checks passed');
} catch (e) {
  console.error(e);
  rt.close();
  process.exit(1);
}
