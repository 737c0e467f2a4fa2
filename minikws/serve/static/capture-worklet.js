// The microphone, downsampled in the browser to the model's rate and cut into 16-bit PCM chunks.
//
// An AudioWorklet runs on the audio thread and gets 128 samples at a time at the audio context's rate
// (usually 44.1 or 48 kHz). Dropping samples to reach 16 kHz would fold everything above 8 kHz back
// into the band the model listens to (aliasing), so each output sample is computed by band-limited
// interpolation: a low-pass windowed-sinc filter evaluated at the output sample's exact position in
// the input,
//
//     y(t) = sum_k x[k] * 2 fc * sinc(2 fc (t - k)) * w((t - k) / W),
//
// fc the cut-off in cycles per input sample (90 % of the lower Nyquist frequency), w a Blackman window
// of half-width W input samples. The filter's gain at 0 Hz is 1, so a quiet room stays quiet.

const HALF_TAPS = 16;  // zero crossings of the sinc on each side, at the output rate

function blackman(u) {  // u in [-1, 1]
  return 0.42 + 0.5 * Math.cos(Math.PI * u) + 0.08 * Math.cos(2 * Math.PI * u);
}

class Resampler {
  constructor(inRate, outRate) {
    this.step = inRate / outRate;                   // input samples per output sample
    this.fc = 0.45 * Math.min(1, outRate / inRate);  // cut-off, cycles per input sample
    this.half = Math.ceil(HALF_TAPS * Math.max(1, this.step));
    this.buffer = new Float32Array(0);  // input samples the filter still needs
    this.first = 0;                     // index in the stream of buffer[0]
    this.t = 0;                         // position in the stream of the next output sample
  }

  // Append input samples; return the output samples that are now computable.
  push(input) {
    const merged = new Float32Array(this.buffer.length + input.length);
    merged.set(this.buffer);
    merged.set(input, this.buffer.length);
    const end = this.first + merged.length;  // stream index one past the last input sample
    const out = [];
    while (this.t + this.half < end) {
      const centre = Math.floor(this.t);
      let acc = 0;
      for (let k = centre - this.half + 1; k <= centre + this.half; k++) {
        if (k < this.first) continue;  // before the stream began: silence
        const d = this.t - k;
        const arg = 2 * this.fc * d;
        const sinc = arg === 0 ? 1 : Math.sin(Math.PI * arg) / (Math.PI * arg);
        acc += merged[k - this.first] * 2 * this.fc * sinc * blackman(d / this.half);
      }
      out.push(acc);
      this.t += this.step;
    }
    const keepFrom = Math.max(this.first, Math.floor(this.t) - this.half);
    this.buffer = merged.slice(keepFrom - this.first);
    this.first = keepFrom;
    return out;
  }
}

class CaptureProcessor extends AudioWorkletProcessor {
  constructor(options) {
    super();
    const { targetRate, chunkSamples } = options.processorOptions;
    this.resampler = new Resampler(sampleRate, targetRate);  // sampleRate: the context's, a global here
    this.chunkSamples = chunkSamples;
    this.chunk = new Int16Array(chunkSamples);
    this.filled = 0;
  }

  process(inputs) {
    const channels = inputs[0];
    if (channels && channels.length) {
      // Mono: the mean of the channels, as minikws.audio.load_wav mixes a stereo file down.
      const mono = new Float32Array(channels[0].length);
      for (const ch of channels) for (let i = 0; i < mono.length; i++) mono[i] += ch[i] / channels.length;
      for (const y of this.resampler.push(mono)) {
        const s = Math.max(-1, Math.min(1, y));
        this.chunk[this.filled++] = Math.max(-32768, Math.min(32767, Math.round(s * 32768)));
        if (this.filled === this.chunkSamples) {
          // Transferred, not copied: the buffer (and this.chunk's length) is gone from here after.
          this.port.postMessage(this.chunk.buffer, [this.chunk.buffer]);
          this.chunk = new Int16Array(this.chunkSamples);
          this.filled = 0;
        }
      }
    }
    return true;  // keep running while the microphone is connected
  }
}

registerProcessor("minikws-capture", CaptureProcessor);
