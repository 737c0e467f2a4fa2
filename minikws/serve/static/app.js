// The listening page: microphone -> AudioWorklet (downsampling) -> WebSocket /stream -> plot and list.
// Everything here is served by `minikws serve` itself; no library, no build step.

const SPAN = 10;          // seconds of posteriors on the plot
const CHUNK_SECONDS = 0.1;  // audio sent per WebSocket message
// Okabe & Ito's colour-blind-safe palette; background labels are drawn in greys.
const COLOURS = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#882255", "#44AA99",
                 "#332288", "#AA4499", "#117733", "#999933"];
const GREYS = ["#9a9a9a", "#c4c4c4", "#7a7a7a"];

const auth = new URLSearchParams(location.search).get("access_token");
const authQuery = auth ? "?access_token=" + encodeURIComponent(auth) : "";
const $ = (id) => document.getElementById(id);

// Also window.minikwsState, for anyone curious in the browser console.
const state = window.minikwsState = {
  info: null,        // GET /model
  colours: [],
  history: [],       // {t, probs}
  detections: [],    // {label, time, score}
  streamTime: 0,     // seconds of audio the server has evaluated
  running: false,
  audio: null,       // {ctx, mic, node}
  ws: null,
};

function isBackground(label) { return label.startsWith("_") && label.endsWith("_"); }

function setStatus(text, error = false) {
  $("status").textContent = text;
  $("status").classList.toggle("error", error);
}

async function loadModel() {
  const res = await fetch("/model" + authQuery);
  if (!res.ok) throw new Error(`GET /model answered ${res.status}`);
  const info = await res.json();
  state.info = info;
  let c = 0, g = 0;
  state.colours = info.classes.map((l) => isBackground(l) ? GREYS[g++ % GREYS.length] : COLOURS[c++ % COLOURS.length]);
  $("model").innerHTML = "";
  const b = document.createElement("b");
  b.textContent = info.model;
  $("model").append("model ", b, ` · ${info.classes.length} labels · ${info.sr / 1000} kHz`);
  $("threshold").textContent = info.listener.threshold.toFixed(2);
  $("span-seconds").textContent = SPAN;
  const list = $("labels");
  list.innerHTML = "";
  info.classes.forEach((label, k) => {
    const li = document.createElement("li");
    li.className = isBackground(label) ? "background" : "keyword";
    li.dataset.label = label;
    li.innerHTML = '<span class="swatch"></span><span class="name"></span><span class="p">0.00</span>' +
                   '<span class="bar"><span></span></span>';
    li.querySelector(".swatch").style.background = state.colours[k];
    li.querySelector(".name").textContent = label;
    li.querySelector(".bar span").style.background = state.colours[k];
    list.append(li);
  });
}

function showProbs(probs) {
  const items = $("labels").children;
  probs.forEach((p, k) => {
    items[k].querySelector(".p").textContent = p.toFixed(2);
    items[k].querySelector(".bar span").style.width = (100 * p).toFixed(1) + "%";
  });
}

function addDetection(d) {
  state.detections.push(d);
  const latest = $("latest");
  latest.innerHTML = "";
  latest.append(d.label);
  const score = document.createElement("span");
  score.className = "score";
  score.textContent = `score ${d.score.toFixed(2)} · at ${d.time.toFixed(1)} s`;
  latest.append(score);
  latest.classList.remove("flash");
  void latest.offsetWidth;  // restart the animation
  latest.classList.add("flash");
  const li = document.createElement("li");
  li.innerHTML = '<span class="word"></span><span class="meta"></span>';
  li.querySelector(".word").textContent = d.label;
  li.querySelector(".word").style.color = state.colours[state.info.classes.indexOf(d.label)];
  li.querySelector(".meta").textContent = `${d.score.toFixed(2)} · ${d.time.toFixed(1)} s`;
  $("detections").prepend(li);
}

