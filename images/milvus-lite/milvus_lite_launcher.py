"""vectorstack launcher for the milvus-lite 2.5 engine (the C++ server inside the milvus-lite wheel).

Makes the milvus-lite image look like milvusdb/milvus to a service spec:
  * `milvus run standalone` (the official command) starts the engine as
    `milvus <db file> 0.0.0.0:$MILVUS_LITE_PORT $MILVUS_LITE_LOG_LEVEL` (defaults: /var/lib/milvus/milvus-lite/milvus.db,
    19530, ERROR) with LD_LIBRARY_PATH set to the wheel's libraries;
  * GET http://localhost:$METRICS_PORT/healthz (default 9091) answers "OK" (200) only when a gRPC call to the engine
    (ShowCollections) returns a success status, and 500 otherwise, so `curl -f http://localhost:9091/healthz` works
    (the engine implements neither CheckHealth nor an HTTP port of its own);
  * SIGTERM/SIGINT are passed to the engine, which closes its database and exits; the launcher exits with the
    engine's status. When the engine dies on its own, the launcher exits too (the container stops).
Anything else on the command line is exec'd as is (e.g. `python3`, `sh`).

The engine has no authentication: usernames and passwords sent by clients are ignored. When
COMMON_SECURITY_AUTHORIZATIONENABLED=true is set (as for the real server), a warning is printed and the server still
starts. etcd/MinIO settings (ETCD_*, MINIO_*) do not apply.
"""

from __future__ import annotations

import http.server
import os
import re
import signal
import subprocess
import sys
import threading

SHOW_COLLECTIONS = "/milvus.proto.milvus.MilvusService/ShowCollections"


def _warn(msg: str) -> None:
    print(f"[vectorstack milvus-lite] {msg}", file=sys.stderr, flush=True)


def _varint(buf: bytes, pos: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        if pos >= len(buf):
            raise ValueError("truncated varint")
        byte = buf[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, pos
        shift += 7
        if shift > 63:
            raise ValueError("varint too long")


def _fields(buf: bytes):
    """Yields (field number, wire type, value) of a protobuf message; value is an int or bytes."""
    pos = 0
    while pos < len(buf):
        key, pos = _varint(buf, pos)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = _varint(buf, pos)
        elif wire == 1:
            value, pos = buf[pos:pos + 8], pos + 8
        elif wire == 2:
            length, pos = _varint(buf, pos)
            value, pos = buf[pos:pos + length], pos + length
        elif wire == 5:
            value, pos = buf[pos:pos + 4], pos + 4
        else:
            raise ValueError(f"unsupported wire type {wire}")
        yield number, wire, value


def status_ok(response: bytes) -> bool:
    """True when a ShowCollectionsResponse carries a success status (field 1: common.Status; in it error_code = 1
    and code = 4, both 0 on success, and proto3 leaves zeros out)."""
    for number, wire, value in _fields(response):
        if number == 1 and wire == 2:
            for inner, inner_wire, inner_value in _fields(value):
                if inner in (1, 4) and inner_wire == 0 and inner_value != 0:
                    return False
            return True
    return True  # no status field at all: every field is at its default, i.e. success


def grpc_healthy(port: int) -> bool:
    import grpc

    try:
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            call = channel.unary_unary(SHOW_COLLECTIONS)  # raw bytes in and out
            return status_ok(call(b"", timeout=3))
    except Exception:  # noqa: BLE001 - any failure (refused, unimplemented, timeout) means unhealthy
        return False


def start_healthz(grpc_port: int, http_port: int) -> http.server.ThreadingHTTPServer:
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            if self.path.split("?")[0] != "/healthz":
                self.send_error(404)
                return
            ok = grpc_healthy(grpc_port)
            body = b"OK" if ok else b"Unhealthy"
            self.send_response(200 if ok else 500)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):  # keep container logs quiet
            pass

    server = http.server.ThreadingHTTPServer(("0.0.0.0", http_port), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def serve() -> int:
    engine = os.environ.get("MILVUS_LITE_ENGINE", "/opt/milvus-lite/engine/milvus")
    db_file = os.environ.get("MILVUS_LITE_DB", "/var/lib/milvus/milvus-lite/milvus.db")
    port = int(os.environ.get("MILVUS_LITE_PORT", "19530"))
    http_port = int(os.environ.get("METRICS_PORT", "9091"))
    log_level = os.environ.get("MILVUS_LITE_LOG_LEVEL", "ERROR")
    # The engine's own rules for the file name (milvus_lite/server.py).
    name = os.path.basename(db_file)
    if not re.fullmatch(r"[a-zA-Z0-9.\-_]+", name) or len(name) > 36:
        _warn(f"MILVUS_LITE_DB={db_file!r}: the file name must match [a-zA-Z0-9.-_]+ and have at most 36 characters")
        return 2
    if os.environ.get("COMMON_SECURITY_AUTHORIZATIONENABLED", "").lower() == "true":
        _warn("COMMON_SECURITY_AUTHORIZATIONENABLED=true, but milvus-lite has no authentication: "
              "credentials are accepted and ignored.")
    os.makedirs(os.path.dirname(db_file), exist_ok=True)

    env = dict(os.environ)
    lib = os.path.dirname(engine)
    env["LD_LIBRARY_PATH"] = lib + (":" + env["LD_LIBRARY_PATH"] if env.get("LD_LIBRARY_PATH") else "")
    child = subprocess.Popen([engine, db_file, f"0.0.0.0:{port}", log_level], env=env,
                             cwd=os.path.dirname(db_file))

    def forward(signum, _frame):
        if child.poll() is None:
            child.send_signal(signum)

    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, forward)
    healthz = start_healthz(port, http_port)
    print(f"milvus-lite {os.environ.get('MILVUS_LITE_VERSION', '?')} engine pid {child.pid}: gRPC on 0.0.0.0:{port}, "
          f"healthz on :{http_port}/healthz, db {db_file}", flush=True)
    try:
        code = child.wait()
    finally:
        healthz.shutdown()
    # A negative code is the signal that ended the engine; SIGTERM from `docker stop` is a clean stop.
    if code < 0:
        print(f"engine stopped by signal {-code}", flush=True)
        return 0 if -code in (signal.SIGTERM, signal.SIGINT) else 128 - code
    print(f"engine exited with status {code}", flush=True)
    return code


def main(argv: list[str]) -> int:
    if not argv or argv[:3] == ["milvus", "run", "standalone"]:
        return serve()
    if argv[0] == "milvus":
        _warn(f"unsupported milvus command {' '.join(argv)!r}; only 'milvus run standalone'")
        return 2
    os.execvp(argv[0], argv)
    return 127  # not reached


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
