"""minikws serve over loopback: answers equal to `minikws predict`, every refusal, the stream, metrics.

Each test starts the real server (uvicorn in a thread, on a free loopback port) around an app made by
create_app, and talks to it as clients do: httpx, a WebSocket client, and raw sockets where a client
must misbehave (send half a request, lie about its length).
"""
import concurrent.futures
import json
import os
import re
import socket
import subprocess
import sys
import time

import httpx
import numpy as np
import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from minikws.audio import save_wav
from minikws.cli import main
from minikws.serve import create_app, serving
from minikws.serve.listen import WindowListener

TOKEN = "correct horse battery staple"
SR = 16000


def wav_bytes(tmp_path, y, sr=SR, name="clip.wav"):
    path = tmp_path / name
    save_wav(os.fspath(path), y, sr)
    return path, path.read_bytes()


def padded(y, rng, before=1.5, after=2.0, sr=SR):
    """The word with quiet noise around it, as a stream of a second or two of room sound."""
    noise = lambda s: (0.003 * rng.standard_normal(int(s * sr))).astype(np.float32)  # noqa: E731
    return np.concatenate([noise(before), y, noise(after)])


def cli_predict(model_path, files, top):
    """`minikws predict --json` in a process of its own: the independent reference."""
    proc = subprocess.run([sys.executable, "-m", "minikws", "predict", "--model", os.fspath(model_path),
                           "--json", "--top", str(top), *map(os.fspath, files)],
                          capture_output=True, text=True, timeout=120, env=_env())
    assert proc.returncode == 0, proc.stderr
    return {d.pop("file"): d for d in map(json.loads, proc.stdout.splitlines())}


def _env():
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    return {**os.environ, "PYTHONPATH": root + os.pathsep + os.environ.get("PYTHONPATH", "")}


@pytest.fixture(scope="module")
def server(keyword_model):
    """One server with a token, small limits and short timeouts, for the whole module."""
    _, model, _ = keyword_model
    app = create_app(model, name="yes_stop", token=TOKEN, max_body=200_000, body_timeout=1.0,
                     idle_timeout=5.0)
    with serving(app, header_timeout=1.0) as url:
        yield url, app


def auth():
    return {"Authorization": f"Bearer {TOKEN}"}


def raw_request(url, data, *, read_timeout=5.0):
    """Send bytes on a fresh connection; return (the answer's bytes, seconds until it came)."""
    host, port = url.removeprefix("http://").rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=read_timeout) as s:
        t0 = time.perf_counter()
        s.sendall(data)
        return read_answer(s), time.perf_counter() - t0


def read_answer(s, answer=b""):
    """Read from socket ``s`` until a whole HTTP answer (headers and Content-Length bytes) or EOF.

    One ``recv`` is not enough: the headers and the body may arrive in separate segments.
    """
    while not _complete(answer):
        part = s.recv(65536)
        if not part:
            break
        answer += part
    return answer


def _complete(answer):
    head, _, body = answer.partition(b"\r\n\r\n")
    m = re.search(rb"content-length: (\d+)", head, re.I)
    return m is not None and len(body) >= int(m.group(1))


def status_of(answer):
    return int(answer.split(b" ", 2)[1])


def json_of(answer):
    return json.loads(answer.partition(b"\r\n\r\n")[2])


# ------------------------------------------------------------------------------------- /predict

def test_predict_equals_minikws_predict(server, keyword_model, tmp_path):
    url, _ = server
    model_path, _, clips = keyword_model
    rng = np.random.default_rng(0)
    files = [wav_bytes(tmp_path, clips["yes"][0], name="yes.wav")[0],
             wav_bytes(tmp_path, clips["stop"][1], name="stop.wav")[0],
             # another rate (resampled by the model) and a clip longer than a second
             wav_bytes(tmp_path, clips["yes"][2][::2].copy(), sr=8000, name="yes8k.wav")[0],
             wav_bytes(tmp_path, padded(clips["stop"][2], rng, 0.3, 0.4), name="long.wav")[0]]
    expected = cli_predict(model_path, files, top=3)
    with httpx.Client(base_url=url, headers=auth()) as client:
        for path in files:
            r = client.post("/predict?top=3", content=path.read_bytes(), headers={"Content-Type": "audio/wav"})
            assert r.status_code == 200, r.text
            got = r.json()
            assert got.pop("model") == "yes_stop"
            duration = got.pop("duration")
            assert got == expected[os.fspath(path)]
            assert duration == pytest.approx({"yes8k.wav": 1.0, "long.wav": 1.7}.get(path.name, 1.0), abs=1e-3)
        assert client.post("/predict", content=files[0].read_bytes(),
                           headers={"Content-Type": "audio/x-wav; charset=binary"}).json()["label"] == "yes"
        assert len(client.post("/predict", content=files[0].read_bytes(),
                               headers={"Content-Type": "audio/wav"}).json()["top"]) == 1


