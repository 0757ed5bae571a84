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
POST /fault?errors=0.2&delay_ms=300[&delayed=0.05]  makes that share of this instance's answers to
             traffic 500 and adds that latency to all of them, or to the share `delayed` (not /status:
             its health checks still pass); errors=0&delay_ms=0 clears it. From loopback only. Shared
             by the instance's worker processes (a file).
GET /fault   the fault in force.
"""
import ipaddress
import json
import os
import random
import socket
import tempfile
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

# One file per gunicorn master (the workers' parent): every worker of the instance sees the same fault.
FAULT_FILE = os.path.join(tempfile.gettempdir(), f"lb-web-fault-{INSTANCE}-{os.getppid()}.json")
NO_FAULT = {"errors": 0.0, "delay_ms": 0, "delayed": 1.0}


def current_fault():
    try:
        with open(FAULT_FILE, encoding="utf-8") as f:
            return json.load(f)
    except (OSError, ValueError):
        return NO_FAULT


@app.route("/fault", methods=["GET", "POST"])
def fault():
    if request.method == "GET":
        return jsonify(current_fault())
    if not ipaddress.ip_address(request.remote_addr or "0.0.0.0").is_loopback:
        return jsonify(error="the fault switch answers loopback clients only"), 403
    errors = request.args.get("errors", default=0.0, type=float)
    delay_ms = request.args.get("delay_ms", default=0, type=int)
    delayed = request.args.get("delayed", default=1.0, type=float)
    if not 0 <= errors <= 1 or not 0 <= delay_ms <= SLOW_MAX_MS or not 0 <= delayed <= 1:
        return jsonify(error=f"errors and delayed are shares from 0 to 1, delay_ms from 0 to {SLOW_MAX_MS}"), 400
    chosen = {"errors": errors, "delay_ms": delay_ms, "delayed": delayed}
    if not errors and not delay_ms:
        if os.path.exists(FAULT_FILE):
            os.remove(FAULT_FILE)
        return jsonify(chosen)
    temp = f"{FAULT_FILE}.{os.getpid()}"
    with open(temp, "w", encoding="utf-8") as f:
        json.dump(chosen, f)
    os.replace(temp, FAULT_FILE)
    return jsonify(chosen)


@app.before_request
def injected_fault():
    """The fault in force, on traffic only: /status and the switch itself are spared."""
    if request.path in ("/status", "/fault"):
        return None
    chosen = current_fault()
    if chosen["delay_ms"] and random.random() < chosen.get("delayed", 1.0):
        time.sleep(chosen["delay_ms"] / 1000)
    if chosen["errors"] and random.random() < chosen["errors"]:
        return jsonify(error="injected fault", server=INSTANCE), 500
    return None


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
    X-Answer-Status asks for, or the answer_status query parameter (a health check sends no
    header of its own), 200 otherwise."""
    status = request.headers.get("X-Answer-Status", default=request.args.get("answer_status", default=200, type=int), type=int)
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
