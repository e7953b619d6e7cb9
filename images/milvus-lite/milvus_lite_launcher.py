"""vectorstack launcher for the milvus-lite 3.x gRPC server.

Makes the milvus-lite image look like milvusdb/milvus to a service spec:
  * `milvus run standalone` (the official command) starts the Milvus Lite gRPC server
    on 0.0.0.0:$MILVUS_LITE_PORT (default 19530) with data in $MILVUS_LITE_DATA_DIR
    (default /var/lib/milvus/milvus-lite, inside the official image's volume path);
  * GET http://localhost:$METRICS_PORT/healthz (default 9091) answers "OK" when a gRPC
    CheckHealth round-trip succeeds, so `curl -f http://localhost:9091/healthz` works;
  * SIGTERM/SIGINT stop the gRPC server gracefully and close the database (the upstream
    `milvus-lite server` only handles KeyboardInterrupt).
Anything else on the command line is exec'd as is (e.g. `milvus-lite server ...`, `python3`).

Milvus Lite has no authentication: username/password sent by clients are ignored. When
COMMON_SECURITY_AUTHORIZATIONENABLED=true is set (as for the real server), a warning is
printed and the server still starts. etcd/MinIO settings (ETCD_*, MINIO_*) do not apply.
"""

from __future__ import annotations

import http.server
import os
import signal
import sys
import threading


def _warn(msg: str) -> None:
    print(f"[vectorstack milvus-lite] {msg}", file=sys.stderr, flush=True)


def _grpc_healthy(port: int) -> bool:
    import grpc
    from pymilvus.grpc_gen import milvus_pb2, milvus_pb2_grpc

    try:
        with grpc.insecure_channel(f"127.0.0.1:{port}") as ch:
            stub = milvus_pb2_grpc.MilvusServiceStub(ch)
            resp = stub.CheckHealth(milvus_pb2.CheckHealthRequest(), timeout=3)
            return bool(resp.isHealthy)
    except Exception:  # noqa: BLE001 - any failure means unhealthy
        return False


def _start_healthz(grpc_port: int, http_port: int) -> http.server.ThreadingHTTPServer:
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            if self.path.split("?")[0] != "/healthz":
                self.send_error(404)
                return
            ok = _grpc_healthy(grpc_port)
            body = b"OK" if ok else b"Unhealthy"
            self.send_response(200 if ok else 500)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):  # keep container logs quiet
            pass

    srv = http.server.ThreadingHTTPServer(("0.0.0.0", http_port), Handler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv


def serve() -> int:
    from milvus_lite.adapter.grpc.server import start_server_in_thread
    from milvus_lite._version import get_version

    data_dir = os.environ.get("MILVUS_LITE_DATA_DIR", "/var/lib/milvus/milvus-lite")
    port = int(os.environ.get("MILVUS_LITE_PORT", "19530"))
    http_port = int(os.environ.get("METRICS_PORT", "9091"))
    workers = int(os.environ.get("MILVUS_LITE_MAX_WORKERS", "10"))

    if os.environ.get("COMMON_SECURITY_AUTHORIZATIONENABLED", "").lower() == "true":
        _warn("COMMON_SECURITY_AUTHORIZATIONENABLED=true, but Milvus Lite has no "
              "authentication: credentials are accepted and ignored.")
    os.makedirs(data_dir, exist_ok=True)

    server, db, bound = start_server_in_thread(data_dir, host="0.0.0.0", port=port,
                                               max_workers=workers)
    if bound == 0:
        _warn(f"could not bind gRPC port {port}")
        db.close()
        return 1
    healthz = _start_healthz(port, http_port)
    print(f"milvus-lite {get_version()} gRPC on 0.0.0.0:{bound}, healthz on :{http_port}/healthz, "
          f"data_dir={data_dir}", flush=True)

    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    stop.wait()
    print("shutting down", flush=True)
    healthz.shutdown()
    server.stop(grace=5).wait(10)
    db.close()
    return 0


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