def test_400_requests_from_16_clients_all_answered_and_right(server, keyword_model, tmp_path):
    url, _ = server
    model_path, _, clips = keyword_model
    files = [wav_bytes(tmp_path, y, name=f"{label}{i}.wav")[0]
             for label in ("yes", "stop") for i, y in enumerate(clips[label][:4])]
    expected = cli_predict(model_path, files, top=2)
    bodies = [f.read_bytes() for f in files]

    def client_job(c):
        answers = []
        with httpx.Client(base_url=url, headers=auth(), timeout=60) as client:
            for i in range(25):
                k = (7 * c + i) % len(files)
                r = client.post("/predict?top=2", content=bodies[k], headers={"Content-Type": "audio/wav"})
                answers.append((k, r.status_code, r.json()))
        return answers

    with concurrent.futures.ThreadPoolExecutor(16) as pool:
        answers = [a for job in pool.map(client_job, range(16)) for a in job]
    assert len(answers) == 400
    assert all(status == 200 for _, status, _ in answers)
    for k, _, got in answers:
        got.pop("model"), got.pop("duration")
        assert got == expected[os.fspath(files[k])]


def test_broken_wav_is_400_naming_the_problem(server):
    url, _ = server
    with httpx.Client(base_url=url, headers=auth()) as client:
        for body, words in ((b"this is not audio", "not a WAV file"), (b"", "empty file"),
                            (b"RIFF\x24\x00\x00\x00WAVEfmt ", "truncated")):
            r = client.post("/predict", content=body, headers={"Content-Type": "audio/wav"})
            assert r.status_code == 400 and r.headers["content-type"] == "application/json"
            assert r.json()["status"] == 400 and r.json()["error"].startswith("request body: ")
            assert words in r.json()["error"]
        r = client.post("/predict?top=0", content=b"x", headers={"Content-Type": "audio/wav"})
        assert r.status_code == 400 and "top" in r.json()["error"]


def test_wrong_content_type_is_415_and_wrong_method_405(server):
    url, _ = server
    with httpx.Client(base_url=url, headers=auth()) as client:
        for ctype in ("text/plain", "application/octet-stream", None):
            headers = {"Content-Type": ctype} if ctype else {}
            r = client.post("/predict", content=b"RIFF....", headers=headers)
            assert r.status_code == 415 and "audio/wav" in r.json()["error"]
        for method, path, allow in (("GET", "/predict", "POST"), ("PUT", "/predict", "POST"),
                                    ("POST", "/health", "GET"), ("DELETE", "/metrics", "GET")):
            r = client.request(method, path)
            assert r.status_code == 405, (method, path)
            assert r.json() == {"error": f"{method} is not allowed on {path}; use {r.headers['allow']}",
                                "status": 405}
            assert allow in r.headers["allow"]
        r = client.get("/no/such/route")
        assert r.status_code == 404 and "/predict" in r.json()["error"]


def test_oversized_bodies_are_refused_before_they_are_read(server):
    url, _ = server
    # A Content-Length over the limit: answered at once, though not one byte of the body was sent.
    answer, seconds = raw_request(url, b"POST /predict HTTP/1.1\r\nHost: x\r\nContent-Type: audio/wav\r\n"
                                       b"Authorization: Bearer " + TOKEN.encode() + b"\r\n"
                                       b"Content-Length: 50000000\r\n\r\n")
    assert status_of(answer) == 413 and "over the limit of 200000" in json_of(answer)["error"]
    assert seconds < 1.0  # before the 1 s body timeout: it did not wait for the body
    # No length given (chunked): refused as soon as the count passes the limit, not at the end.
    host, port = url.removeprefix("http://").rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=5) as s:
        s.sendall(b"POST /predict HTTP/1.1\r\nHost: x\r\nContent-Type: audio/wav\r\nTransfer-Encoding: chunked\r\n"
                  b"Authorization: Bearer " + TOKEN.encode() + b"\r\n\r\n")
        chunk = b"%x\r\n" % 65536 + bytes(65536) + b"\r\n"
        sent, answer = 0, b""
        s.settimeout(0.05)
        for _ in range(400):  # up to 26 MB, far past the limit
            try:
                s.sendall(chunk)
                sent += 65536
            except OSError:  # the server has answered and closed
                break
            try:
                answer += s.recv(65536)
            except socket.timeout:
                continue
            if answer:
                break
        s.settimeout(5)
        answer = read_answer(s, answer)
    assert status_of(answer) == 413
    assert sent < 2_000_000  # the server stopped reading soon after 200 kB


