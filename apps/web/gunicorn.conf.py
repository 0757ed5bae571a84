"""gunicorn settings for the web servers; the environment chooses what differs per instance."""
import multiprocessing
import os

bind = os.environ.get("BIND", "0.0.0.0:5000")
# Threads keep connections from HAProxy alive; two processes per instance survive one crashing.
worker_class = "gthread"
workers = int(os.environ.get("WEB_WORKERS", min(2, multiprocessing.cpu_count())))
threads = int(os.environ.get("WEB_THREADS", 4))
timeout = 30
graceful_timeout = 10
keepalive = 5
# Logs go to stdout/stderr: the container runtime (or the local runtime's log files) keeps them.
accesslog = os.environ.get("ACCESS_LOG", "-") or None
errorlog = "-"
loglevel = "info"
proc_name = os.environ.get("INSTANCE_NAME", "web")
# TLS, for a server that keeps its own certificate (HAProxy passes its TLS through, or verifies it):
# one PEM file holding the certificate and its key.
if os.environ.get("TLS_CERTIFICATE"):
    certfile = keyfile = os.environ["TLS_CERTIFICATE"]
