// The downloads, built in the browser from the segments the stream delivered. Each follows
// the server's own writer (src/format, after OpenAI's whisper/utils.py) byte for byte, so a
// file saved here equals the server's response_format answer for the same result.

// Python's str.strip() as the server applies it: ASCII whitespace only.
function strip(text) {
  return text.replace(/^[ \t\n\r\f\v]+|[ \t\n\r\f\v]+$/g, "");
}

// Seconds to whole milliseconds with halves to the even neighbour (Python's round(), the
// server's std::nearbyint); negative and non-finite times are 0.
export function toMilliseconds(seconds) {
  if (!Number.isFinite(seconds) || seconds <= 0) return 0;
  const x = seconds * 1000;
  const r = Math.round(x);
  return r - x === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

// "HH:MM:SS<marker>mmm"; hours grow past two digits when needed.
export function formatTimestamp(seconds, marker) {
  const ms = toMilliseconds(seconds);
  const pad = (n, width) => String(n).padStart(width, "0");
  const hours = Math.floor(ms / 3600000);
  const minutes = Math.floor(ms / 60000) % 60;
  const secs = Math.floor(ms / 1000) % 60;
  return `${pad(hours, 2)}:${pad(minutes, 2)}:${pad(secs, 2)}${marker}${pad(ms % 1000, 3)}`;
}

// "-->" inside a cue's text would read as a timing line.
function cueText(segment) {
  return strip(segment.text).split("-->").join("->");
}

function cueTiming(segment, marker) {
  return `${formatTimestamp(segment.start, marker)} --> ${formatTimestamp(segment.end, marker)}`;
}

export function toTxt(segments, wholeText = "") {
  if (segments.length === 0) {
    const text = strip(wholeText);
    return text ? `${text}\n` : "";
  }
  return segments.map((s) => `${strip(s.text)}\n`).join("");
}

export function toSrt(segments) {
  return segments.map((s, i) => `${i + 1}\n${cueTiming(s, ",")}\n${cueText(s)}\n\n`).join("");
}

export function toVtt(segments) {
  return `WEBVTT\n\n${segments.map((s) => `${cueTiming(s, ".")}\n${cueText(s)}\n\n`).join("")}`;
}

// The fields of the API's verbose_json that the stream carries.
export function toJson(segments, { text, task, duration }) {
  const body = {
    task,
    duration: Number.isFinite(duration) ? duration : null,
    text: strip(text),
    segments: segments.map((s) => {
      const out = { id: s.id, start: s.start, end: s.end, text: s.text };
      if (s.words) out.words = s.words;
      return out;
    }),
  };
  return `${JSON.stringify(body, null, 2)}\n`;
}
