"""Load check of the web app: many generate requests at once against one server, each must be answered.

    python scripts/app_load_check.py ckpt=runs/synthetic/transformer_demo/last.pt [--requests 20] [--length 2]
                                     [key=value ...]   (more overrides for python -m intermask.serve)

Starts ``python -m intermask.serve`` on a free port of 127.0.0.1 with a temporary output folder, sends one
warm-up request, then ``--requests`` generate requests at the same moment from as many threads, and follows each
to its end. Prints per request the time it waited in line and the time to its answer, checks that every one is
answered with its own caption and that its files are on disk, and reports the server's resident memory (Linux
/proc) at start, after the warm-up, at its peak and after the burst. Exits 1 when a request is lost or fails.
"""
from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def resident_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for process {pid}")


def get(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=60) as response:
        return json.loads(response.read())


def submit(base: str, caption: str, seed: int, length: float) -> dict:
    body = urllib.parse.urlencode({"captions": caption, "seed": seed, "length": length}).encode()
    with urllib.request.urlopen(urllib.request.Request(f"{base}/api/generate", data=body), timeout=60) as response:
        return json.loads(response.read())


def one_request(base: str, k: int, length: float, start: threading.Event) -> dict:
    caption = f"two people shake hands, request {k}"
    start.wait()
    sent = time.monotonic()
    job = submit(base, caption, abs(k), length)["job"]
    while (state := get(f"{base}/api/jobs/{job}"))["state"] in ("queued", "running"):
        time.sleep(0.1)
    return {"k": k, "caption": caption, "answered_s": time.monotonic() - sent, **state}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=20)
    parser.add_argument("--length", type=float, default=2.0, help="seconds per clip")
    args, overrides = parser.parse_known_args()
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory(prefix="app_load_check_") as out:
        command = [sys.executable, "-m", "intermask.serve", f"port={port}", f"sample.out={out}", *overrides]
        server = subprocess.Popen(command, cwd=ROOT, env={**os.environ, "HF_HUB_OFFLINE": "1"})
        try:
            deadline = time.monotonic() + 300
            while True:
                try:
                    get(f"{base}/api/info")
                    break
                except (urllib.error.URLError, ConnectionError):
                    if server.poll() is not None or time.monotonic() > deadline:
                        print("the server did not start", file=sys.stderr)
                        return 1
                    time.sleep(0.5)
            memory = {"start": resident_mb(server.pid)}
            warm = one_request(base, -1, args.length, _set_event())
            memory["after warm-up"] = resident_mb(server.pid)

            peak, done = [memory["after warm-up"]], threading.Event()

            def watch():
                while not done.is_set():
                    peak.append(resident_mb(server.pid))
                    time.sleep(0.2)

            watcher = threading.Thread(target=watch)
            watcher.start()
            start = threading.Event()
            began = time.monotonic()
            with ThreadPoolExecutor(args.requests) as pool:
                futures = [pool.submit(one_request, base, k, args.length, start) for k in range(args.requests)]
                start.set()
                answers = [future.result() for future in futures]
            burst = time.monotonic() - began
            done.set()
            watcher.join()
            time.sleep(2)
            memory["peak"] = max(peak)
            memory["after"] = resident_mb(server.pid)
        finally:
            server.terminate()
            server.wait(30)

        problems = []
        for answer in answers:
            if answer["state"] != "done":
                problems.append(f"request {answer['k']}: {answer['state']} {answer.get('error')}")
            elif [result["text"] for result in answer["results"]] != [answer["caption"]]:
                problems.append(f"request {answer['k']}: answered with {answer['results']}")
            else:
                for link in answer["results"][0]["files"].values():
                    if not (Path(out) / link.removeprefix("/results/")).is_file():
                        problems.append(f"request {answer['k']}: {link} is not on disk")

    print(f"warm-up: answered in {warm['answered_s']:.2f} s")
    print(" request  waited_s  answered_s")
    for answer in sorted(answers, key=lambda a: a["waited"]):
        print(f"{answer['k']:8d}  {answer['waited']:8.2f}  {answer['answered_s']:10.2f}")
    waits = [answer["waited"] for answer in answers]
    print(f"{len(answers)} requests sent together, {sum(a['state'] == 'done' for a in answers)} answered with their "
          f"own result in {burst:.1f} s; waited in line: min {min(waits):.2f} s, median {statistics.median(waits):.2f} s, "
          f"max {max(waits):.2f} s")
    print("server memory (resident): " + ", ".join(f"{name} {value:.0f} MB" for name, value in memory.items()))
    for problem in problems:
        print("PROBLEM:", problem)
    return 1 if problems else 0


def _set_event() -> threading.Event:
    event = threading.Event()
    event.set()
    return event


if __name__ == "__main__":
    sys.exit(main())