def test_token_is_required_everywhere_but_health(server):
    url, _ = server
    with httpx.Client(base_url=url) as client:
        assert client.get("/health").json() == {"status": "ok", "model": "yes_stop"}
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": TOKEN},
                        {"Authorization": f"Basic {TOKEN}"}):
            for method, path in (("GET", "/"), ("GET", "/metrics"), ("GET", "/model"), ("POST", "/predict"),
                                 ("GET", "/static/app.js"), ("GET", "/nowhere")):
                r = client.request(method, path, headers=headers)
                assert r.status_code == 401, (headers, path)
                assert r.headers["www-authenticate"].startswith("Bearer")
                assert r.json()["status"] == 401
        assert client.get("/model", headers={"Authorization": f"bearer {TOKEN}"}).status_code == 200
        assert client.get("/model", params={"access_token": TOKEN}).json()["classes"][:2] == ["yes", "stop"]
        page = client.get("/", params={"access_token": TOKEN})
        assert page.status_code == 200 and "access_token=correct%20horse" in page.text
        assert "default-src 'self'" in page.headers["content-security-policy"]
    ws_url = url.replace("http://", "ws://") + "/stream"
    for bad in ("", "?access_token=wrong"):
        with pytest.raises(InvalidStatus) as info:
            connect(ws_url + bad, open_timeout=5).close()
        assert info.value.response.status_code == 401


def test_a_stalled_half_sent_request_does_not_block_others(server, keyword_model, tmp_path):
    url, _ = server
    _, _, clips = keyword_model
    body = wav_bytes(tmp_path, clips["yes"][0])[1]
    host, port = url.removeprefix("http://").rsplit(":", 1)
    head = (b"POST /predict HTTP/1.1\r\nHost: x\r\nContent-Type: audio/wav\r\nAuthorization: Bearer "
            + TOKEN.encode() + b"\r\nContent-Length: %d\r\n\r\n" % len(body))
    half_body = socket.create_connection((host, int(port)), timeout=10)
    half_head = socket.create_connection((host, int(port)), timeout=10)
    try:
        t0 = time.perf_counter()
        half_body.sendall(head + body[:1000])     # headers, then a sixth of the body, then nothing
        half_head.sendall(head[:40])               # not even the headers
        with httpx.Client(base_url=url, headers=auth()) as client:
            for _ in range(10):
                r = client.post("/predict", content=body, headers={"Content-Type": "audio/wav"})
                assert r.status_code == 200 and r.json()["label"] == "yes"
        served = time.perf_counter() - t0
        answer = read_answer(half_body)
        assert status_of(answer) == 408 and "did not arrive within 1 s" in json_of(answer)["error"]
        assert half_head.recv(65536) == b""        # closed by the header timeout, without an answer
        waited = time.perf_counter() - t0
    finally:
        half_body.close()
        half_head.close()
    assert served < waited and waited < 5.0
    with httpx.Client(base_url=url) as client:
        assert client.get("/health").status_code == 200


# -------------------------------------------------------------------------------------- /stream

def stream_messages(url, pcm, *, rate=SR, chunk=1600, token=TOKEN):
    """Send the rate and the samples in chunks, then flush; return every message the server sent."""
    ws_url = url.replace("http://", "ws://") + "/stream?access_token=" + token.replace(" ", "%20")
    messages = []
    with connect(ws_url, open_timeout=5) as ws:
        ws.send(json.dumps({"sample_rate": rate}))
        messages.append(json.loads(ws.recv(timeout=10)))
        for i in range(0, len(pcm), chunk):
            ws.send(pcm[i:i + chunk].tobytes())
        ws.send(json.dumps({"type": "flush"}))
        while messages[-1]["type"] != "flushed":
            messages.append(json.loads(ws.recv(timeout=10)))
    return messages


def to_pcm(y):
    return np.clip(np.round(y * 32768), -32768, 32767).astype("<i2")