function onMessage(event) {
  const msg = JSON.parse(event.data);
  if (msg.type === "posteriors") {
    msg.times.forEach((t, i) => state.history.push({ t, probs: msg.probs[i] }));
    state.streamTime = msg.times[msg.times.length - 1];
    while (state.history.length && state.history[0].t < state.streamTime - SPAN - 1) state.history.shift();
    showProbs(msg.probs[msg.probs.length - 1]);
  } else if (msg.type === "detection") {
    addDetection(msg);
  } else if (msg.type === "ready") {
    setStatus(`Listening: ${Math.round(state.audio.ctx.sampleRate / 100) / 10} kHz microphone, ` +
              `downsampled to ${msg.sr / 1000} kHz in this page. Say a word.`);
    state.audio.node.port.onmessage = (e) => {
      if (state.ws && state.ws.readyState === WebSocket.OPEN) state.ws.send(e.data);
    };
  } else if (msg.type === "error") {
    setStatus("Server: " + msg.error, true);
  }
}

async function start() {
  const button = $("start");
  button.disabled = true;
  setStatus("Asking for the microphone…");
  try {
    const mic = await navigator.mediaDevices.getUserMedia({
      audio: { channelCount: 1, echoCancellation: false, noiseSuppression: false, autoGainControl: false },
    });
    const ctx = new AudioContext();
    await ctx.audioWorklet.addModule("/static/capture-worklet.js" + authQuery);
    const source = ctx.createMediaStreamSource(mic);
    const sr = state.info.sr;
    const node = new AudioWorkletNode(ctx, "minikws-capture", {
      numberOfInputs: 1, numberOfOutputs: 0,
      processorOptions: { targetRate: sr, chunkSamples: Math.round(sr * CHUNK_SECONDS) },
    });
    source.connect(node);
    state.audio = { ctx, mic, node };
    state.history = [];
    state.streamTime = 0;
    const ws = new WebSocket(`${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/stream${authQuery}`);
    ws.binaryType = "arraybuffer";
    ws.onopen = () => ws.send(JSON.stringify({ sample_rate: sr }));
    ws.onmessage = onMessage;
    ws.onclose = (e) => {
      if (state.running) { stop(); setStatus(`The server closed the stream (${e.code} ${e.reason || ""}).`, true); }
    };
    state.ws = ws;
    state.running = true;
    button.classList.add("live");
    button.setAttribute("aria-pressed", "true");
    $("start-text").textContent = "Stop";
    setStatus("Connecting…");
  } catch (err) {
    setStatus("Could not start: " + (err && err.message ? err.message : err), true);
    stop();
  } finally {
    button.disabled = false;
  }
}

function stop() {
  state.running = false;
  if (state.audio) {
    state.audio.node.port.onmessage = null;
    state.audio.mic.getTracks().forEach((t) => t.stop());
    state.audio.ctx.close();
    state.audio = null;
  }
  if (state.ws) {
    if (state.ws.readyState === WebSocket.OPEN) state.ws.close(1000, "stopped");
    state.ws = null;
  }
  const button = $("start");
  button.classList.remove("live");
  button.setAttribute("aria-pressed", "false");
  $("start-text").textContent = "Start listening";
  setStatus("Stopped. Press start to listen again.");
}

