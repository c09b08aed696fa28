// The page: a token, settings, audio from the microphone or a file, sent to
// POST /v1/audio/transcriptions with stream=true; segments are shown as the server decodes
// them (Server-Sent Events whose delta events carry id, start and end).

import { LANGUAGES } from "./languages.js";
import { formatTimestamp, toJson, toSrt, toTxt, toVtt } from "./transcript_files.js";

const $ = (id) => document.getElementById(id);
const ui = {
  token: $("token"),
  tokenShow: $("token-show"),
  tokenState: $("token-state"),
  model: $("model"),
  language: $("language"),
  words: $("words"),
  record: $("record"),
  recordTime: $("record-time"),
  drop: $("drop"),
  file: $("file"),
  player: $("player"),
  again: $("again"),
  cancel: $("cancel"),
  uploadProgress: $("upload-progress"),
  decodeProgress: $("decode-progress"),
  status: $("status"),
  error: $("error"),
  segments: $("segments"),
  downloads: document.querySelectorAll("button.download"),
};

const TOKEN_KEY = "earshot.token";

// What the page holds: the audio chosen last and the transcript of it.
const state = {
  audio: null, // {blob, name, duration (seconds, NaN when unknown)}
  audioUrl: null,
  request: null, // the XMLHttpRequest in flight
  segments: [],
  text: "",
  task: "transcribe",
  stopAt: null, // playback stops here (seconds) after a segment is selected
  recorder: null,
};

// ---- messages

// What a person should read for a failed request: the status in plain words, then the
// server's own reason when it adds something.
function describeFailure(status, serverMessage) {
  const reason = serverMessage ? ` (The server said: ${serverMessage})` : "";
  switch (status) {
    case 0:
      return "The server could not be reached, or it closed the connection. Check that it is " +
        "running; a very large file may also be over its size limit.";
    case 401:
      return "This server needs an access token. Enter it in the Access token field above.";
    case 403:
      return "The server did not accept this access token. Check it for typing mistakes, or " +
        `ask the server's operator for a valid one.${reason}`;
    case 413:
      return "The audio is too large for this server: the file is bigger, or the recording " +
        `longer, than it accepts. Try a shorter piece.${reason}`;
    case 429:
      return "The server is holding back: too many transcriptions are running with this token, " +
        `or too many wrong tokens came from this address. Wait a minute, then try again.${reason}`;
    case 503:
      return "The server is busy, starting up or shutting down, and cannot take this now. " +
        `Try again in a few seconds.${reason}`;
    case 504:
      return `The transcription took longer than the server allows.${reason}`;
    default:
      if (status >= 500) {
        return `Something went wrong on the server, so there is no transcript.${reason}`;
      }
      if (serverMessage) return `The server refused the request: ${serverMessage}`;
      return `The request failed (HTTP status ${status}).`;
  }
}

// The reason inside an error body: OpenAI's {"error": {"message"}} or the original
// {"Error": "..."}.
function serverMessageOf(bodyText) {
  try {
    const body = JSON.parse(bodyText);
    if (body && body.error && typeof body.error.message === "string") return body.error.message;
    if (body && typeof body.Error === "string") return body.Error;
  } catch {
    // Not JSON: no reason to add.
  }
  return "";
}

function showError(message) {
  ui.error.textContent = message;
  ui.error.hidden = false;
}

function clearError() {
  ui.error.textContent = "";
  ui.error.hidden = true;
}

function setStatus(message) {
  ui.status.textContent = message;
}

// ---- token and settings

function token() {
  return ui.token.value.trim();
}

function authHeader() {
  return `Bearer ${token()}`;
}

function selectedTask() {
  return document.querySelector('input[name="task"]:checked').value;
}

