"""Web servers that weft did not write, started on 127.0.0.1 for tests.

    from webservers import serve_python, serve_nginx

    with serve_python("/some/dir") as base_url:   # python3 -m http.server
        ...                                       # base_url: "http://127.0.0.1:PORT"
    with serve_nginx("/some/dir") as base_url:    # Debian's /usr/sbin/nginx
        ...

base_url has no trailing slash. Each server serves DIR (symbolic links
followed), listens on 127.0.0.1 only, on a free port, and accepts
connections by the time the `with` body starts. It is stopped by its pid
when the block ends, also when the block raises, and its temporary files
are removed.

For the access log, use start_python / start_nginx, which yield a Server:

    with start_nginx(dir) as srv:
        srv.base_url            # "http://127.0.0.1:PORT"
        srv.requests()          # [Request(method, target, status, encoding), ...] so far
        srv.log_text()          # the server's own log, for failure messages

nginx gzips text bodies (gzip on, gzip_min_length 0: text/html always,
plus text/plain, CSS and JavaScript) for clients that ask; its access log
records the Content-Encoding sent. python3 -m http.server sends no
Content-Encoding, speaks HTTP/1.0 (a connection per request), lists a
directory without index.html, and writes its access log to stderr.

nginx runs in the foreground as a single process (daemon off,
master_process off), so it never changes user: it works the same as root
and as a normal user, and reads DIR with the rights of whoever runs the
test. Its configuration, pid file, logs and temporary paths all live in a
temporary directory. A missing nginx raises ServerError("nginx not found:
run ./scripts/setup.sh").
"""

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from typing import List, NamedTuple, Optional

__all__ = [
    "ServerError",
    "Request",
    "Server",
    "serve_python",
    "serve_nginx",
    "start_python",
    "start_nginx",
    "free_port",
    "closed_port",
    "NGINX",
]

NGINX = os.environ.get("WEFT_NGINX", "/usr/sbin/nginx")
START_TIMEOUT = 20.0  # seconds until the port must accept connections (a loaded machine)
STOP_TIMEOUT = 10.0  # seconds after SIGTERM before SIGKILL


class ServerError(RuntimeError):
    """A server could not be started (the message says why and what to do)."""


class Request(NamedTuple):
    method: str  # "GET"
    target: str  # "/path?query", as sent
    status: int  # the status code answered
    encoding: str  # Content-Encoding sent ("gzip"), "" when none (always "" for python)


