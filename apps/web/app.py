"""The web server behind the load balancer: run as web-a, web-b, ... by gunicorn.

GET /        says which instance answered (JSON body and the X-Served-By header), so that
             tests and the sidecar can tell where HAProxy sent each request, and the address
             the connection reached (X-Served-At: "address:port", what HAProxy knows a
             discovered server by). Any other path and method answers the same way (balance uri
             spreads requests by path), echoing the request as it arrived (method, path, query,
             headers: what routes and rules made of it); X-Answer-Status: N asks for status N.
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

# No static folder: /static/... is a path like any other (the edge example routes it to a cache).
app = Flask(__name__, static_folder=None)


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


ECHO_METHODS = ["GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"]


@app.route("/", methods=ECHO_METHODS)
@app.route("/<path:path>", methods=ECHO_METHODS)
def index(path=""):
    """Echoes the request as it arrived (what the routes and rules made of it), with the status
    X-Answer-Status asks for (200 otherwise)."""
    status = request.headers.get("X-Answer-Status", default=200, type=int)
    body = jsonify(
        server=INSTANCE,
        pid=os.getpid(),
        method=request.method,
        path=request.path,
        query=request.query_string.decode("latin-1"),
        headers=[[name, value] for name, value in request.headers.items()],
        forwarded_for=request.headers.get("X-Forwarded-For"),
    )
    return body, status if 200 <= status <= 599 else 200


@app.get("/status")
def status():
    return jsonify(status="ok", server=INSTANCE, uptime_seconds=round(time.time() - STARTED, 3))