async function loadModels() {
  if (!token()) {
    ui.tokenState.textContent = "";
    return;
  }
  let response;
  try {
    response = await fetch("/v1/models", { headers: { Authorization: authHeader() } });
  } catch {
    ui.tokenState.textContent = describeFailure(0, "");
    return;
  }
  if (!response.ok) {
    ui.tokenState.textContent = describeFailure(response.status, serverMessageOf(await response.text()));
    return;
  }
  const body = await response.json();
  if (!body.data || body.data.length === 0) {
    ui.tokenState.textContent = "Token accepted, but this server has no model configured yet.";
    return;
  }
  const previous = ui.model.value;
  ui.model.replaceChildren();
  for (const m of body.data) {
    const option = new Option(m.id === "whisper-1" ? "whisper-1 (the server's default)" : m.id, m.id);
    ui.model.add(option);
  }
  if ([...ui.model.options].some((o) => o.value === previous)) ui.model.value = previous;
  ui.tokenState.textContent = `Token accepted; ${ui.model.options.length} model choice(s) listed.`;
}

function setUpSettings() {
  ui.token.value = sessionStorage.getItem(TOKEN_KEY) || "";
  // The token is checked (by listing the models) once it is complete, not on every key:
  // the server counts wrong tokens per address and locks out an address that sends many.
  ui.token.addEventListener("input", () => sessionStorage.setItem(TOKEN_KEY, token()));
  ui.token.addEventListener("change", loadModels);
  ui.tokenShow.addEventListener("click", () => {
    const show = ui.token.type === "password";
    ui.token.type = show ? "text" : "password";
    ui.tokenShow.setAttribute("aria-pressed", String(show));
    ui.tokenShow.textContent = show ? "Hide" : "Show";
  });
  const byName = [...LANGUAGES].sort((a, b) => a[1].localeCompare(b[1]));
  for (const [code, name] of byName) ui.language.add(new Option(`${name} (${code})`, code));
  loadModels();
}

// ---- audio in

function durationOf(blob) {
  return new Promise((resolve) => {
    const probe = new Audio();
    const url = URL.createObjectURL(blob);
    const done = (value) => {
      URL.revokeObjectURL(url);
      resolve(value);
    };
    probe.preload = "metadata";
    probe.onloadedmetadata = () => done(probe.duration);
    probe.onerror = () => done(NaN);
    probe.src = url;
  });
}

async function useAudio(blob, name, knownDuration) {
  if (state.audioUrl) URL.revokeObjectURL(state.audioUrl);
  state.audioUrl = URL.createObjectURL(blob);
  ui.player.src = state.audioUrl;
  ui.player.hidden = false;
  let duration = knownDuration;
  if (!Number.isFinite(duration)) duration = await durationOf(blob);
  state.audio = { blob, name, duration };
  ui.again.disabled = false;
  transcribe();
}

function setUpFile() {
  ui.file.addEventListener("change", () => {
    const f = ui.file.files[0];
    if (f) useAudio(f, f.name, NaN);
    ui.file.value = "";
  });
  for (const type of ["dragenter", "dragover"]) {
    ui.drop.addEventListener(type, (e) => {
      e.preventDefault();
      ui.drop.classList.add("over");
    });
  }
  for (const type of ["dragleave", "drop"]) {
    ui.drop.addEventListener(type, () => ui.drop.classList.remove("over"));
  }
  ui.drop.addEventListener("drop", (e) => {
    e.preventDefault();
    const f = e.dataTransfer.files[0];
    if (f) useAudio(f, f.name, NaN);
  });
}

