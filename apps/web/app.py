"""The web server behind the load balancer: run as web-a, web-b, ... by gunicorn.

GET /        says which instance answered (JSON body and the X-Served-By header), so that
             tests and the sidecar can tell where HAProxy sent each request. Any other path
             answers the same way (balance uri spreads requests by path).
GET /status  the health endpoint HAProxy checks.
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
    return response


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
