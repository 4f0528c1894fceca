#!/usr/bin/python3
"""hook_receiver.py: a scriptable webhook receiver for Vigil's notification tests.

Every request is recorded as one JSON line in --log (method, path, headers,
body, the answer given, arrival time), written and flushed before the
answer, so a test can read what arrived even from a request left hanging.

The answers follow --script, a comma-separated list used in order; its last
item repeats. Items:
  200, 204, 400, 500 ...   answer with that status
  429:N                    429 with Retry-After: N (seconds)
  429:date:N               429 with Retry-After as an HTTP date N seconds ahead
  hang                     never answer (until the connection is dropped)
  hang:S                   wait S seconds, then answer 200
  close                    close the connection without an answer
With --secret, each request's X-Vigil-Signature is checked and the log line
gets "signature_ok": true/false.

--port 0 picks a free port and prints it on stdout (one line) once listening.
Standard library only; run with /usr/bin/python3.
"""
import argparse
import email.utils
import hashlib
import hmac
import http.server
import json
import socketserver
import sys
import threading
import time


class State:
    def __init__(self, script, log_path, secret):
        self.script = script
        self.log = open(log_path, "a", encoding="utf-8") if log_path else None
        self.secret = secret
        self.count = 0
        self.lock = threading.Lock()

    def next_answer(self):
        with self.lock:
            item = self.script[min(self.count, len(self.script) - 1)]
            self.count += 1
            return item

    def record(self, entry):
        if not self.log:
            return
        with self.lock:
            self.log.write(json.dumps(entry) + "\n")
            self.log.flush()


def signature_ok(secret, headers, body):
    ts = headers.get("X-Vigil-Timestamp", "")
    sig = headers.get("X-Vigil-Signature", "")
    mac = hmac.new(secret.encode(), ts.encode() + b"." + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(sig, "sha256=" + mac)


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    state = None

    def log_message(self, fmt, *args):  # quiet: the JSON log says it all
        pass

    def _answer(self, status, headers=(), body=b'{"status":"ok"}'):
        self.send_response(status)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self):
        n = int(self.headers.get("Content-Length", "0") or 0)
        body = self.rfile.read(n) if n else b""
        item = self.state.next_answer()
        entry = {
            "time": time.time(),
            "method": self.command,
            "path": self.path,
            "headers": {k: v for k, v in self.headers.items()},
            "body": body.decode("utf-8", "replace"),
            "answer": item,
        }
        if self.state.secret is not None:
            entry["signature_ok"] = signature_ok(self.state.secret, self.headers, body)
        self.state.record(entry)
        self.respond(item)

    do_PUT = do_POST

    def respond(self, item):
        if item == "hang":
            while True:
                time.sleep(3600)
        if item.startswith("hang:"):
            time.sleep(float(item[5:]))
            self._answer(200)
        elif item == "close":
            self.close_connection = True
            self.connection.close()
        elif item.startswith("429:date:"):
            when = time.time() + float(item[9:])
            self._answer(429, [("Retry-After", email.utils.formatdate(when, usegmt=True))],
                         b'{"error":"slow down"}')
        elif item.startswith("429:"):
            self._answer(429, [("Retry-After", item[4:])], b'{"error":"slow down"}')
        else:
            st = int(item)
            self._answer(st, [], b'{"status":"ok"}' if st < 300 else b'{"error":"scripted"}')


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--log", help="append one JSON line per request here")
    ap.add_argument("--script", default="200", help="answers in order, e.g. 500,500,200")
    ap.add_argument("--secret", help="check X-Vigil-Signature with this HMAC secret")
    a = ap.parse_args()
    Handler.state = State([s.strip() for s in a.script.split(",") if s.strip()] or ["200"],
                          a.log, a.secret)
    srv = Server((a.host, a.port), Handler)
    print(srv.server_address[1], flush=True)
    try:
        srv.serve_forever(poll_interval=0.05)
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
