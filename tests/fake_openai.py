#!/usr/bin/env python3
"""fake_openai.py — a fake OpenAI-compatible server for tests/test_oai_client.c.

Python 3 standard library only. One server covers every scenario: each chat request
picks its behaviour by the model it asks for:

  vllm      reasoning_content deltas, then content, finish_reason, a usage chunk, [DONE]
  think     <think> ... </think> inside content, the closing tag split over chunks
  split     the SSE bytes written a few at a time, splitting UTF-8 characters and JSON
  unauth    401 with an OpenAI error body
  nomodel   404 (so does any model not listed here)
  ratelimit 429 with Retry-After: 7
  boom      500 with a plain-text body holding control characters
  toolong   400 whose message is about the context length
  cut       some reasoning and answer, then the connection closes mid-chunk
  cutclean  some answer, then a clean end of the body without finish_reason or [DONE]
  badjson   a data line that is not JSON
  streamerr an error object inside the stream
  hang      reads the request and never sends a byte
  html      200 text/html
  slow      one chunk every 200 ms for 5 s (a test cancels it)

GET /v1/models lists "vllm" first. --record F writes the last chat request (its path,
Authorization header and JSON body) to F, so a test can check what the client sent.

  python3 tests/fake_openai.py --port 0 --port-file F [--record F]
"""
import argparse
import json
import os
import socket
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

SCENARIOS = ["vllm", "think", "split", "unauth", "ratelimit", "boom", "toolong", "cut",
             "cutclean", "badjson", "streamerr", "hang", "html", "slow"]
RECORD = None


def chunk(delta=None, finish=None, usage=None, choices=True):
    obj = {"id": "chatcmpl-fake", "object": "chat.completion.chunk", "created": 0,
           "model": "fake"}
    if choices:
        obj["choices"] = [{"index": 0, "delta": delta or {}, "finish_reason": finish}]
    else:
        obj["choices"] = []
    if usage is not None:
        obj["usage"] = usage
    return "data: " + json.dumps(obj, ensure_ascii=False) + "\n\n"


DONE = "data: [DONE]\n\n"


