#!/usr/bin/env python3
"""A stand-in for `ray start --block` that only reports in, to measure bootstrap's orchestration
at scale without Ray's start-up cost. Understands what bootstrap passes:

  fake-ray.py start --block --head --node-ip-address=A --port=P --dashboard-port=D --num-gpus=G ...
      serves a GCS stand-in on A:P and the dashboard endpoints bootstrap uses on A:D
  fake-ray.py start --block --address=A:P --node-ip-address=B --num-gpus=G ...
      reports B to the head's dashboard (port P + 1, as bootstrap plans it) and blocks

Every node reports CPU and GPU resources as Ray does: --num-cpus, else the machine's CPU count, and
--num-gpus (bootstrap's readiness waits for both; a stand-in without CPUs once kept it waiting).

Jobs submitted to the stand-in succeed at once. Runs until SIGTERM.
"""
import json
import os
import signal
import socket
import sys
import threading
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

args = {}
for arg in sys.argv[2:]:
    if arg.startswith("--") and "=" in arg:
        key, value = arg[2:].split("=", 1)
        args[key] = value
    elif arg.startswith("--"):
        args[arg[2:]] = True

ip = args["node-ip-address"]
gpus = float(args.get("num-gpus", 0))
cpus = float(args.get("num-cpus", os.cpu_count() or 1))
signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))

if "head" not in args:
    host, port = args["address"].rsplit(":", 1)
    body = json.dumps({"ip": ip, "cpus": cpus, "gpus": gpus}).encode()
    urllib.request.urlopen(urllib.request.Request(f"http://{host}:{int(port) + 1}/report", data=body, method="POST"), timeout=10)
    threading.Event().wait()



def resources(cpus, gpus):
    # Ray leaves a resource out of resources_total when the node has none of it.
    return {name: amount for name, amount in (("CPU", cpus), ("GPU", gpus)) if amount}


nodes = [{"node_ip": ip, "state": "ALIVE", "resources_total": resources(cpus, gpus)}]
jobs = {}
lock = threading.Lock()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def reply(self, payload, status=200):
        data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        if self.path.startswith("/api/v0/nodes"):
            with lock:
                self.reply({"result": True, "data": {"result": {"total": len(nodes), "result": list(nodes)}}})
        elif self.path.startswith("/api/v0/logs/stream"):
            self.reply(b"stand-in pipeline done\n")
        elif self.path == "/api/authentication_mode":
            self.reply({"authentication_mode": "token"})
        elif self.path.startswith("/api/packages/"):
            self.reply(b"", 404)
        elif self.path == "/api/jobs/":
            with lock:
                self.reply(list(jobs.values()))
        elif self.path.startswith("/api/jobs/"):
            job = jobs.get(self.path.rsplit("/", 1)[1])
            self.reply(job if job else {"error": "not found"}, 200 if job else 404)
        else:
            self.reply(b"", 404)

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
        if self.path == "/report":
            with lock:
                nodes.append({"node_ip": body["ip"], "state": "ALIVE", "resources_total": resources(body["cpus"], body["gpus"])})
            self.reply({"ok": True})
        elif self.path == "/api/jobs/":
            sid = body.get("submission_id") or "fake"
            with lock:
                jobs[sid] = {"submission_id": sid, "status": "SUCCEEDED", "driver_exit_code": 0, "driver_node_id": "fake", "message": "stand-in"}
            self.reply({"job_id": sid, "submission_id": sid})
        else:
            self.reply({"stopped": True})

    def do_PUT(self):
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.reply({})


gcs = socket.create_server((ip, int(args["port"])))
threading.Thread(target=lambda: [gcs.accept()[0].close() for _ in iter(int, 1)], daemon=True).start()
ThreadingHTTPServer((ip, int(args["dashboard-port"])), Handler).serve_forever()