def test_stream_detects_the_word_and_sends_the_clip_models_posteriors(server, keyword_model):
    url, _ = server
    _, model, clips = keyword_model
    rng = np.random.default_rng(1)
    pcm = to_pcm(padded(clips["yes"][0], rng))
    messages = stream_messages(url, pcm, chunk=1234)
    ready = messages[0]
    assert ready["type"] == "ready" and ready["classes"] == list(model.classes) and ready["sr"] == SR
    detections = [m for m in messages if m["type"] == "detection"]
    assert [d["label"] for d in detections] == ["yes"]
    d = detections[0]
    assert 1.5 < d["time"] < 3.5 and d["start"] == pytest.approx(d["time"] - 1.0) and d["score"] >= 0.6
    times = [t for m in messages if m["type"] == "posteriors" for t in m["times"]]
    probs = np.array([p for m in messages if m["type"] == "posteriors" for p in m["probs"]])
    assert times[:3] == [0.1, 0.2, 0.3] and len(times) == -(-len(pcm) // 1600)  # the hops (and the flush's)
    # The posteriors at a hop are the clip model's on the second of samples before it.
    y = pcm.astype(np.float32) / 32768
    for j in (4, 9, 20, len(times) - 2):
        end = int(round(times[j] * SR))
        window = y[max(0, end - SR):end]
        np.testing.assert_allclose(probs[j], model.predict_proba([window])[0], atol=6e-5)


def test_stream_refuses_a_bad_rate_and_odd_chunks(server):
    url, _ = server
    ws_url = url.replace("http://", "ws://") + "/stream?access_token=" + TOKEN.replace(" ", "%20")
    for first, words in (("hello", "first send the sample rate"), (json.dumps({"sample_rate": 16000.5}), "integer"),
                         ("2000", "too low")):
        with connect(ws_url, open_timeout=5) as ws:
            ws.send(first)
            msg = json.loads(ws.recv(timeout=10))
            assert msg["type"] == "error" and words in msg["error"]
            with pytest.raises(Exception):
                ws.recv(timeout=10)
            assert ws.close_code == 1003
    with connect(ws_url, open_timeout=5) as ws:
        ws.send("8000")
        assert json.loads(ws.recv(timeout=10))["sr"] == 8000   # resampled by the model, as predict does
        ws.send(b"\x00\x01\x02")
        msg = json.loads(ws.recv(timeout=10))
        assert msg["type"] == "error" and "16-bit" in msg["error"]


def test_metrics_count_what_was_served(keyword_model, tmp_path):
    _, model, clips = keyword_model
    body = wav_bytes(tmp_path, clips["stop"][0])[1]
    app = create_app(model, name="counted")
    with serving(app) as url, httpx.Client(base_url=url) as client:
        for _ in range(3):
            assert client.post("/predict", content=body, headers={"Content-Type": "audio/wav"}).status_code == 200
        assert client.post("/predict", content=b"junk", headers={"Content-Type": "audio/wav"}).status_code == 400
        assert client.get("/predict").status_code == 405
        assert client.get("/x1").status_code == 404 and client.get("/x2").status_code == 404
        ws_url = url.replace("http://", "ws://") + "/stream"
        with connect(ws_url, open_timeout=5) as ws:
            ws.send("16000")
            ws.recv(timeout=10)
            open_now = client.get("/metrics").text
            ws.send(np.zeros(8000, "<i2").tobytes())
            ws.recv(timeout=10)
        time.sleep(0.2)
        text = client.get("/metrics").text
    assert "minikws_streams_open 1\n" in open_now
    assert "minikws_streams_open 0\n" in text
    assert 'minikws_model_info{model="counted",sr="16000",classes="yes,stop,_unknown_,_silence_"} 1' in text
    assert 'minikws_requests_total{route="/predict",method="POST",status="200"} 3\n' in text
    assert 'minikws_requests_total{route="/predict",method="POST",status="400"} 1\n' in text
    assert 'minikws_requests_total{route="/predict",method="GET",status="405"} 1\n' in text
    assert 'minikws_requests_total{route="other",method="GET",status="404"} 2\n' in text
    assert 'minikws_requests_total{route="/stream",method="WEBSOCKET",status="101"} 1\n' in text
    assert 'minikws_request_duration_seconds_count{route="/predict"} 5\n' in text
    assert 'minikws_request_duration_seconds_bucket{route="/predict",le="+Inf"} 5\n' in text
    assert "minikws_stream_audio_seconds_total 0.5\n" in text
    buckets = [int(n) for n in re.findall(r'_bucket\{route="/predict",le="[^"]+"\} (\d+)', text)]
    assert buckets == sorted(buckets) and buckets[-1] == 5  # cumulative


# ------------------------------------------------------------------------------------ listener

class ConstantModel:
    """A stand-in clip model whose posteriors are fixed: what the detector does with them is known."""

    classes = ("yes", "no", "_silence_")
    sr = SR

    def __init__(self, probs):
        self.probs = np.asarray(probs, np.float32)
        self.calls = []

    def featurize(self, waveforms, *, sr=None):
        return [np.zeros((1, 1), np.float32) for _ in waveforms]

    def predict_proba(self, waveforms, *, sr=None):
        self.calls.append([w.size for w in waveforms])
        return np.tile(self.probs, (len(waveforms), 1))


def test_window_listener_fires_once_per_refractory_time_and_never_on_background():
    listener = WindowListener(ConstantModel([0.9, 0.05, 0.05]), sr=SR, refractory=1.0)
    update = listener.push(np.zeros(5 * SR, np.float32))
    assert len(update.times) == 50 and update.times[0] == pytest.approx(0.1)
    # Nothing before the first full window (1 s), then one detection per refractory second.
    assert [round(d["time"], 3) for d in update.detections] == [1.0, 2.0, 3.0, 4.0, 5.0]
    assert all(d["label"] == "yes" and d["score"] == pytest.approx(0.9) for d in update.detections)
    quiet = WindowListener(ConstantModel([0.01, 0.01, 0.98]), sr=SR)
    assert quiet.push(np.zeros(3 * SR, np.float32)).detections == []


def test_window_listener_gives_the_same_answers_for_any_chunking(keyword_model):
    _, model, clips = keyword_model
    rng = np.random.default_rng(2)
    # clip 0 at this padding: the fixture's small model hears it right. At some window offsets it hears
    # a window holding only a "stop"'s "s" as "yes" first (test_serve_browser says more): the model's
    # error, not the chunking's, which is what this test checks
    y = padded(clips["stop"][0], rng, 1.2, 1.3)
    whole = WindowListener(model, sr=SR)
    ref = whole.push(y)
    ref_flush = whole.flush()
    for sizes in (1597, 160, 1600, "random"):
        listener = WindowListener(model, sr=SR)
        if sizes == "random":
            cuts = np.sort(rng.choice(np.arange(1, y.size), 40, replace=False))
        else:
            cuts = np.arange(sizes, y.size, sizes)
        updates = [listener.push(part) for part in np.split(y, cuts)] + [listener.flush()]
        times = np.concatenate([u.times for u in updates])
        probs = np.concatenate([u.posteriors for u in updates])
        np.testing.assert_array_equal(times, np.concatenate([ref.times, ref_flush.times]))
        np.testing.assert_array_equal(probs, np.concatenate([ref.posteriors, ref_flush.posteriors]))
        assert [d for u in updates for d in u.detections] == ref.detections + ref_flush.detections
    assert [d["label"] for d in ref.detections] == ["stop"]
    assert listener.flush().times.size == 0  # nothing new since the last flush


# ------------------------------------------------------------------------------ the command line

def test_serve_without_the_extra_says_how_to_get_it(monkeypatch, capsys, keyword_model):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "uvicorn" else real(name, *a))
    assert main(["serve", "--model", os.fspath(keyword_model[0])]) == 2
    err = capsys.readouterr().err
    assert err == 'minikws serve: error: minikws serve needs the serve extra: pip install "minikws[serve]"\n'


