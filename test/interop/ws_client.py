#!/usr/bin/python3
"""A WebSocket remotecommand client on Debian's python3-websockets.

A second client we did not write the transport of, for exec and attach over
WebSocket: one channel byte in front of each binary message (v5/v4.channel.k8s.io,
channel.k8s.io), or the channel as an ASCII digit in front of base64 text
(base64.channel.k8s.io). Channels: 0 stdin, 1 stdout, 2 stderr, 3 error (a
Status JSON on v4+), 4 resize (JSON {"Width":w,"Height":h}); v5 adds 255,
whose payload names a channel the sender has closed.

usage: ws_client.py --url URL [--protocol P ...] [--stdin] [--resize WxH]
The remote stdout and stderr go to ours. Exit status: the remote exit code,
0 on success, 126 when the upgrade got another HTTP status (printed as
"http-status: N"), 125 on any other failure.
"""

import argparse
import asyncio
import base64
import json
import sys

import websockets

STDIN, STDOUT, STDERR, ERROR, RESIZE, CLOSE = 0, 1, 2, 3, 4, 255


def log(msg):
    print("ws_client.py: " + msg, file=sys.stderr, flush=True)


def exit_code_of(protocol, msg):
    """The session's exit status from the error channel's bytes."""
    if not msg:
        return 0
    if not (protocol.startswith("v4.") or protocol.startswith("v5.")):
        log("remote error: " + msg.decode(errors="replace"))
        return 125
    status = json.loads(msg)
    if status.get("status") == "Success":
        return 0
    if status.get("reason") == "NonZeroExitCode":
        for cause in (status.get("details") or {}).get("causes", []):
            if cause.get("reason") == "ExitCode":
                return int(cause["message"])
    log("remote failure: " + msg.decode(errors="replace"))
    return 125


class Session:
    def __init__(self, ws):
        self.ws = ws
        self.protocol = ws.subprotocol or ""
        self.base64 = "base64" in self.protocol

    async def send(self, channel, data):
        if self.base64:
            await self.ws.send(chr(ord("0") + channel) + base64.b64encode(data).decode())
        else:
            await self.ws.send(bytes([channel]) + data)

    def decode(self, msg):
        if self.base64:
            return ord(msg[0]) - ord("0"), base64.b64decode(msg[1:])
        return msg[0], msg[1:]


async def pump_stdin(s):
    loop = asyncio.get_running_loop()
    while True:
        data = await loop.run_in_executor(None, sys.stdin.buffer.read1, 65536)
        if not data:
            break
        await s.send(STDIN, data)
    if s.protocol.startswith("v5."):
        await s.send(CLOSE, bytes([STDIN]))


async def session(a):
    url = a.url.replace("http://", "ws://", 1).replace("https://", "wss://", 1)
    try:
        ws = await websockets.connect(url, subprotocols=a.protocol, max_size=None,
                                      open_timeout=30)
    except websockets.exceptions.InvalidStatusCode as e:
        print("http-status: %d" % e.status_code, file=sys.stderr)
        return 126
    s = Session(ws)
    if a.protocol and s.protocol not in a.protocol:
        log("server chose %r, which was not offered" % s.protocol)
        return 125
    if a.resize:
        w, h = (int(v) for v in a.resize.split("x"))
        await s.send(RESIZE, json.dumps({"Width": w, "Height": h}).encode())
    stdin_task = asyncio.ensure_future(pump_stdin(s)) if a.stdin else None
    error = b""
    try:
        async for msg in ws:
            if not msg:
                continue
            channel, data = s.decode(msg)
            if channel == STDOUT:
                sys.stdout.buffer.write(data)
                sys.stdout.buffer.flush()
            elif channel == STDERR:
                sys.stderr.buffer.write(data)
                sys.stderr.buffer.flush()
            elif channel == ERROR:
                error += data
    except websockets.exceptions.ConnectionClosedError as e:
        log("connection lost: %s" % e)
        return 125
    finally:
        if stdin_task:
            stdin_task.cancel()
        await ws.close()
    return exit_code_of(s.protocol, error)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--url", required=True)
    p.add_argument("--protocol", action="append",
                   help="offered subprotocol, repeatable (default v5 then v4.channel.k8s.io)")
    p.add_argument("--stdin", action="store_true", help="send our stdin")
    p.add_argument("--resize", help="terminal size WxH sent at the start")
    a = p.parse_args()
    a.protocol = a.protocol or ["v5.channel.k8s.io", "v4.channel.k8s.io"]
    try:
        code = asyncio.run(session(a))
    except Exception as e:  # any transport or protocol failure
        log("error: %r" % e)
        code = 125
    sys.stdout.flush()
    # The stdin reader thread may still block in read1; do not wait for it.
    import os
    os._exit(code)


if __name__ == "__main__":
    main()