function setUpRecorder() {
  if (!navigator.mediaDevices || !window.MediaRecorder) {
    ui.record.disabled = true;
    ui.recordTime.textContent = "Recording needs a browser with microphone access over https or localhost.";
    return;
  }
  let started = 0;
  let ticker = null;
  ui.record.addEventListener("click", async () => {
    if (state.recorder) {
      state.recorder.stop();
      return;
    }
    clearError();
    let stream;
    try {
      stream = await navigator.mediaDevices.getUserMedia({ audio: true });
    } catch (e) {
      showError(`The microphone cannot be used: ${e.message || e.name}. Allow microphone access ` +
        "for this page, or upload a file instead.");
      return;
    }
    const chunks = [];
    const recorder = new MediaRecorder(stream);
    state.recorder = recorder;
    recorder.ondataavailable = (e) => {
      if (e.data.size > 0) chunks.push(e.data);
    };
    recorder.onstop = () => {
      clearInterval(ticker);
      for (const t of stream.getTracks()) t.stop();
      state.recorder = null;
      ui.record.textContent = "Record";
      ui.record.setAttribute("aria-pressed", "false");
      const seconds = (performance.now() - started) / 1000;
      ui.recordTime.textContent = `Recorded ${seconds.toFixed(1)} s.`;
      const type = recorder.mimeType || "audio/webm";
      const extension = type.includes("ogg") ? "ogg" : type.includes("mp4") ? "m4a" : "webm";
      useAudio(new Blob(chunks, { type }), `recording.${extension}`, seconds);
    };
    recorder.start();
    started = performance.now();
    ui.record.textContent = "Stop recording";
    ui.record.setAttribute("aria-pressed", "true");
    ui.recordTime.textContent = "Recording… 0 s";
    ticker = setInterval(() => {
      ui.recordTime.textContent = `Recording… ${Math.floor((performance.now() - started) / 1000)} s`;
    }, 500);
  });
}

// ---- transcription

function resetResult() {
  state.segments = [];
  state.text = "";
  ui.segments.replaceChildren();
  for (const b of ui.downloads) b.disabled = true;
  ui.uploadProgress.value = 0;
  ui.decodeProgress.value = 0;
}

function addSegment(segment) {
  state.segments.push(segment);
  const item = document.createElement("li");
  const button = document.createElement("button");
  button.type = "button";
  button.className = "segment";
  const time = document.createElement("span");
  time.className = "time";
  time.textContent = `${formatTimestamp(segment.start, ".")} – ${formatTimestamp(segment.end, ".")}`;
  const text = document.createElement("span");
  text.className = "text";
  text.textContent = segment.text.trim();
  button.append(time, " ", text);
  // Words only as the server timed them (present when word timestamps were asked for and
  // the server gives them); never estimated here.
  if (Array.isArray(segment.words) && segment.words.length > 0) {
    const words = document.createElement("span");
    words.className = "words";
    for (const w of segment.words) {
      const word = document.createElement("span");
      word.className = "word";
      word.textContent = w.word.trim();
      word.title = `${formatTimestamp(w.start, ".")} – ${formatTimestamp(w.end, ".")}`;
      words.append(word, " ");
    }
    button.append(words);
  }
  button.addEventListener("click", () => playSegment(segment));
  item.append(button);
  ui.segments.append(item);
  const duration = state.audio && state.audio.duration;
  if (Number.isFinite(duration) && duration > 0) {
    ui.decodeProgress.value = Math.min(1, segment.end / duration);
  }
}

function playSegment(segment) {
  state.stopAt = segment.end;
  ui.player.currentTime = segment.start;
  ui.player.play().catch(() => {});
}

function finish(message) {
  state.request = null;
  ui.cancel.disabled = true;
  setStatus(message);
}

