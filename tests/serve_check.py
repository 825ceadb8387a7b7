#!/usr/bin/env python3
"""serve_check.py — checks a live `ponder serve` from outside, for tests/e2e_serve.sh.

Python 3 standard library only. Prints one "PASS name" or "FAIL name: why" line per
check (and "INFO ..." lines with figures); exits 1 when a check failed, 0 otherwise.

  serve_check.py --port P --pid PID [--key KEY] SUBCOMMAND [ARG]

  hostile       malformed, oversized and abusive requests each get their 4xx, slow and
                lying clients are shrugged off, 300 fuzzed bodies get 200 or 4xx; the
                server answers /health after each (server at --max-messages 1024 and
                the --max-body given here)
  concurrent N  N streaming requests at once, several rounds: each a whole stream or a
                503 with Retry-After; the server's RSS stays flat across rounds
  disconnect    clients that close right after sending (and one mid-stream) leave the
                server idle (/health busy false, waiting 0) within 3 s
  stream        streamed and whole replies agree at temperature 0; usage; exact SSE
  auth KEY      401 without or with a wrong key, 200 with it; /health needs none
  sigterm       a long stream is running when this sends SIGTERM to --pid: the stream
                ends within 5 s with an error event saying the server is shutting down,
                then [DONE] (the shell test checks the exit status)
  reply         prints the whole (non-streamed) reply of the temperature-0 question as
                JSON {"reasoning": ..., "content": ...} (for the npm client check)

The long requests (disconnect, sigterm) need the server started with a high default
temperature (--temperature 100) and --ctx 2048: a seed whose reply runs >= 1000 tokens
is looked for first, as the pipe tests do.
"""
import argparse
import http.client
import json
import os
import random
import signal
import socket
import sys
import threading
import time

ARGS = None
FAILED = False
QUESTION = "What is 12 + 30?"
TIMEOUT = 30.0


def ok(name):
    print("PASS " + name, flush=True)


def bad(name, why):
    global FAILED
    FAILED = True
    why = " ".join(str(why).split())
    print("FAIL %s: %s" % (name, why[:600]), flush=True)


def check(name, cond, why):
    if cond:
        ok(name)
    else:
        bad(name, why)
    return cond


def info(msg):
    print("INFO " + msg, flush=True)


def headers(extra=None, key=True):
    h = {"Content-Type": "application/json"}
    if key and ARGS.key:
        h["Authorization"] = "Bearer " + ARGS.key
    if extra:
        h.update(extra)
    return h


def request(method, path, body=None, hdrs=None, timeout=TIMEOUT):
    """(status, headers as a lower-case dict, body bytes); raises on a dropped
    connection or a timeout."""
    conn = http.client.HTTPConnection("127.0.0.1", ARGS.port, timeout=timeout)
    try:
        if isinstance(body, str):
            body = body.encode()
        conn.request(method, path, body=body, headers=hdrs if hdrs is not None else headers())
        r = conn.getresponse()
        data = r.read()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, data
    finally:
        conn.close()


def chat_body(question=QUESTION, **kw):
    b = {"model": ARGS.model, "messages": [{"role": "user", "content": question}]}
    b.update(kw)
    return b


def post_chat(body, timeout=TIMEOUT, hdrs=None):
    if not isinstance(body, (bytes, str)):
        body = json.dumps(body)
    return request("POST", "/v1/chat/completions", body, hdrs, timeout)


def health():
    """The /health object, or None when it does not answer 200 with JSON."""
    try:
        st, _, data = request("GET", "/health", timeout=5, hdrs={})
        if st != 200:
            return None
        return json.loads(data)
    except Exception:
        return None


