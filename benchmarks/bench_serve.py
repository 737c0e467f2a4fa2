"""Load on `minikws serve`: /predict throughput and latency, and how many live streams keep up.

    python benchmarks/bench_serve.py [--model M.npz] [--workers N]

The server runs as `python -m minikws serve` in a process of its own on a free loopback port (only
127.0.0.1 is ever used); the clients run here, in one asyncio loop (httpx for /predict, websockets for
/stream), so that client and server do not share a GIL. The machine has two cores for both.

Without --model the script builds the default-sized clip model (KWSModel: 16 kHz, 12 classes, MFCC
K = 13, two LSTM layers of H = 64; untrained, fixed seed: the arithmetic per request is a trained
model's) and writes it to a temporary folder.

1. /predict at 1, 8 and 32 concurrent clients (each client sends its requests one after another on
   its own keep-alive connection; one-second 16 kHz WAV files of 32 kB; 60, 240 and 480 requests):
   requests per second over the wall time, p50 and p95 latency as the clients see it.
2. Check: 400 requests from 16 concurrent clients are all answered 200 and each answer equals what
   `minikws predict --json` (run in another process) prints for the same file.
3. Live streams: N clients each stream 16 kHz PCM paced at real time, 0.1 s per message, for 6 s;
   the server answers every message with the posteriors of the hop it completes. A stream keeps up
   when the p95 delay from sending a chunk to receiving its posteriors is under 0.25 s and no
   answer is missing. N doubles from 1 while every stream keeps up, up to 64; the figure printed is
   the largest N that did.
"""
import argparse
import asyncio
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SR = 16000


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def make_model(folder):
    from minikws.io import save_model
    from minikws.models import KWSModel

    classes = ["yes", "no", "up", "down", "left", "right", "on", "off", "stop", "go", "_unknown_", "_silence_"]
    path = os.path.join(folder, "bench.npz")
    save_model(KWSModel(classes=classes, sr=SR, seed=0), path)
    return path


def make_clips(folder, n=8, seed=0):
    """n one-second 16-bit WAV files of tones in noise; returns their paths."""
    from minikws.audio import save_wav

    rng = np.random.default_rng(seed)
    t = np.arange(SR) / SR
    paths = []
    for i in range(n):
        y = 0.3 * np.sin(2 * np.pi * rng.uniform(200, 2000) * t) * np.hanning(SR) + 0.01 * rng.standard_normal(SR)
        paths.append(os.path.join(folder, f"clip{i}.wav"))
        save_wav(paths[-1], y.astype(np.float32), SR)
    return paths


def percentile(xs, q):
    return float(np.percentile(np.asarray(xs), q))