function transcribe() {
  if (!state.audio) return;
  if (state.request) state.request.abort();
  clearError();
  resetResult();
  if (!token()) {
    showError(describeFailure(401, ""));
    return;
  }
  state.task = selectedTask();
  const form = new FormData();
  form.append("file", state.audio.blob, state.audio.name);
  form.append("model", ui.model.value);
  if (state.task === "transcribe") form.append("language", ui.language.value);
  if (ui.words.checked) {
    form.append("timestamp_granularities[]", "segment");
    form.append("timestamp_granularities[]", "word");
  }
  form.append("stream", "true");

  const started = performance.now();
  const xhr = new XMLHttpRequest();
  state.request = xhr;
  let seen = 0; // characters of the event stream already parsed
  let done = false;
  let failed = false;
  const url = state.task === "translate" ? "/v1/audio/translations" : "/v1/audio/transcriptions";
  xhr.open("POST", url);
  xhr.setRequestHeader("Authorization", authHeader());
  xhr.upload.onprogress = (e) => {
    if (e.lengthComputable) ui.uploadProgress.value = e.loaded / e.total;
    setStatus(`Uploading… ${Math.round(100 * ui.uploadProgress.value)}%`);
  };
  xhr.upload.onload = () => {
    ui.uploadProgress.value = 1;
    setStatus("Uploaded; the server is transcribing…");
    if (!Number.isFinite(state.audio.duration)) ui.decodeProgress.removeAttribute("value");
  };
  const readEvents = () => {
    if (xhr.status !== 200) return;
    const text = xhr.responseText;
    let end;
    while ((end = text.indexOf("\n\n", seen)) !== -1) {
      const block = text.slice(seen, end);
      seen = end + 2;
      for (const line of block.split("\n")) {
        if (!line.startsWith("data: ")) continue;
        let event;
        try {
          event = JSON.parse(line.slice(6));
        } catch {
          continue;
        }
        if (event.type === "transcript.text.delta") {
          addSegment({ id: event.id, start: event.start, end: event.end, text: event.delta, words: event.words });
          const n = state.segments.length;
          setStatus(`Transcribing… ${n} segment${n === 1 ? "" : "s"} so far`);
        } else if (event.type === "transcript.text.done") {
          done = true;
          state.text = event.text;
        } else if (event.type === "error") {
          failed = true;
          const e = event.error || {};
          showError(describeFailure(e.code === "shutting_down" ? 503 : e.code === "timeout" ? 504 : 500,
            e.message || ""));
        }
      }
    }
  };
  xhr.onprogress = readEvents;
  xhr.onload = () => {
    if (xhr.status !== 200) {
      ui.decodeProgress.value = 0;
      showError(describeFailure(xhr.status, serverMessageOf(xhr.responseText)));
      finish("");
      return;
    }
    readEvents();
    if (failed) {
      finish("");
      return;
    }
    if (!done) {
      showError("The server ended its answer before the transcript was complete. Try again.");
      finish("");
      return;
    }
    ui.decodeProgress.value = 1;
    for (const b of ui.downloads) b.disabled = false;
    const n = state.segments.length;
    const seconds = ((performance.now() - started) / 1000).toFixed(1);
    finish(`Done: ${n} segment${n === 1 ? "" : "s"} in ${seconds} s.`);
  };
  xhr.onerror = () => {
    ui.decodeProgress.value = 0;
    showError(describeFailure(0, ""));
    finish("");
  };
  xhr.onabort = () => {
    ui.decodeProgress.value = 0;
    finish("Cancelled.");
  };
  ui.cancel.disabled = false;
  setStatus("Uploading…");
  xhr.send(form);
}

// ---- downloads

function download(format) {
  const base = (state.audio ? state.audio.name.replace(/\.[^.]*$/, "") : "") || "transcript";
  const files = {
    txt: () => toTxt(state.segments, state.text),
    srt: () => toSrt(state.segments),
    vtt: () => toVtt(state.segments),
    json: () => toJson(state.segments, { text: state.text, task: state.task, duration: state.audio?.duration }),
  };
  const type = format === "json" ? "application/json" : format === "vtt" ? "text/vtt" : "text/plain";
  const url = URL.createObjectURL(new Blob([files[format]()], { type: `${type};charset=utf-8` }));
  const a = document.createElement("a");
  a.href = url;
  a.download = `${base}.${format}`;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}

// ---- wiring

setUpSettings();
setUpFile();
setUpRecorder();
ui.again.addEventListener("click", transcribe);
ui.cancel.addEventListener("click", () => state.request && state.request.abort());
for (const b of ui.downloads) b.addEventListener("click", () => download(b.dataset.format));
ui.player.addEventListener("timeupdate", () => {
  if (state.stopAt !== null && ui.player.currentTime >= state.stopAt) {
    ui.player.pause();
    state.stopAt = null;
  }
});
ui.player.addEventListener("seeking", () => {
  // A seek by the person (not by playSegment) plays on freely.
  if (state.stopAt !== null && ui.player.currentTime > state.stopAt) state.stopAt = null;
});