def events(model):
    """The SSE text of a streamed scenario."""
    if model == "vllm":
        out = [chunk({"role": "assistant", "content": ""})]
        for piece in ["Two", " plus", " two", " is four."]:
            out.append(chunk({"reasoning_content": piece}))
        for piece in ["\n\nThe answer", " is **4**."]:
            out.append(chunk({"content": piece}))
        out.append(chunk({}, finish="stop"))
        out.append(chunk(usage={"prompt_tokens": 12, "completion_tokens": 30,
                                "total_tokens": 42,
                                "prompt_tokens_details": {"cached_tokens": 8},
                                "completion_tokens_details": {"reasoning_tokens": 20}},
                         choices=False))
        out.append(DONE)
        return out
    if model == "think":
        out = [chunk({"role": "assistant"})]
        for piece in ["<th", "ink>\nHmm, ", "six times seven.</th", "ink", ">\n\n42", "."]:
            out.append(chunk({"content": piece}))
        out.append(chunk({}, finish="length"))
        out.append(DONE)
        return out
    if model == "split":
        out = [": a comment line\n\n", chunk({"reasoning_content": "Grüße, 世界 🙂"})]
        out.append(chunk({"content": "naïve — ok ✓"}))
        out.append(chunk({}, finish="stop"))
        out.append(DONE)
        return out
    if model in ("cut", "cutclean"):
        return [chunk({"reasoning_content": "Thinking"}), chunk({"content": "Partial an"})]
    if model == "badjson":
        return [chunk({"content": "ok"}), "data: {not json at all\n\n"]
    if model == "streamerr":
        return [chunk({"content": "Start"}),
                "data: " + json.dumps({"error": {"message": "engine overloaded",
                                                 "type": "server_error"}}) + "\n\n"]
    return None


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def send_json(self, status, obj, extra=None):
        body = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        if self.path.rstrip("/") == "/v1/models":
            self.send_json(200, {"object": "list", "data": [
                {"id": m, "object": "model", "owned_by": "fake"} for m in SCENARIOS]})
        else:
            self.send_json(404, {"detail": "Not Found"})

    def write_chunk(self, data):
        """One HTTP/1.1 chunk of the body, sent now."""
        if isinstance(data, str):
            data = data.encode()
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        self.wfile.flush()

    def start_stream(self, chunked=True):
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream; charset=utf-8")
        self.send_header("Cache-Control", "no-cache")
        if chunked:
            self.send_header("Transfer-Encoding", "chunked")
        else:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        self.wfile.flush()

    def do_POST(self):
        n = int(self.headers.get("Content-Length", "0"))
        raw = self.rfile.read(n)
        try:
            req = json.loads(raw)
        except ValueError:
            self.send_json(400, {"error": {"message": "body is not JSON"}})
            return
        if RECORD and self.path.startswith("/v1/chat/completions"):
            rec = {"path": self.path, "authorization": self.headers.get("Authorization"),
                   "accept": self.headers.get("Accept"), "body": req}
            with open(RECORD + ".tmp", "w") as f:
                json.dump(rec, f)
            os.replace(RECORD + ".tmp", RECORD)
        if self.path != "/v1/chat/completions":
            self.send_json(404, {"detail": "Not Found"})
            return
        self.scenario(req.get("model", ""))

    def scenario(self, model):
        if model == "unauth":
            self.send_json(401, {"error": {"message": "Incorrect API key provided",
                                           "type": "invalid_request_error",
                                           "code": "invalid_api_key"}})
        elif model == "ratelimit":
            self.send_json(429, {"error": {"message": "Rate limit reached",
                                           "type": "rate_limit"}}, {"Retry-After": "7"})
        elif model == "toolong":
            self.send_json(400, {"object": "error", "message":
                                 "This model's maximum context length is 4096 tokens. "
                                 "However, you requested 5000 tokens.",
                                 "type": "BadRequestError", "code": 400})
        elif model == "boom":
            body = b"Internal Server Error\x1b[31m\x00 gone\r\n"
            self.send_response(500)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        elif model == "html":
            body = b"<html><body>Welcome to nginx!</body></html>"
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        elif model == "hang":
            time.sleep(30)
            self.close_connection = True
        elif model == "slow":
            self.start_stream()
            for i in range(25):
                self.write_chunk(chunk({"content": "tick %d " % i}))
                time.sleep(0.2)
            self.write_chunk(chunk({}, finish="stop"))
            self.write_chunk(DONE)
            self.write_chunk(b"")
        elif model == "split":
            self.start_stream()
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            data = "".join(events(model)).encode()
            for i in range(0, len(data), 3):
                self.write_chunk(data[i:i + 3])
                time.sleep(0.001)
            self.write_chunk(b"")
        elif model == "cut":
            self.start_stream()
            for ev in events(model):
                self.write_chunk(ev)
            # A chunk header promising more than comes, then the connection closes.
            self.wfile.write(b"40\r\ndata: {\"cho")
            self.wfile.flush()
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
        elif model == "cutclean":
            self.start_stream(chunked=False)
            for ev in events(model):
                self.wfile.write(ev.encode())
                self.wfile.flush()
        elif events(model) is not None:
            self.start_stream()
            for ev in events(model):
                self.write_chunk(ev)
            self.write_chunk(b"")
        else:
            self.send_json(404, {"object": "error", "message":
                                 "The model `%s` does not exist." % model,
                                 "type": "NotFoundError", "code": 404})


class Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        pass  # a client that hung up (the cancel and timeout tests do) is no news


def main():
    global RECORD
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--port-file")
    ap.add_argument("--record")
    args = ap.parse_args()
    RECORD = args.record
    srv = Server(("127.0.0.1", args.port), Handler)
    port = srv.server_address[1]
    if args.port_file:
        with open(args.port_file + ".tmp", "w") as f:
            f.write("%d\n" % port)
        os.replace(args.port_file + ".tmp", args.port_file)
    else:
        print(port, flush=True)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