def free_port() -> int:
    """A port on 127.0.0.1 that was free a moment ago (bind to 0, close)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def closed_port() -> int:
    """A port on 127.0.0.1 nothing listens on: connecting is refused."""
    return free_port()


try:  # prctl, looked up here: between fork and exec only the call itself runs
    import ctypes
    _prctl = ctypes.CDLL(None, use_errno=True).prctl
except Exception:  # noqa: BLE001 -- not Linux, or no libc
    _prctl = None


def _die_with_parent() -> None:
    """In the child before exec: SIGTERM when the test process dies (killed by a
    timeout, say), so that no server outlives it. Linux only; best effort: the
    context managers stop the servers anyway."""
    if _prctl is not None:
        _prctl(1, int(signal.SIGTERM), 0, 0, 0)  # PR_SET_PDEATHSIG


def _wait_for_port(port: int, proc: subprocess.Popen, describe) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while True:
        if proc.poll() is not None:
            raise ServerError(f"the server exited with code {proc.returncode} before accepting connections\n"
                              + describe())
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1.0):
                return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise ServerError(f"nothing accepted connections on 127.0.0.1:{port} after {START_TIMEOUT:.0f} s\n"
                              + describe())
        time.sleep(0.05)


def _stop(proc: subprocess.Popen) -> None:
    """Stops proc by its pid: SIGTERM, then SIGKILL if it lingers."""
    if proc.poll() is not None:
        return
    try:
        os.kill(proc.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    try:
        proc.wait(timeout=STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        try:
            os.kill(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait()


def _tail(path: str, n: int = 30) -> str:
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            lines = f.readlines()
    except OSError:
        return ""
    return "".join(lines[-n:])


class Server:
    """A started server: base_url, pid, and its access log."""

    def __init__(self, kind: str, base_url: str, proc: subprocess.Popen, workdir: str, log_path: str):
        self.kind = kind  # "python" or "nginx"
        self.base_url = base_url
        self.proc = proc
        self.pid = proc.pid
        self.workdir = workdir
        self.log_path = log_path  # nginx: access log; python: its stderr (the access log)

    @property
    def port(self) -> int:
        return int(self.base_url.rsplit(":", 1)[1])

    def log_text(self) -> str:
        try:
            with open(self.log_path, encoding="utf-8", errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def requests(self) -> List[Request]:
        """The requests logged so far, in order."""
        out = []
        for line in self.log_text().splitlines():
            r = _parse_log_line(self.kind, line)
            if r:
                out.append(r)
        return out

    def __repr__(self) -> str:
        return f"<{self.kind} server {self.base_url} pid {self.pid}>"


def _parse_log_line(kind: str, line: str) -> Optional[Request]:
    # Both formats put the request line in the first pair of double quotes
    # and the status right after it:
    #   nginx (weft_test format): 127.0.0.1 "GET /a HTTP/1.1" 200 1234 "gzip" "ua"
    #   python: 127.0.0.1 - - [date] "GET /a HTTP/1.1" 200 -
    first = line.find('"')
    if first < 0:
        return None
    second = line.find('"', first + 1)
    if second < 0:
        return None
    parts = line[first + 1:second].split(" ")
    rest = line[second + 1:].split()
    if len(parts) < 2 or not rest or not rest[0].isdigit():
        return None
    encoding = ""
    if kind == "nginx":
        quoted = line[second + 1:].split('"')
        if len(quoted) >= 2 and quoted[1] != "-":
            encoding = quoted[1]
    return Request(parts[0], parts[1], int(rest[0]), encoding)


# ---------------------------------------------------------------- python


@contextlib.contextmanager
def start_python(directory: str):
    """python3 -m http.server on 127.0.0.1, a free port (port 0), serving directory."""
    directory = os.path.abspath(directory)
    if not os.path.isdir(directory):
        raise ServerError(f"not a directory: {directory}")
    workdir = tempfile.mkdtemp(prefix="weft-python-server-")
    log_path = os.path.join(workdir, "access.log")
    proc = None
    try:
        with open(log_path, "wb") as log:
            # -u: the "Serving HTTP on ... port N" line comes unbuffered.
            proc = subprocess.Popen(
                [sys.executable, "-u", "-m", "http.server", "0", "--bind", "127.0.0.1", "--directory", directory],
                stdout=subprocess.PIPE, stderr=log, stdin=subprocess.DEVNULL, cwd=workdir,
                preexec_fn=_die_with_parent)
        port = _read_python_port(proc, log_path)
        _wait_for_port(port, proc, lambda: _tail(log_path))
        yield Server("python", f"http://127.0.0.1:{port}", proc, workdir, log_path)
    finally:
        if proc is not None:
            _stop(proc)
            if proc.stdout:
                proc.stdout.close()
        shutil.rmtree(workdir, ignore_errors=True)


def _read_python_port(proc: subprocess.Popen, log_path: str) -> int:
    """Reads "Serving HTTP on 127.0.0.1 port 43211 (http://...) ..." from its stdout."""
    result = {}

    def read():
        try:
            result["line"] = proc.stdout.readline().decode("utf-8", "replace")
            # Keep draining stdout so that the server never blocks on a full pipe.
            for _ in iter(lambda: proc.stdout.read(4096), b""):
                pass
        except (OSError, ValueError):  # the pipe closed under us when the server stopped
            result.setdefault("line", "")

    t = threading.Thread(target=read, daemon=True)
    t.start()
    deadline = time.monotonic() + START_TIMEOUT
    while "line" not in result and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.02)
    line = result.get("line", "")
    words = line.split()
    if "port" in words:
        i = words.index("port")
        if i + 1 < len(words) and words[i + 1].isdigit():
            return int(words[i + 1])
    raise ServerError("python3 -m http.server did not say its port (expected 'Serving HTTP on 127.0.0.1 port N');"
                      f" first line of stdout: {line!r}\n{_tail(log_path)}")


@contextlib.contextmanager
def serve_python(directory: str):
    """`with serve_python(dir) as base_url:` -- base_url is "http://127.0.0.1:PORT"."""
    with start_python(directory) as srv:
        yield srv.base_url


# ---------------------------------------------------------------- nginx

_NGINX_CONF = """\
# Generated by tests/examples/webservers.py for one test run.
daemon off;
master_process off;
worker_processes 1;
pid {work}/nginx.pid;
error_log {work}/error.log warn;

events {{
    worker_connections 1024;
}}