@pytest.mark.parametrize("argv, words", [
    (["--port", "70000"], "--port"), (["--max-body", "0"], "--max-body"), (["--workers", "0"], "--workers"),
    (["--threshold", "1.5"], "--threshold"), (["--token", " "], "--token")])
def test_serve_refuses_bad_options_in_one_line(argv, words, capsys, keyword_model):
    assert main(["serve", "--model", os.fspath(keyword_model[0]), *argv]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and words in err and "Traceback" not in err


def test_serve_refuses_a_missing_model_in_one_line(capsys, tmp_path):
    assert main(["serve", "--model", os.fspath(tmp_path / "none.npz")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "none.npz" in err


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_healthy(url, proc, seconds=60):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.stderr.read()
        try:
            return httpx.get(url + "/health", timeout=1).json()
        except httpx.HTTPError:
            time.sleep(0.2)
    raise AssertionError("the server did not come up")


@pytest.mark.parametrize("workers", [1, 2])
def test_a_real_server_process_logs_one_line_per_request_and_writes_nothing(workers, keyword_model, tmp_path):
    model_path, _, clips = keyword_model
    _, body = wav_bytes(tmp_path, clips["yes"][1])
    cwd, tmp = tmp_path / "cwd", tmp_path / "tmp"
    cwd.mkdir()
    tmp.mkdir()
    port = _free_port()
    proc = subprocess.Popen([sys.executable, "-m", "minikws", "serve", "--model", os.fspath(model_path),
                             "--port", str(port), "--workers", str(workers)], cwd=cwd,
                            env={**_env(), "TMPDIR": os.fspath(tmp)}, stderr=subprocess.PIPE, text=True)
    url = f"http://127.0.0.1:{port}"
    try:
        assert _wait_healthy(url, proc) == {"status": "ok", "model": "yes_stop"}
        with httpx.Client(base_url=url) as client:
            for _ in range(4):
                r = client.post("/predict", content=body, headers={"Content-Type": "audio/wav"})
                assert r.status_code == 200 and r.json()["label"] == "yes"
            assert client.get("/").status_code == 200
        messages = stream_messages(url, to_pcm(clips["yes"][1]), token="")
        assert messages[-1]["type"] == "flushed"
    finally:
        proc.send_signal(2)  # SIGINT, as Ctrl-C
        _, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    lines = err.splitlines()
    assert sum('"POST /predict" 200' in line for line in lines) == 4
    assert sum('"GET /" 200' in line for line in lines) == 1
    assert sum('"WEBSOCKET /stream" 101' in line for line in lines) == 1
    assert "Traceback" not in err
    assert list(cwd.iterdir()) == [] and list(tmp.iterdir()) == []


class SlowModel(ConstantModel):
    """Takes a second per clip, in a way that blocks its thread (as NumPy's arithmetic does)."""

    def predict_proba(self, waveforms, *, sr=None):
        time.sleep(1.0)
        return super().predict_proba(waveforms, sr=sr)


def test_inference_runs_off_the_event_loop(tmp_path):
    _, body = wav_bytes(tmp_path, np.zeros(SR, np.float32))
    app = create_app(SlowModel([0.2, 0.3, 0.5]), name="slow")
    finished = {}
    with serving(app) as url:
        def slow_request():
            r = httpx.post(url + "/predict", content=body, headers={"Content-Type": "audio/wav"}, timeout=30)
            finished["predict"] = time.perf_counter()
            return r

        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            future = pool.submit(slow_request)
            time.sleep(0.3)  # the request is in the model by now
            assert httpx.get(url + "/health", timeout=30).status_code == 200
            finished["health"] = time.perf_counter()
            r = future.result()
    assert r.status_code == 200 and r.json()["label"] == "_silence_"
    assert finished["health"] < finished["predict"]  # answered while the model was still busy


def test_a_stream_model_is_served_by_its_own_detector():
    """listener_for gives a stream model its Detector (carried LSTM state), with the listener interface:
    its detections equal minikws.detection.detect on the same audio, whatever the chunking."""
    from minikws.datasets import synthesize_streams
    from minikws.detection import detect
    from minikws.serve.listen import StreamListener, listener_for
    from minikws.train_stream import StreamTrainConfig, train_stream_model

    streams = synthesize_streams(streams=(6, 1, 1), seconds=6.0, seed=0)
    model, _ = train_stream_model(streams, config=StreamTrainConfig(epochs=2, seed=0), hidden_size=16)
    y = streams.split("test").audio[0]
    listener = listener_for(model, sr=model.sr, threshold=0.3)
    assert isinstance(listener, StreamListener) and listener.classes == tuple(model.classes)
    got, rows = [], 0
    for start in range(0, len(y), 1234):
        u = listener.push(y[start:start + 1234])
        got += u.detections
        rows += len(u.times)
        assert u.posteriors.shape == (len(u.times), model.num_classes)
    u = listener.flush()
    got += u.detections
    want = [d.as_dict() for d in detect(model, y, threshold=0.3)]
    assert [(d["label"], round(d["time"], 6)) for d in got] == [(d["label"], round(d["time"], 6)) for d in want]
    assert rows > 0
    from minikws.errors import MinikwsError

    with pytest.raises(MinikwsError, match="send audio at"):
        listener_for(model, sr=8000)