def rss_kb():
    try:
        with open("/proc/%d/status" % ARGS.pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return -1


def alive():
    try:
        os.kill(ARGS.pid, 0)
        return True
    except OSError:
        return False


def parse_sse(data):
    """(events as a list of the text after "data: ", a framing error or None)."""
    text = data.decode("utf-8", "strict")
    if not text.endswith("\n\n"):
        return [], "the stream does not end with a blank line: %r" % text[-80:]
    blocks = text[:-2].split("\n\n")
    events = []
    for b in blocks:
        if "\n" in b or not b.startswith("data: "):
            return events, "an event that is not one 'data: ' line: %r" % b[:120]
        events.append(b[len("data: "):])
    if not events or events[-1] != "[DONE]":
        return events, "the last event is not [DONE]: %r" % (events[-1:] or "")
    return events, None


def reassemble(events):
    """(reasoning, content, finish_reason, usage, error) of a parsed stream."""
    reasoning, content, finish, usage = [], [], None, None
    for ev in events[:-1]:
        obj = json.loads(ev)
        if "error" in obj:
            return None, None, None, None, "an error in the stream: %s" % ev[:200]
        if obj.get("usage") is not None:
            usage = obj["usage"]
        for ch in obj.get("choices") or []:
            d = ch.get("delta") or {}
            if d.get("reasoning_content"):
                reasoning.append(d["reasoning_content"])
            if d.get("content"):
                content.append(d["content"])
            if ch.get("finish_reason"):
                finish = ch["finish_reason"]
    return "".join(reasoning), "".join(content), finish, usage, None


def whole_reply(body):
    st, _, data = post_chat(body)
    if st != 200:
        raise RuntimeError("status %d: %s" % (st, data[:200]))
    obj = json.loads(data)
    m = obj["choices"][0]["message"]
    return m.get("reasoning_content") or "", m.get("content") or "", obj


def wait_idle(seconds):
    """Polls /health until busy false and waiting 0; the last object seen and whether
    it got there."""
    end = time.monotonic() + seconds
    h = None
    while True:
        h = health()
        if h and h.get("busy") is False and h.get("waiting") == 0:
            return h, True
        if time.monotonic() > end:
            return h, False
        time.sleep(0.05)


LONG_SEED = None


def long_seed():
    """A seed whose reply (at the server's temperature, max_tokens 2000) runs at least
    1000 tokens; None when none of 1..60 does."""
    global LONG_SEED
    if LONG_SEED is not None:
        return LONG_SEED
    for s in range(1, 61):
        b = {"model": ARGS.model, "seed": s, "max_tokens": 2000,
             "messages": [{"role": "user", "content": "Tell me about numbers"}]}
        try:
            _, _, obj = whole_reply(b)
        except Exception:
            continue
        if obj["usage"]["completion_tokens"] >= 1000:
            LONG_SEED = s
            info("long reply: seed %d gives %d tokens" % (s, obj["usage"]["completion_tokens"]))
            return s
    return None


def long_body(stream=True):
    return {"model": ARGS.model, "seed": long_seed(), "max_tokens": 2000, "stream": stream,
            "messages": [{"role": "user", "content": "Tell me about numbers"}]}


# ---------------------------------------------------------------------------- hostile

def raw_send(data, timeout=10.0):
    """Sends bytes on a fresh connection, ends its sending side and reads to EOF; the
    reply bytes."""
    s = socket.create_connection(("127.0.0.1", ARGS.port), timeout=timeout)
    try:
        s.sendall(data)
        s.shutdown(socket.SHUT_WR)
        out = b""
        while True:
            b = s.recv(65536)
            if not b:
                return out
            out += b
    finally:
        s.close()


def hostile_case(name, want, fn):
    try:
        st, hd, data = fn()
    except Exception as e:
        bad("hostile_" + name, "no HTTP answer: %s: %s" % (type(e).__name__, e))
        st = None
    else:
        if st == want:
            try:
                err = json.loads(data)["error"]
                assert isinstance(err["message"], str) and err["message"]
            except Exception:
                bad("hostile_" + name, "status %d but no OpenAI error object: %r"
                    % (st, data[:200]))
                st = None
        else:
            bad("hostile_" + name, "status %s (want %d): %r" % (st, want, data[:300]))
            st = None
    h = health()
    if h is None:
        bad("hostile_" + name, "/health does not answer 200 afterwards (server alive: %s)"
            % alive())
        return False
    if st == want:
        ok("hostile_" + name)
    return st == want


def nested(depth):
    return ('{"model":"%s","messages":' % ARGS.model) + "[" * depth + "]" * depth + "}"


def cmd_hostile():
    m = ARGS.model
    user = lambda text: [{"role": "user", "content": text}]  # noqa: E731
    js = json.dumps
    cases = []
    # A valid body padded past --max-body.
    pad = "x" * (ARGS.max_body + 1)
    cases.append(("body_too_large", 413, lambda: post_chat(
        js({"model": m, "messages": user("hi"), "user": pad}))))
    # The same without a Content-Length (chunked): the limit holds as the body arrives.
    big = js({"model": m, "messages": user("hi"), "user": pad}).encode()
    pieces = [big[i:i + 65536] for i in range(0, len(big), 65536)]
    cases.append(("chunked_body_too_large", 413, lambda: request(
        "POST", "/v1/chat/completions", iter(pieces), headers())))
    cases.append(("deep_nesting", 400, lambda: post_chat(nested(100000))))
    cases.append(("invalid_utf8", 400, lambda: post_chat(
        b'{"model":"' + m.encode() + b'","messages":[{"role":"user","content":"ab\xff\xfe\xc0\x80cd"}]}')))
    cases.append(("nul_in_content", 400, lambda: post_chat(
        '{"model":"%s","messages":[{"role":"user","content":"a\\u0000b"}]}' % m)))
    for label, v in (("negative", -1), ("zero", 0), ("huge", 10 ** 12), ("fractional", 1.5),
                     ("string", "10")):
        cases.append(("max_tokens_" + label, 400,
                      (lambda v=v: post_chat({"model": m, "messages": user("hi"),
                                              "max_tokens": v}))))
    over = "what is 1 + 1 " * 1000  # ~5000 tokens: over the test server's --ctx 2048
    cases.append(("over_context", 400, lambda: post_chat({"model": m, "messages": user(over)})))
    cases.append(("over_context_stream", 400, lambda: post_chat(
        {"model": m, "messages": user(over), "stream": True})))
    cases.append(("role_wizard", 400, lambda: post_chat(
        {"model": m, "messages": [{"role": "wizard", "content": "abracadabra"}]})))
    cases.append(("role_tool", 400, lambda: post_chat(
        {"model": m, "messages": user("hi") + [{"role": "tool", "content": "42",
                                                "tool_call_id": "x"}] + user("and?")})))
    many = []
    for i in range(5000):
        many += [{"role": "user", "content": "q%d" % i}, {"role": "assistant", "content": "a"}]
    many[-1] = {"role": "user", "content": "last"}
    cases.append(("too_many_messages", 400, lambda: post_chat({"model": m, "messages": many})))
    cases.append(("empty_messages", 400, lambda: post_chat({"model": m, "messages": []})))
    cases.append(("top_level_array", 400, lambda: post_chat(
        js([{"model": m, "messages": user("hi")}]))))
    cases.append(("not_json", 400, lambda: post_chat("this is not JSON {")))
    cases.append(("wrong_model", 404, lambda: post_chat(
        {"model": "gpt-4o-nonexistent", "messages": user("hi")})))
    cases.append(("get_on_chat", 405, lambda: request("GET", "/v1/chat/completions")))
    cases.append(("unknown_path", 404, lambda: request("GET", "/v1/nowhere")))
    for name, want, fn in cases:
        hostile_case(name, want, fn)

    # The 405 names the method allowed.
    st, hd, _ = request("GET", "/v1/chat/completions")
    check("hostile_405_allow_header", st == 405 and "POST" in hd.get("allow", ""),
          "status %s Allow %r" % (st, hd.get("allow")))

    # Content-Length that claims more than is sent, then the client closes.
    def short_body():
        s = socket.create_connection(("127.0.0.1", ARGS.port), timeout=10)
        s.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n"
                  b"Content-Type: application/json\r\nContent-Length: 100000\r\n\r\n"
                  b'{"model":"' + m.encode() + b'","messages":[')
        time.sleep(0.2)
        s.close()
    t0 = time.monotonic()
    short_body()
    h = health()
    check("hostile_short_body_then_close", h is not None and time.monotonic() - t0 < 5,
          "/health after a lying Content-Length: %r (alive %s)" % (h, alive()))

    # The same lie, but the client stays (silent) while others are served.
    s = socket.create_connection(("127.0.0.1", ARGS.port), timeout=10)
    s.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n\r\n{")
    try:
        st, _, _ = post_chat(chat_body(temperature=0, max_tokens=8), timeout=10)
        check("hostile_short_body_others_served", st == 200,
              "a normal request beside a stalled upload got %s" % st)
    except Exception as e:
        bad("hostile_short_body_others_served", "%s: %s" % (type(e).__name__, e))
    s.close()

    # Slowloris: headers a byte at a time for ~2 s, then the client leaves; meanwhile
    # other clients are answered.
    req = (b"POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\n"
           b"Content-Type: application/json\r\nX-Slow: " + b"a" * 30 + b"\r\n")
    stop = threading.Event()
    errors = []

    def slow_client():
        try:
            s = socket.create_connection(("127.0.0.1", ARGS.port), timeout=10)
            for i in range(len(req)):
                if stop.is_set():
                    break
                s.send(req[i:i + 1])
                time.sleep(2.0 / len(req))
            s.close()
        except Exception as e:
            errors.append(e)
    slow = [threading.Thread(target=slow_client) for _ in range(5)]
    for t in slow:
        t.start()
    time.sleep(0.3)
    mid = health()
    for t in slow:
        t.join(15)
    h = health()
    check("hostile_slowloris", mid is not None and h is not None and not errors,
          "/health while slow: %r, after: %r, client errors %r" % (mid, h, errors))

    # Half a request line, then close; a request line of 64 KiB; garbage instead of HTTP.
    for name, data in (("half_request_line", b"POST /v1/chat/compl"),
                       ("huge_request_line", b"GET /" + b"a" * 65536 + b" HTTP/1.1\r\n\r\n"),
                       ("garbage_not_http", bytes(range(256)) * 4 + b"\r\n\r\n")):
        err = None
        try:
            raw_send(data, timeout=10)
        except (ConnectionError, socket.timeout, OSError) as e:
            err = e  # the server may reset such a connection: that is fine
        h = health()
        check("hostile_" + name, h is not None and not isinstance(err, socket.timeout),
              "/health %r after it (client saw %r)" % (h, err))

    fuzz()


def mutate(rng, base):
    b = bytearray(base)
    for _ in range(rng.randint(1, 4)):
        op = rng.randrange(6)
        if not b:
            b = bytearray(base)
        i = rng.randrange(len(b))
        if op == 0:    # flip bits of a byte
            b[i] ^= 1 << rng.randrange(8)
        elif op == 1:  # a random byte
            b[i] = rng.randrange(256)
        elif op == 2:  # truncate
            del b[i:]
        elif op == 3:  # duplicate a slice
            j = min(len(b), i + rng.randint(1, 40))
            b[j:j] = b[i:j]
        elif op == 4:  # delete a slice
            del b[i:i + rng.randint(1, 10)]
        else:          # insert JSON-ish bytes
            b[i:i] = rng.choice([b"{", b"}", b"[", b"]", b'"', b",", b":", b"\\",
                                 b"\\u", b"null", b"-1", b"1e999", b"\x00", b"\xc3",
                                 b"\xf0\x9f", b"9" * 30])
    return bytes(b)


def fuzz():
    seed = ARGS.seed if ARGS.seed is not None else random.randrange(1 << 30)
    rng = random.Random(seed)
    bases = [json.dumps({"model": ARGS.model, "temperature": 0, "max_tokens": 16,
                         "stream": s, "stream_options": {"include_usage": True},
                         "messages": [{"role": "system", "content": "Be brief."},
                                      {"role": "user", "content": QUESTION}]}).encode()
             for s in (False, True)]
    counts = {}
    problems = []
    t0 = time.monotonic()
    for n in range(ARGS.fuzz):
        body = mutate(rng, bases[n % 2])
        try:
            st, _, _ = post_chat(body, timeout=20)
        except Exception as e:
            problems.append("#%d %s: %s (body %r)" % (n, type(e).__name__, e, body[:200]))
            if health() is None:
                break
            continue
        counts[st] = counts.get(st, 0) + 1
        if not (st == 200 or 400 <= st < 500):
            problems.append("#%d status %d (body %r)" % (n, st, body[:200]))
    h = health()
    info("fuzz: seed %d, %d requests in %.1f s, statuses %s" % (
        seed, ARGS.fuzz, time.monotonic() - t0,
        ", ".join("%d: %d" % kv for kv in sorted(counts.items()))))
    check("hostile_fuzz_%d" % ARGS.fuzz, not problems and h is not None,
          "; ".join(problems[:5]) + (" /health %r" % h))


# ---------------------------------------------------------------------------- concurrent

def one_stream(results, i, barrier):
    body = json.dumps(chat_body(temperature=0, stream=True, max_tokens=200))
    try:
        conn = http.client.HTTPConnection("127.0.0.1", ARGS.port, timeout=60)
        barrier.wait(10)
        conn.request("POST", "/v1/chat/completions", body=body, headers=headers())
        r = conn.getresponse()
        data = r.read()
        conn.close()
    except Exception as e:
        results[i] = ("error", "%s: %s" % (type(e).__name__, e))
        return
    if r.status == 503:
        ra = r.getheader("Retry-After")
        if ra and ra.isdigit():
            results[i] = ("503", None)
        else:
            results[i] = ("error", "503 without a Retry-After: %r" % data[:200])
        return
    if r.status != 200:
        results[i] = ("error", "status %d: %r" % (r.status, data[:200]))
        return
    try:
        events, ferr = parse_sse(data)
        if ferr:
            results[i] = ("error", ferr)
            return
        reasoning, content, finish, _, err = reassemble(events)
        if err or not finish:
            results[i] = ("error", err or "no finish_reason chunk")
            return
        results[i] = ("ok", (reasoning, content))
    except Exception as e:
        results[i] = ("error", "%s: %s" % (type(e).__name__, e))


def cmd_concurrent():
    n = ARGS.n
    rss = []
    all_ok = True
    answers = set()
    totals = {"ok": 0, "503": 0, "error": 0}
    for rnd in range(1, ARGS.rounds + 1):
        results = [None] * n
        barrier = threading.Barrier(n)
        threads = [threading.Thread(target=one_stream, args=(results, i, barrier))
                   for i in range(n)]
        t0 = time.monotonic()
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        hung = sum(t.is_alive() for t in threads)
        counts = {"ok": 0, "503": 0, "error": 0}
        errs = []
        for r in results:
            if r is None:
                counts["error"] += 1
                errs.append("no result (hung)")
                continue
            counts[r[0]] += 1
            if r[0] == "ok":
                answers.add(r[1])
            elif r[0] == "error":
                errs.append(r[1])
        for k in totals:
            totals[k] += counts[k]
        h, idle = wait_idle(5)
        rss.append(rss_kb())
        info("concurrent round %d: %d streams: %d complete, %d got 503 + Retry-After, "
             "%d other, %.1f s, RSS %d kB" % (rnd, n, counts["ok"], counts["503"],
                                              counts["error"], time.monotonic() - t0, rss[-1]))
        if errs or hung or not idle or counts["ok"] == 0:
            all_ok = False
            bad("concurrent_round_%d" % rnd, "%d bad (%s), %d hung, idle after: %r"
                % (len(errs), "; ".join(errs[:3]), hung, h))
    if all_ok:
        ok("concurrent_%dx%d" % (ARGS.rounds, n))
    info("concurrent totals: %d complete, %d 503" % (totals["ok"], totals["503"]))
    check("concurrent_same_answer", len(answers) == 1,
          "%d different (reasoning, content) pairs at temperature 0: %r"
          % (len(answers), [a[1][:60] for a in answers][:3]))
    growth = rss[-1] - rss[0]
    info("RSS after round 1: %d kB, after round %d: %d kB (growth %+d kB)"
         % (rss[0], len(rss), rss[-1], growth))
    if ARGS.no_rss:
        print("SKIP concurrent_rss_flat: %s" % ARGS.no_rss)
        return
    check("concurrent_rss_flat", rss[0] > 0 and growth < ARGS.rss_slack_kb,
          "RSS grew by %d kB from round 1 to round %d (allowed %d kB): %r"
          % (growth, len(rss), ARGS.rss_slack_kb, rss))


# ---------------------------------------------------------------------------- disconnect

def send_and_close(body):
    s = socket.create_connection(("127.0.0.1", ARGS.port), timeout=10)
    data = body.encode()
    hdr = ("POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\n"
           "Content-Type: application/json\r\nContent-Length: %d\r\n" % len(data))
    if ARGS.key:
        hdr += "Authorization: Bearer %s\r\n" % ARGS.key
    s.sendall(hdr.encode() + b"\r\n" + data)
    s.close()


def cmd_disconnect():
    if long_seed() is None:
        bad("disconnect_setup", "no seed from 1 to 60 gives a reply of 1000 tokens "
            "(start the server with --temperature 100 --ctx 2048)")
        return
    # A long streamed reply keeps the engine busy; meanwhile 6 clients send a request
    # each and close at once (queued, then gone); the long one must still end whole.
    result = {}

    def normal():
        try:
            st, _, data = post_chat(long_body(True), timeout=60)
            events, ferr = parse_sse(data) if st == 200 else ([], "status %d" % st)
            result["r"] = ferr or (reassemble(events)[2] and "ok") or "no finish_reason"
        except Exception as e:
            result["r"] = "%s: %s" % (type(e).__name__, e)
    t = threading.Thread(target=normal)
    t.start()
    time.sleep(0.05)
    for _ in range(6):
        send_and_close(json.dumps(chat_body(stream=True, max_tokens=2000, seed=long_seed())))
    mid = health()
    info("disconnect: /health right after the 6 closed clients: %r" % mid)
    t.join(60)
    check("disconnect_normal_served", result.get("r") == "ok",
          "the request beside the closed ones: %r" % result.get("r"))
    h, idle = wait_idle(3)
    check("disconnect_idle_within_3s", idle, "/health after 3 s: %r" % h)

    # Mid-stream: a client reads the first event of a long reply and closes; the
    # generation stops (busy false within 3 s, well before the reply would end).
    s = socket.create_connection(("127.0.0.1", ARGS.port), timeout=10)
    data = json.dumps(long_body(True)).encode()
    s.sendall(("POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n"
               "%s\r\n" % (len(data), "Authorization: Bearer %s\r\n" % ARGS.key
                           if ARGS.key else "")).encode() + data)
    got = s.recv(4096)
    s.close()
    t0 = time.monotonic()
    h, idle = wait_idle(3)
    check("disconnect_mid_stream_stops", b"200" in got.split(b"\r\n")[0] and idle,
          "first bytes %r, /health %r after %.1f s" % (got[:40], h, time.monotonic() - t0))

    # Streams and whole replies still work.
    try:
        r, c, _ = whole_reply(chat_body(temperature=0))
        st, _, data = post_chat(chat_body(temperature=0, stream=True))
        events, ferr = parse_sse(data)
        check("disconnect_then_normal", st == 200 and not ferr and c,
              "status %d %s content %r" % (st, ferr, c))
    except Exception as e:
        bad("disconnect_then_normal", "%s: %s" % (type(e).__name__, e))


# ---------------------------------------------------------------------------- stream

def cmd_stream():
    body = chat_body(temperature=0, stream=True, stream_options={"include_usage": True})
    conn = http.client.HTTPConnection("127.0.0.1", ARGS.port, timeout=TIMEOUT)
    conn.request("POST", "/v1/chat/completions", body=json.dumps(body), headers=headers())
    r = conn.getresponse()
    data = r.read()
    ctype = r.getheader("Content-Type", "")
    conn.close()
    if not check("stream_status", r.status == 200 and ctype.startswith("text/event-stream"),
                 "status %d Content-Type %r: %r" % (r.status, ctype, data[:200])):
        return
    events, ferr = parse_sse(data)
    check("stream_sse_framing", ferr is None, ferr)
    if ferr:
        return
    objs = [json.loads(e) for e in events[:-1]]
    ids = {o.get("id") for o in objs}
    first = objs[0]["choices"][0]["delta"] if objs and objs[0].get("choices") else {}
    # The order: deltas, then one chunk with finish_reason, then the usage chunk
    # (choices empty), then [DONE].
    fin = [i for i, o in enumerate(objs) if o.get("choices")
           and o["choices"][0].get("finish_reason")]
    use = [i for i, o in enumerate(objs) if o.get("usage")]
    shape = (len(ids) == 1 and all(o.get("object") == "chat.completion.chunk" for o in objs)
             and first.get("role") == "assistant" and fin == [len(objs) - 2]
             and use == [len(objs) - 1] and objs[-1].get("choices") == []
             and all(o.get("model") == ARGS.model for o in objs))
    check("stream_chunk_order", shape, "ids %r first delta %r finish at %r usage at %r of %d"
          % (ids, first, fin, use, len(objs)))
    sr, sc, finish, usage, err = reassemble(events)
    wr, wc, whole = whole_reply(chat_body(temperature=0))
    check("stream_matches_whole", not err and sr == wr and sc == wc and sr and sc,
          "streamed (%r, %r) whole (%r, %r) %s" % (sr[:80], sc[:80], wr[:80], wc[:80], err))
    wu = whole.get("usage") or {}
    good = lambda u: (isinstance(u, dict) and u.get("prompt_tokens", 0) > 0  # noqa: E731
                      and u.get("completion_tokens", 0) > 0
                      and u.get("total_tokens") == u["prompt_tokens"] + u["completion_tokens"])
    check("stream_usage", good(usage) and good(wu)
          and usage["completion_tokens"] == wu["completion_tokens"]
          and finish == whole["choices"][0]["finish_reason"],
          "streamed usage %r, whole usage %r, finish %r / %r"
          % (usage, wu, finish, whole["choices"][0].get("finish_reason")))
    # Without include_usage: no usage chunk.
    st, _, data = post_chat(chat_body(temperature=0, stream=True))
    events, ferr = parse_sse(data)
    check("stream_no_usage_unless_asked", st == 200 and not ferr
          and not any('"usage"' in e for e in events), "status %d %s" % (st, ferr))
    # /v1/models names the model.
    st, _, data = request("GET", "/v1/models")
    try:
        ids = [m["id"] for m in json.loads(data)["data"]]
    except Exception:
        ids = None
    check("models_list", st == 200 and ids == [ARGS.model], "status %d %r" % (st, data[:200]))


# ---------------------------------------------------------------------------- auth

def cmd_auth():
    key = ARGS.arg
    body = json.dumps(chat_body(temperature=0, max_tokens=8))
    plain = {"Content-Type": "application/json"}
    cases = [("auth_no_header", None, 401), ("auth_wrong_key", "Bearer wrong-" + key, 401),
             ("auth_key_prefix", "Bearer " + key[:-1], 401),
             ("auth_not_bearer", "Basic " + key, 401), ("auth_right_key", "Bearer " + key, 200)]
    for name, auth, want in cases:
        h = dict(plain)
        if auth:
            h["Authorization"] = auth
        try:
            st, _, data = request("POST", "/v1/chat/completions", body, h)
            st2, _, _ = request("GET", "/v1/models", None, h)
        except Exception as e:
            bad(name, "%s: %s" % (type(e).__name__, e))
            continue
        check(name, st == want and st2 == want,
              "chat %d, models %d (want %d): %r" % (st, st2, want, data[:200]))
    st, _, _ = request("GET", "/health", None, {})
    check("auth_health_open", st == 200, "/health without a key: %d" % st)


# ---------------------------------------------------------------------------- sigterm

def cmd_sigterm():
    """SIGTERM while a long reply streams, two more wait in the queue (one streamed, one
    not), a keep-alive connection idles and a client is half-way through its headers:
    every one of them ends within 5 s (the queued ones with a 503, or a closed
    connection), and the shell test checks the exit status."""
    if long_seed() is None:
        bad("sigterm_setup", "no seed from 1 to 60 gives a reply of 1000 tokens")
        return
    conn = http.client.HTTPConnection("127.0.0.1", ARGS.port, timeout=10)
    conn.request("POST", "/v1/chat/completions", body=json.dumps(long_body(True)),
                 headers=headers())
    r = conn.getresponse()
    first = r.read1(256)
    if not check("sigterm_stream_started", r.status == 200 and first.startswith(b"data: "),
                 "status %d first %r" % (r.status, first[:80])):
        return
    queued = {}

    def waiter(name, body):
        try:
            st, hd, data = post_chat(body, timeout=10)
            queued[name] = "%d%s" % (st, " Retry-After" if "retry-after" in hd else "")
        except Exception as e:
            queued[name] = "closed (%s)" % type(e).__name__
    waiters = [threading.Thread(target=waiter, args=("queued_stream", long_body(True))),
               threading.Thread(target=waiter, args=("queued_whole", long_body(False)))]
    for t in waiters:
        t.start()
    idle = http.client.HTTPConnection("127.0.0.1", ARGS.port, timeout=10)
    idle.request("GET", "/health")
    idle.getresponse().read()  # the connection stays open (keep-alive)
    slow = socket.create_connection(("127.0.0.1", ARGS.port), timeout=10)
    slow.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Le")
    end = time.monotonic() + 3
    while (health() or {}).get("waiting") != 2 and time.monotonic() < end:
        time.sleep(0.02)
    info("sigterm: before SIGTERM /health says %r" % health())
    os.kill(ARGS.pid, signal.SIGTERM)
    t0 = time.monotonic()
    rest, err = first, None
    try:
        while True:
            b = r.read1(65536)
            if not b:
                break
            rest += b
            if time.monotonic() - t0 > 5:
                err = "still streaming 5 s after SIGTERM"
                break
    except (http.client.IncompleteRead, ConnectionError, OSError) as e:
        info("sigterm: the stream was cut (%s)" % type(e).__name__)
    conn.close()
    dt = time.monotonic() - t0
    chunks = rest.count(b"data: {")
    fin = rest.rsplit(b'"finish_reason":"', 1)[-1].split(b'"', 1)[0] \
        if b'"finish_reason":"' in rest else None
    info("sigterm: the stream ended %.2f s after SIGTERM after %d chunks, finish_reason %r, %s"
         % (dt, chunks, fin, "then [DONE]" if rest.endswith(b"data: [DONE]\n\n")
            else "no [DONE]"))
    # The stream ends whole: the error event that says the server stopped the reply
    # (not a finish_reason, which would pass a cut reply off as complete) and [DONE] go
    # out before the server closes.
    whole = rest.endswith(b"data: [DONE]\n\n") and b'"finish_reason":"' not in rest \
        and b'shutting down' in rest.rsplit(b"data: {", 1)[-1]
    check("sigterm_stream_ends_whole", err is None and dt < 5 and whole,
          err or ("took %.1f s" % dt if dt >= 5 else "cut short: %d bytes, ending %r"
                  % (len(rest), rest[-120:])))
    for t in waiters:
        t.join(6)
    info("sigterm: the queued requests got %r" % queued)
    check("sigterm_queued_answered", not any(t.is_alive() for t in waiters)
          and len(queued) == 2 and all(v.startswith(("503 Retry-After", "closed"))
                                       for v in queued.values()), "queued: %r" % queued)
    slow.settimeout(5)
    try:
        slow.recv(100)  # b"" (closed) or an error answer: the server let it go
        gone = True
    except socket.timeout:
        gone = False
    except OSError:
        gone = True
    idle.close()
    slow.close()
    check("sigterm_closes_half_request", gone, "a client half-way through its headers was "
          "still connected 5 s after SIGTERM")


def cmd_reply():
    r, c, _ = whole_reply(chat_body(temperature=0))
    print(json.dumps({"reasoning": r, "content": c}))


def main():
    global ARGS
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--pid", type=int, required=True)
    p.add_argument("--key", default=None, help="the API key to send (when the server has one)")
    p.add_argument("--model", default="demo")
    p.add_argument("--max-body", type=int, default=1 << 20,
                   help="the server's --max-body in bytes")
    p.add_argument("--fuzz", type=int, default=300)
    p.add_argument("--seed", type=int, default=None, help="the fuzz seed (random if not given)")
    p.add_argument("--rounds", type=int, default=4)
    p.add_argument("--rss-slack-kb", type=int, default=4096)
    p.add_argument("--no-rss", metavar="WHY", default=None,
                   help="skip the RSS check, saying why (an ASan build)")
    p.add_argument("cmd", choices=["hostile", "concurrent", "disconnect", "stream", "auth",
                                   "sigterm", "reply"])
    p.add_argument("arg", nargs="?")
    ARGS = p.parse_args()
    if ARGS.cmd == "concurrent":
        ARGS.n = int(ARGS.arg or 50)
    if ARGS.cmd == "auth" and not ARGS.arg:
        p.error("auth needs the key")
    {"hostile": cmd_hostile, "concurrent": cmd_concurrent, "disconnect": cmd_disconnect,
     "stream": cmd_stream, "auth": cmd_auth, "sigterm": cmd_sigterm,
     "reply": cmd_reply}[ARGS.cmd]()
    return 1 if FAILED else 0


if __name__ == "__main__":
    sys.exit(main())