http {{
    {types}
    default_type application/octet-stream;
    log_format weft_test '$remote_addr "$request" $status $body_bytes_sent '
                         '"$sent_http_content_encoding" "$http_user_agent"';
    access_log {work}/access.log weft_test;
    client_body_temp_path {work}/client_body;
    proxy_temp_path {work}/proxy;
    fastcgi_temp_path {work}/fastcgi;
    uwsgi_temp_path {work}/uwsgi;
    scgi_temp_path {work}/scgi;
    sendfile on;
    keepalive_requests 100000;
    keepalive_timeout 30s;

    # text/html is always compressed when gzip is on.
    gzip on;
    gzip_min_length 0;
    gzip_types text/plain text/css application/javascript;
    gzip_vary on;

    server {{
        listen 127.0.0.1:{port};
        server_name localhost;
        root {root};
        index index.html;
        disable_symlinks off;
    }}
}}
"""

_FALLBACK_TYPES = """types {
        text/html html htm;
        text/plain txt;
        text/css css;
        application/javascript js;
        image/png png;
        image/svg+xml svg;
        application/json json;
    }"""


def _nginx_types() -> str:
    if os.path.exists("/etc/nginx/mime.types"):
        return "include /etc/nginx/mime.types;"
    return _FALLBACK_TYPES


@contextlib.contextmanager
def start_nginx(directory: str):
    """nginx on 127.0.0.1, a free port, serving directory (gzip on)."""
    if not (os.path.isfile(NGINX) and os.access(NGINX, os.X_OK)):
        raise ServerError(f"nginx not found: run ./scripts/setup.sh (looked for {NGINX})")
    directory = os.path.abspath(directory)
    if not os.path.isdir(directory):
        raise ServerError(f"not a directory: {directory}")
    workdir = tempfile.mkdtemp(prefix="weft-nginx-")
    proc = None
    try:
        # The port is picked free and then handed to nginx: another program
        # may take it in between, so a bind failure is tried again.
        for attempt in range(5):
            port = free_port()
            conf = os.path.join(workdir, "nginx.conf")
            with open(conf, "w", encoding="utf-8") as f:
                f.write(_NGINX_CONF.format(work=workdir, root=directory, port=port, types=_nginx_types()))
            error_log = os.path.join(workdir, "error.log")
            with open(os.path.join(workdir, "stderr.log"), "wb") as err:
                # -e: the error log before the configuration is read (else
                # /var/log/nginx/error.log, not writable for a normal user).
                proc = subprocess.Popen([NGINX, "-p", workdir + "/", "-e", error_log, "-c", conf],
                                        stdin=subprocess.DEVNULL, stdout=err, stderr=err, cwd=workdir,
                                        preexec_fn=_die_with_parent)

            def describe():
                return ("nginx's output:\n" + _tail(os.path.join(workdir, "stderr.log")) +
                        "nginx's error log:\n" + _tail(error_log))

            try:
                _wait_for_port(port, proc, describe)
                break
            except ServerError:
                text = describe()
                _stop(proc)
                proc = None
                if "Address already in use" in text and attempt < 4:
                    continue
                raise
        yield Server("nginx", f"http://127.0.0.1:{port}", proc, workdir, os.path.join(workdir, "access.log"))
    finally:
        if proc is not None:
            _stop(proc)
        shutil.rmtree(workdir, ignore_errors=True)


@contextlib.contextmanager
def serve_nginx(directory: str):
    """`with serve_nginx(dir) as base_url:` -- base_url is "http://127.0.0.1:PORT"."""
    with start_nginx(directory) as srv:
        yield srv.base_url


@contextlib.contextmanager
def start(kind: str, directory: str):
    """start_python or start_nginx by name ("python" or "nginx")."""
    if kind == "python":
        with start_python(directory) as srv:
            yield srv
    elif kind == "nginx":
        with start_nginx(directory) as srv:
            yield srv
    else:
        raise ValueError(f"unknown server kind {kind!r} (python or nginx)")


if __name__ == "__main__":
    # python3 webservers.py python|nginx DIR: serves DIR until Ctrl-C.
    if len(sys.argv) != 3:
        sys.exit("usage: webservers.py python|nginx DIR")
    with start(sys.argv[1], sys.argv[2]) as s:
        print(f"{s.kind} serving {sys.argv[2]} on {s.base_url} (pid {s.pid}); Ctrl-C stops it", flush=True)
        try:
            while s.proc.poll() is None:
                time.sleep(0.5)
        except KeyboardInterrupt:
            pass