async def predict_load(url, bodies, *, clients, requests):
    """`clients` concurrent clients sharing `requests` requests -> (seconds, latencies, answers)."""
    import httpx

    per_client = [requests // clients + (c < requests % clients) for c in range(clients)]
    latencies, answers = [], []

    async def client(c):
        async with httpx.AsyncClient(base_url=url, timeout=120) as http:
            for i in range(per_client[c]):
                k = (7 * c + i) % len(bodies)
                t0 = time.perf_counter()
                r = await http.post("/predict?top=3", content=bodies[k], headers={"Content-Type": "audio/wav"})
                latencies.append(time.perf_counter() - t0)
                answers.append((k, r.status_code, r.json()))

    t0 = time.perf_counter()
    await asyncio.gather(*(client(c) for c in range(clients)))
    return time.perf_counter() - t0, latencies, answers


async def streams_keep_up(url, n, *, seconds=6.0, chunk=1600, seed=0):
    """n real-time streams at once -> (p95 delay of all answers, answers missing, worst stream's p95)."""
    from websockets.asyncio.client import connect

    rng = np.random.default_rng(seed)
    chunks = int(seconds * SR / chunk)

    async def one(s):
        pcm = (0.05 * rng.standard_normal(chunks * chunk) * 32768).astype("<i2")
        sent, delays = {}, []
        async with connect(url.replace("http://", "ws://") + "/stream", max_size=1 << 22) as ws:
            await ws.send(json.dumps({"sample_rate": SR}))
            json.loads(await ws.recv())

            async def receive():
                hop = 0
                while hop < chunks:
                    msg = json.loads(await asyncio.wait_for(ws.recv(), 10))
                    if msg["type"] == "posteriors":
                        for _ in msg["times"]:
                            delays.append(time.perf_counter() - sent[hop])
                            hop += 1

            receiver = asyncio.create_task(receive())
            start = time.perf_counter() + 0.05 * s / max(n, 1)  # streams do not all start in step
            for i in range(chunks):
                await asyncio.sleep(max(0.0, start + (i + 1) * chunk / SR - time.perf_counter()))
                sent[i] = time.perf_counter()
                await ws.send(pcm[i * chunk:(i + 1) * chunk].tobytes())
            try:
                await asyncio.wait_for(receiver, 15)
            except Exception:  # a stream that broke or stalled: its answers count as missing
                receiver.cancel()
        return delays, chunks - len(delays)

    results = await asyncio.gather(*(one(s) for s in range(n)))
    delays = [d for ds, _ in results for d in ds]
    missing = sum(m for _, m in results)
    worst = max(percentile(ds, 95) if ds else float("inf") for ds, _ in results)
    return percentile(delays, 95) if delays else float("inf"), missing, worst


def cli_reference(model, files):
    proc = subprocess.run([sys.executable, "-m", "minikws", "predict", "--model", model, "--json", "--top", "3",
                           *files], capture_output=True, text=True, timeout=300, env=_env())
    if proc.returncode != 0:
        raise SystemExit(f"minikws predict failed: {proc.stderr}")
    return [json.loads(line) for line in proc.stdout.splitlines()]


def _env():
    return {**os.environ, "PYTHONPATH": ROOT + os.pathsep + os.environ.get("PYTHONPATH", "")}


def wait_healthy(url, proc, log):
    import httpx

    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit("the server exited: " + open(log.name).read())
        try:
            httpx.get(url + "/health", timeout=1).raise_for_status()
            return
        except httpx.HTTPError:
            time.sleep(0.2)
    raise SystemExit("the server did not come up")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", help="a model file (default: the default-sized model, untrained)")
    parser.add_argument("--workers", type=int, default=1, help="server processes (default: 1)")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        model = args.model or make_model(tmp)
        files = make_clips(tmp)
        bodies = [open(f, "rb").read() for f in files]
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        # The server's log (a line per request) goes to a file: a pipe nobody reads would fill and block it.
        log = open(os.path.join(tmp, "server.log"), "w")
        proc = subprocess.Popen([sys.executable, "-m", "minikws", "serve", "--model", model, "--port", str(port),
                                 "--workers", str(args.workers)], env=_env(), stderr=log,
                                stdout=subprocess.DEVNULL, text=True)
        try:
            wait_healthy(url, proc, log)
            load = os.getloadavg()[0]
            print(f"# {time.strftime('%Y-%m-%d %H:%M')}  {platform.machine()}, {os.cpu_count()} cores, "
                  f"load average {load:.2f} at start; server: 1 process x {args.workers} worker(s), "
                  f"model {os.path.basename(model)}")
            asyncio.run(predict_load(url, bodies, clients=4, requests=40))  # warm-up
            print("\n| clients | requests | requests/s | p50 ms | p95 ms | all 200 |")
            print("|---|---|---|---|---|---|")
            for clients, n in ((1, 60), (8, 240), (32, 480)):
                seconds, lat, answers = asyncio.run(predict_load(url, bodies, clients=clients, requests=n))
                ok = all(status == 200 for _, status, _ in answers)
                print(f"| {clients} | {n} | {n / seconds:.1f} | {1000 * percentile(lat, 50):.1f} | "
                      f"{1000 * percentile(lat, 95):.1f} | {'yes' if ok else 'NO'} |", flush=True)

            expected = cli_reference(model, files)
            _, _, answers = asyncio.run(predict_load(url, bodies, clients=16, requests=400))
            keys = ("label", "probability", "top")
            wrong = sum(status != 200 or any(got.get(key) != expected[k][key] for key in keys)
                        for k, status, got in answers)
            print(f"\ncheck: {len(answers)} requests from 16 clients, {sum(s == 200 for _, s, _ in answers)} "
                  f"answered 200, {len(answers) - wrong} equal to `minikws predict --json` "
                  f"({'PASS' if wrong == 0 and len(answers) == 400 else 'FAIL'})")

            print("\n| live streams | p95 delay ms | worst stream's p95 ms | answers missing | keeps up |")
            print("|---|---|---|---|---|")
            best, n = 0, 1
            while n <= 64:
                p95, missing, worst = asyncio.run(streams_keep_up(url, n))
                keeps = p95 < 0.25 and worst < 0.25 and missing == 0
                print(f"| {n} | {1000 * p95:.0f} | {1000 * worst:.0f} | {missing} | {'yes' if keeps else 'no'} |",
                      flush=True)
                if not keeps:
                    break
                best, n = n, 2 * n
            if best and best * 2 <= 64 and n > best:  # between the last that kept up and the first that did not
                lo, hi = best, n
                while hi - lo > max(1, lo // 4):
                    mid = (lo + hi) // 2
                    p95, missing, worst = asyncio.run(streams_keep_up(url, mid))
                    keeps = p95 < 0.25 and worst < 0.25 and missing == 0
                    print(f"| {mid} | {1000 * p95:.0f} | {1000 * worst:.0f} | {missing} | "
                          f"{'yes' if keeps else 'no'} |", flush=True)
                    lo, hi = (mid, hi) if keeps else (lo, mid)
                best = lo
            print(f"\none server kept up with {best} live stream(s) in real time "
                  f"(load average {os.getloadavg()[0]:.2f} at the end)")
        finally:
            proc.send_signal(2)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
            log.close()


if __name__ == "__main__":
    main()
