"""Headless Chromium (Debian's package) for UI tests: rendered DOM and a kept screenshot."""

from __future__ import annotations

import shutil
import subprocess
import tempfile

from fti.settings import REPO_ROOT
from tests.conftest import skip_or_fail

SCREENSHOTS = REPO_ROOT / "test-output" / "screenshots"
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--hide-scrollbars",
    "--window-size=1400,1000",
    "--virtual-time-budget=20000",
]


def chromium() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        skip_or_fail("chromium is not installed (apt-get install chromium)")
    assert path is not None
    return path


def render(url: str, screenshot: str) -> str:
    """The page's DOM after its scripts ran; a PNG of it is kept under test-output/screenshots."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as profile:
        base = [chromium(), *FLAGS, f"--user-data-dir={profile}"]
        dom = subprocess.run(
            [*base, "--dump-dom", url], capture_output=True, text=True, timeout=120, check=True
        ).stdout
        subprocess.run(
            [*base, f"--screenshot={SCREENSHOTS / screenshot}", url],
            capture_output=True,
            timeout=120,
            check=True,
        )
    return dom


class BasicAuthProxy:
    """A loopback HTTP proxy that adds a Basic Authorization header: the browser of a logged-in
    user. (Chromium cannot take the credentials in the URL: the MLflow UI's fetch() calls then
    fail with "Request cannot be constructed from a URL that includes credentials".)"""

    def __init__(self, target: str, user: str, password: str) -> None:
        import base64
        import http.client
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
        from urllib.parse import urlsplit

        parts = urlsplit(target)
        token = base64.b64encode(f"{user}:{password}".encode()).decode()
        hop = {"connection", "keep-alive", "transfer-encoding", "content-length", "host"}

        class Handler(BaseHTTPRequestHandler):
            def _forward(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                headers = {k: v for k, v in self.headers.items() if k.lower() not in hop}
                headers["Authorization"] = f"Basic {token}"
                conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
                try:
                    conn.request(self.command, self.path, body=body, headers=headers)
                    response = conn.getresponse()
                    data = response.read()
                finally:
                    conn.close()
                self.send_response(response.status)
                for key, value in response.getheaders():
                    if key.lower() not in hop:
                        self.send_header(key, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PATCH = do_DELETE = _forward

            def log_message(self, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
