"""A real Prometheus server fed by a Pushgateway, on free loopback ports, for the tests of the
built-in Prometheus scaler. The test sets a metric's value by pushing it; Prometheus scrapes the
Pushgateway every second (its `up` series carries `container="prometheus"`, the scaler's default
uptime filter). A known past can be given as OpenMetrics text: it is written into the TSDB with
`promtool tsdb create-blocks-from openmetrics` before Prometheus starts."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any, Optional


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class LocalPrometheus:
    """Prometheus + Pushgateway as a context manager."""

    def __init__(self, history: str = "") -> None:
        self.history = history
        self.dir = Path(tempfile.mkdtemp(prefix="kubescale-prometheus-"))
        self.gateway = f"127.0.0.1:{_free_port()}"
        self.url = f"http://127.0.0.1:{_free_port()}"
        self.procs: list[subprocess.Popen[bytes]] = []

    def __enter__(self) -> LocalPrometheus:
        for binary in ("prometheus", "prometheus-pushgateway"):
            if shutil.which(binary) is None:
                raise FileNotFoundError(
                    f"{binary} not found; install it with: bash scripts/install-prometheus.sh"
                )
        config = {
            "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
            "scrape_configs": [
                {
                    "job_name": "pushgateway",
                    "honor_labels": True,
                    "static_configs": [{"targets": [self.gateway], "labels": {"container": "prometheus"}}],
                }
            ],
        }
        (self.dir / "prometheus.yml").write_text(json.dumps(config))
        log = open(self.dir / "log", "ab")
        if self.history:
            (self.dir / "history.om").write_text(self.history)
            subprocess.run(
                [
                    "promtool",
                    "tsdb",
                    "create-blocks-from",
                    "openmetrics",
                    str(self.dir / "history.om"),
                    str(self.dir / "data"),
                ],
                check=True,
                stdout=log,
                stderr=log,
            )
        self.procs.append(
            subprocess.Popen(
                ["prometheus-pushgateway", f"--web.listen-address={self.gateway}"], stdout=log, stderr=log
            )
        )
        self.procs.append(
            subprocess.Popen(
                [
                    "prometheus",
                    f"--config.file={self.dir / 'prometheus.yml'}",
                    f"--storage.tsdb.path={self.dir / 'data'}",
                    f"--web.listen-address={self.url.removeprefix('http://')}",
                ],
                stdout=log,
                stderr=log,
            )
        )
        self.wait_until(lambda: self.value("up") == 1.0, "Prometheus scraping the Pushgateway")
        return self

    def __exit__(self, *exc: object) -> None:
        for p in self.procs:
            p.terminate()
        for p in self.procs:
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
        shutil.rmtree(self.dir, ignore_errors=True)

    def push(self, metric: str, value: str, job: str = "test", labels: str = "") -> None:
        """Sets `metric` (text exposition: value may be "NaN", "+Inf"...)."""
        body = f"{metric}{labels} {value}\n".encode()
        req = urllib.request.Request(f"http://{self.gateway}/metrics/job/{job}", data=body, method="POST")
        urllib.request.urlopen(req, timeout=5).read()

    def query(self, q: str) -> Any:
        url = f"{self.url}/api/v1/query?" + urllib.parse.urlencode({"query": q})
        try:
            with urllib.request.urlopen(url, timeout=5) as r:
                return json.loads(r.read())
        except OSError:
            return None

    def value(self, q: str) -> Optional[float]:
        answer = self.query(q)
        if not answer or answer.get("status") != "success" or not answer["data"]["result"]:
            return None
        return float(answer["data"]["result"][0]["value"][1])

    def wait_until(self, check: Any, what: str, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while not check():
            if time.monotonic() > deadline:
                log = (self.dir / "log").read_text(errors="replace")[-2000:]
                raise TimeoutError(f"timed out waiting for {what}\n{log}")
            time.sleep(0.2)


def openmetrics(series: dict[str, list[tuple[float, float]]]) -> str:
    """OpenMetrics text of gauges: `{'name{label="v"}': [(unix_seconds, value), ...]}`."""
    lines: list[str] = []
    for name in sorted({k.split("{", 1)[0] for k in series}):
        lines.append(f"# TYPE {name} gauge")
        for key, samples in series.items():
            if key.split("{", 1)[0] == name:
                lines.extend(f"{key} {v} {t:.0f}" for t, v in samples)
    return "\n".join(lines) + "\n# EOF\n"
