"""The web server behind the load balancer: run as web-a, web-b, ... by gunicorn.

GET /        says which instance answered (JSON body and the X-Served-By header), so that
             tests and the sidecar can tell where HAProxy sent each request, and the address
             the connection reached (X-Served-At: "address:port", what HAProxy knows a
             discovered server by). Any other path answers the same way (balance uri spreads
             requests by path).
GET /status  the health endpoint HAProxy checks.
GET /slow?ms=N  answers like / after N milliseconds (at most 5000): a request that holds its
             connection, to show queueing behind a server's maxconn and HAProxy's timeouts.
"""
import os
import socket
import time

from flask import Flask, jsonify, request

INSTANCE = os.environ.get("INSTANCE_NAME", socket.gethostname())
STARTED = time.time()

app = Flask(__name__)


@app.after_request
def served_by(response):
    response.headers["X-Served-By"] = INSTANCE
    sock = request.environ.get("gunicorn.socket")
    if sock is not None:
        address, port = sock.getsockname()[:2]
        response.headers["X-Served-At"] = f"{address}:{port}"
    return response


SLOW_MAX_MS = 5000


@app.get("/slow")
def slow():
    ms = min(max(request.args.get("ms", default=1000, type=int), 0), SLOW_MAX_MS)
    time.sleep(ms / 1000)
    return index("slow")


@app.get("/")
@app.get("/<path:path>")
def index(path=""):
    return jsonify(
        server=INSTANCE,
        pid=os.getpid(),
        path=request.path,
        forwarded_for=request.headers.get("X-Forwarded-For"),
    )


@app.get("/status")
def status():
    return jsonify(status="ok", server=INSTANCE, uptime_seconds=round(time.time() - STARTED, 3))
