"""What the service has done, in Prometheus' text exposition format (``GET /metrics``).

Four families, enough for a dashboard and an alert, kept in plain Python (a counter is a dict entry):

- ``minikws_requests_total{route, method, status}``: requests answered, by route and status code;
- ``minikws_request_duration_seconds{route}``: a histogram of the time to answer them;
- ``minikws_streams_open``: live ``/stream`` connections now; ``minikws_stream_audio_seconds_total``
  and ``minikws_detections_total{label}`` what they heard;
- ``minikws_model_info{model, sr, classes}``: always 1, its labels name the model being served.

Routes are the application's route patterns (``/predict``), never the raw path a client sent, so a
scanner trying a thousand URLs adds one series (``route="other"``), not a thousand. The format is
https://prometheus.io/docs/instrumenting/exposition_formats/ (version 0.0.4).
"""
import bisect
import threading

__all__ = ["Metrics", "BUCKETS", "CONTENT_TYPE"]

# Upper bounds of the latency histogram, seconds: a short clip is answered in milliseconds, a
# ten-megabyte upload on a busy machine in seconds.
BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def _label_value(value):
    """A label value escaped as the text format wants: backslash, double quote and newline."""
    return str(value).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _labels(**labels):
    return "{" + ",".join(f'{k}="{_label_value(v)}"' for k, v in labels.items()) + "}"


class Metrics:
    """Counters, a histogram and gauges of one server process; safe to update from several threads.

    Parameters
    ----------
    model : str
        The model's name, as ``minikws_model_info`` reports it.
    sr : int
        The model's sample rate.
    classes : sequence of str
        Its labels.
    """

    def __init__(self, *, model, sr, classes):
        self._lock = threading.Lock()
        self.model, self.sr, self.classes = model, int(sr), tuple(classes)
        self.requests = {}    # (route, method, status) -> count
        self.latency = {}     # route -> [count per bucket (len(BUCKETS) + 1), sum]
        self.streams_open = 0
        self.stream_seconds = 0.0
        self.detections = {}  # label -> count

    def observe(self, *, route, method, status, seconds):
        """Count one answered request and its latency (``seconds=None``: a WebSocket, not timed)."""
        with self._lock:
            key = (route, method, int(status))
            self.requests[key] = self.requests.get(key, 0) + 1
            if seconds is None:
                return
            counts = self.latency.setdefault(route, [[0] * (len(BUCKETS) + 1), 0.0])
            counts[0][bisect.bisect_left(BUCKETS, seconds)] += 1
            counts[1] += seconds

    def stream_opened(self):
        with self._lock:
            self.streams_open += 1

    def stream_closed(self):
        with self._lock:
            self.streams_open -= 1

    def heard(self, *, seconds, labels=()):
        """Count seconds of streamed audio and the labels of the detections fired on them."""
        with self._lock:
            self.stream_seconds += seconds
            for label in labels:
                self.detections[label] = self.detections.get(label, 0) + 1

    def render(self):
        """The text exposition of every family -> str (ends with a newline)."""
        with self._lock:
            lines = [
                "# HELP minikws_model_info The model being served (always 1).",
                "# TYPE minikws_model_info gauge",
                f"minikws_model_info{_labels(model=self.model, sr=self.sr, classes=','.join(self.classes))} 1",
                "# HELP minikws_requests_total Requests answered, by route, method and status code.",
                "# TYPE minikws_requests_total counter",
            ]
            for (route, method, status), n in sorted(self.requests.items()):
                lines.append(f"minikws_requests_total{_labels(route=route, method=method, status=status)} {n}")
            lines += ["# HELP minikws_request_duration_seconds Time from a request's arrival to its answer.",
                      "# TYPE minikws_request_duration_seconds histogram"]
            for route, (counts, total) in sorted(self.latency.items()):
                cumulative = 0
                for bound, n in zip((*BUCKETS, "+Inf"), counts):
                    cumulative += n
                    le = bound if isinstance(bound, str) else repr(float(bound))
                    lines.append(f"minikws_request_duration_seconds_bucket{_labels(route=route, le=le)} {cumulative}")
                lines.append(f"minikws_request_duration_seconds_sum{_labels(route=route)} {total!r}")
                lines.append(f"minikws_request_duration_seconds_count{_labels(route=route)} {cumulative}")
            lines += ["# HELP minikws_streams_open Live /stream connections.",
                      "# TYPE minikws_streams_open gauge",
                      f"minikws_streams_open {self.streams_open}",
                      "# HELP minikws_stream_audio_seconds_total Seconds of audio received on /stream.",
                      "# TYPE minikws_stream_audio_seconds_total counter",
                      f"minikws_stream_audio_seconds_total {self.stream_seconds!r}",
                      "# HELP minikws_detections_total Keywords detected on /stream, by label.",
                      "# TYPE minikws_detections_total counter"]
            for label, n in sorted(self.detections.items()):
                lines.append(f"minikws_detections_total{_labels(label=label)} {n}")
        return "\n".join(lines) + "\n"