// ------------------------------------------------------------------------------------------ the plot
function draw() {
  const canvas = $("plot");
  const dpr = window.devicePixelRatio || 1;
  const w = canvas.clientWidth, h = canvas.clientHeight;
  if (canvas.width !== Math.round(w * dpr) || canvas.height !== Math.round(h * dpr)) {
    canvas.width = Math.round(w * dpr);
    canvas.height = Math.round(h * dpr);
  }
  const g = canvas.getContext("2d");
  g.setTransform(dpr, 0, 0, dpr, 0, 0);
  g.clearRect(0, 0, w, h);
  const font = parseFloat(getComputedStyle(document.documentElement).fontSize);
  g.font = `${0.9 * font}px sans-serif`;
  const left = 3.6 * font, right = 0.8 * font, top = 0.6 * font, bottom = 2.4 * font;
  const pw = w - left - right, ph = h - top - bottom;
  const now = state.streamTime;
  const x = (t) => left + pw * (1 - (now - t) / SPAN);
  const y = (p) => top + ph * (1 - p);

  // Axes, grid and their labels.
  g.strokeStyle = "#e3e1da"; g.fillStyle = "#5b6270"; g.lineWidth = 1;
  g.textAlign = "right"; g.textBaseline = "middle";
  for (const p of [0, 0.25, 0.5, 0.75, 1]) {
    g.beginPath(); g.moveTo(left, y(p)); g.lineTo(left + pw, y(p)); g.stroke();
    g.fillText(p.toFixed(2), left - 0.4 * font, y(p));
  }
  g.textAlign = "center"; g.textBaseline = "top";
  for (let s = 0; s <= SPAN; s += 2) {
    const xs = left + pw * (1 - s / SPAN);
    g.beginPath(); g.moveTo(xs, top); g.lineTo(xs, top + ph); g.stroke();
    g.fillText(s === 0 ? "now" : `−${s} s`, xs, top + ph + 0.3 * font);
  }
  g.fillText("time (seconds ago)", left + pw / 2, top + ph + 1.2 * font);
  g.save(); g.translate(0.9 * font, top + ph / 2); g.rotate(-Math.PI / 2);
  g.textBaseline = "middle"; g.fillText("probability", 0, 0); g.restore();

  if (state.info) {
    // The threshold a keyword's smoothed probability must pass.
    g.setLineDash([6, 6]); g.strokeStyle = "#16181d"; g.lineWidth = 1.2;
    const th = state.info.listener.threshold;
    g.beginPath(); g.moveTo(left, y(th)); g.lineTo(left + pw, y(th)); g.stroke();
    g.setLineDash([]);
    g.textAlign = "left"; g.textBaseline = "bottom"; g.fillStyle = "#16181d";
    g.fillText("threshold", left + 0.3 * font, y(th) - 2);

    // Detections as vertical marks with their label.
    for (const d of state.detections) {
      if (d.time < now - SPAN || d.time > now + 0.5) continue;
      const k = state.info.classes.indexOf(d.label);
      g.strokeStyle = state.colours[k]; g.lineWidth = 2;
      g.beginPath(); g.moveTo(x(d.time), top); g.lineTo(x(d.time), top + ph); g.stroke();
      g.fillStyle = state.colours[k]; g.textAlign = "right"; g.textBaseline = "top";
      g.font = `bold ${1.0 * font}px sans-serif`;
      g.fillText(d.label, x(d.time) - 4, top + 2);
      g.font = `${0.9 * font}px sans-serif`;
    }

    // One line per label; keywords drawn last, on top of the background labels.
    g.save();
    g.beginPath(); g.rect(left, top, pw, ph); g.clip();
    const order = state.info.classes.map((l, k) => k).sort((a, b) =>
      isBackground(state.info.classes[b]) - isBackground(state.info.classes[a]));
    for (const k of order) {
      const bg = isBackground(state.info.classes[k]);
      g.strokeStyle = state.colours[k]; g.lineWidth = bg ? 2 : 3.5; g.lineJoin = "round";
      g.beginPath();
      state.history.forEach((row, i) => {
        const px = x(row.t), py = y(row.probs[k]);
        if (i === 0) g.moveTo(px, py); else g.lineTo(px, py);
      });
      g.stroke();
    }
    g.restore();
  }
  g.strokeStyle = "#9a978d"; g.lineWidth = 1;
  g.strokeRect(left, top, pw, ph);
  requestAnimationFrame(draw);
}

$("start").addEventListener("click", () => (state.running ? stop() : start()));
requestAnimationFrame(draw);
loadModel().then(() => {
  $("start").disabled = false;
  setStatus(window.isSecureContext ? "Press start and say one of the keywords."
    : "This page is not a secure context: open it as http://127.0.0.1:PORT/ or over https.", !window.isSecureContext);
}).catch((err) => setStatus("Could not load the model: " + err.message, true));
