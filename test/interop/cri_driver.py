#!/usr/bin/python3
"""A small CRI client for the streaming interop checks and the streaming bench.

It drives any CRI endpoint (criusd, containerd's CRI plugin) through Python's
gRPC (Debian python3-grpcio) with message classes that protoc generates from
crius's api/api.proto at start-up (python3-protobuf), so the same calls reach
both runtimes. It sets up what a streaming session needs (a pod, a busybox
container) and prints the URLs of Exec, Attach and PortForward for
crius-stream-client; `bench-exec` times streaming Exec against ExecSync.

usage: cri_driver.py --endpoint unix:///path.sock COMMAND [args]
  image-tar OUT.tar NAME             busybox-static as a one-layer OCI archive
  pull IMAGE                         PullImage; prints the image ref
  runp NAME [--host-network] [--log-dir D]        prints the pod id
  run POD NAME IMAGE [--stdin] [--stdin-once] [--tty] -- CMD...
                                     create+start; prints the container id
  exec-url CTR [--stdin] [--tty] [--no-stdout] [--no-stderr] -- CMD...
  attach-url CTR [--stdin] [--tty] [--no-stdout] [--no-stderr]
  portforward-url POD PORT...
  execsync CTR [--timeout S] -- CMD...   prints stdout; exits with the code
  rmp POD                            stop and remove the pod and its containers
  bench-exec CTR --client PATH --n N --json OUT
                                     N x (streaming Exec of `true` through the
                                     Go client over SPDY) and N x ExecSync
                                     `true`, alternating; latencies in ms
"""

import argparse
import atexit
import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
import uuid

import grpc

HERE = os.path.dirname(os.path.abspath(__file__))
API_PROTO = os.path.join(HERE, "..", "..", "api", "api.proto")


def load_api():
    out = tempfile.mkdtemp(prefix="crius-cri-driver-")
    atexit.register(shutil.rmtree, out, ignore_errors=True)
    subprocess.run(["protoc", "--python_out=" + out, "-I", os.path.dirname(API_PROTO),
                    API_PROTO], check=True)
    sys.path.insert(0, out)
    import api_pb2  # noqa: E402  (generated just above)
    return api_pb2


class Cri:
    def __init__(self, endpoint, pb):
        self.pb = pb
        self.channel = grpc.insecure_channel(endpoint)

    def call(self, name, req, timeout=240):
        service = "ImageService" if name in ("PullImage", "ListImages") else "RuntimeService"
        resp_cls = getattr(self.pb, name + "Response")
        fn = self.channel.unary_unary("/runtime.v1.%s/%s" % (service, name),
                                      request_serializer=lambda m: m.SerializeToString(),
                                      response_deserializer=resp_cls.FromString)
        return fn(req, timeout=timeout)


def image_tar(out, name):
    """busybox-static with a link per applet, as an OCI archive for `ctr import`."""
    busybox = "/bin/busybox"
    applets = subprocess.run([busybox, "--list"], check=True, capture_output=True,
                             text=True).stdout.split()
    layer = io.BytesIO()
    with tarfile.open(fileobj=layer, mode="w", format=tarfile.PAX_FORMAT) as t:
        for d in ("bin", "tmp", "proc", "sys", "dev", "etc"):
            ti = tarfile.TarInfo(d)
            ti.type, ti.mode = tarfile.DIRTYPE, 0o1777 if d == "tmp" else 0o755
            t.addfile(ti)
        ti = tarfile.TarInfo("bin/busybox")
        data = open(busybox, "rb").read()
        ti.size, ti.mode = len(data), 0o755
        t.addfile(ti, io.BytesIO(data))
        for a in applets:
            if a == "busybox":
                continue
            ti = tarfile.TarInfo("bin/" + a)
            ti.type, ti.linkname = tarfile.SYMTYPE, "busybox"
            t.addfile(ti)
    blobs = {}

    def blob(b):
        d = "sha256:" + hashlib.sha256(b).hexdigest()
        blobs[d] = b
        return {"digest": d, "size": len(b)}

    lay = blob(layer.getvalue())
    cfg = blob(json.dumps({
        "architecture": "amd64", "os": "linux",
        "config": {"Cmd": ["/bin/sh"], "Env": ["PATH=/bin"], "WorkingDir": "/"},
        "rootfs": {"type": "layers", "diff_ids": [lay["digest"]]}}).encode())
    man = blob(json.dumps({
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": dict(cfg, mediaType="application/vnd.oci.image.config.v1+json"),
        "layers": [dict(lay, mediaType="application/vnd.oci.image.layer.v1.tar")]}).encode())
    index = {"schemaVersion": 2, "manifests": [dict(
        man, mediaType="application/vnd.oci.image.manifest.v1+json",
        annotations={"io.containerd.image.name": name,
                     "org.opencontainers.image.ref.name": name.rsplit(":", 1)[-1]})]}
    with tarfile.open(out, "w") as t:
        for path, b in [("oci-layout", b'{"imageLayoutVersion":"1.0.0"}'),
                        ("index.json", json.dumps(index).encode())] + \
                       [("blobs/sha256/" + d[7:], b) for d, b in blobs.items()]:
            ti = tarfile.TarInfo(path)
            ti.size = len(b)
            t.addfile(ti, io.BytesIO(b))


def pod_config(pb, name, host_network, log_dir):
    uid = uuid.uuid4().hex
    c = pb.PodSandboxConfig()
    c.metadata.name, c.metadata.namespace, c.metadata.uid = name, "crius-interop", uid
    if not host_network:  # a host-network pod has the host's UTS namespace
        c.hostname = name[:63]
    c.log_directory = os.path.join(log_dir, "crius-interop_%s_%s" % (name, uid))
    os.makedirs(c.log_directory, exist_ok=True)
    c.labels["crius-interop/name"] = name
    ns = c.linux.security_context.namespace_options
    ns.network = pb.NODE if host_network else pb.POD
    ns.pid = pb.CONTAINER
    return c


def cmd_pull(cri, a):
    req = cri.pb.PullImageRequest(image=cri.pb.ImageSpec(image=a.image))
    print(cri.call("PullImage", req, timeout=600).image_ref)


def cmd_runp(cri, a):
    cfg = pod_config(cri.pb, a.name, a.host_network, a.log_dir)
    print(cri.call("RunPodSandbox", cri.pb.RunPodSandboxRequest(config=cfg)).pod_sandbox_id)


def cmd_run(cri, a):
    pb = cri.pb
    status = cri.call("PodSandboxStatus", pb.PodSandboxStatusRequest(pod_sandbox_id=a.pod))
    md = status.status.metadata
    pcfg = pb.PodSandboxConfig()
    pcfg.metadata.CopyFrom(md)
    pcfg.log_directory = a.log_dir
    pcfg.linux.security_context.namespace_options.CopyFrom(
        status.status.linux.namespaces.options)
    image = pb.ImageSpec(image=a.image)
    c = pb.ContainerConfig(image=image, command=a.cmd, stdin=a.stdin, stdin_once=a.stdin_once,
                           tty=a.tty, log_path=a.name + ".log")
    c.metadata.name = a.name
    ctr = cri.call("CreateContainer", pb.CreateContainerRequest(
        pod_sandbox_id=a.pod, config=c, sandbox_config=pcfg)).container_id
    cri.call("StartContainer", pb.StartContainerRequest(container_id=ctr))
    print(ctr)


def stdio(a):
    return dict(stdin=a.stdin, tty=a.tty, stdout=not a.no_stdout,
                stderr=not a.no_stderr and not a.tty)


def cmd_exec_url(cri, a):
    print(cri.call("Exec", cri.pb.ExecRequest(container_id=a.container, cmd=a.cmd,
                                              **stdio(a))).url)


def cmd_attach_url(cri, a):
    print(cri.call("Attach", cri.pb.AttachRequest(container_id=a.container, **stdio(a))).url)


def cmd_portforward_url(cri, a):
    print(cri.call("PortForward", cri.pb.PortForwardRequest(pod_sandbox_id=a.pod,
                                                            port=a.ports)).url)


def cmd_execsync(cri, a):
    r = cri.call("ExecSync", cri.pb.ExecSyncRequest(container_id=a.container, cmd=a.cmd,
                                                    timeout=a.timeout))
    sys.stdout.buffer.write(r.stdout)
    sys.stderr.buffer.write(r.stderr)
    sys.exit(r.exit_code)


def cmd_rmp(cri, a):
    pb = cri.pb
    f = pb.ContainerFilter(pod_sandbox_id=a.pod)
    for c in cri.call("ListContainers", pb.ListContainersRequest(filter=f)).containers:
        cri.call("StopContainer", pb.StopContainerRequest(container_id=c.id, timeout=0))
        cri.call("RemoveContainer", pb.RemoveContainerRequest(container_id=c.id))
    cri.call("StopPodSandbox", pb.StopPodSandboxRequest(pod_sandbox_id=a.pod))
    cri.call("RemovePodSandbox", pb.RemovePodSandboxRequest(pod_sandbox_id=a.pod))


def summary(ms):
    s = sorted(ms)

    def pct(p):
        r = max(1, -(-p * len(s) // 100))
        return round(s[r - 1], 3)
    return {"n": len(s), "p50_ms": pct(50), "p90_ms": pct(90), "p99_ms": pct(99),
            "mean_ms": round(sum(s) / len(s), 3), "min_ms": round(s[0], 3),
            "max_ms": round(s[-1], 3), "samples_ms": [round(v, 3) for v in ms]}


def cmd_bench_exec(cri, a):
    pb = cri.pb
    streaming, sync = [], []
    for _ in range(a.n):
        t0 = time.perf_counter()
        url = cri.call("Exec", pb.ExecRequest(container_id=a.container, cmd=["true"],
                                              stdout=True, stderr=True)).url
        rc = subprocess.run([a.client, "-url", url, "-transport", "spdy", "-mode", "exec"],
                            stdin=subprocess.DEVNULL).returncode
        streaming.append((time.perf_counter() - t0) * 1000)
        if rc != 0:
            sys.exit("streaming exec of true exited %d" % rc)
        t0 = time.perf_counter()
        r = cri.call("ExecSync", pb.ExecSyncRequest(container_id=a.container, cmd=["true"],
                                                    timeout=60))
        sync.append((time.perf_counter() - t0) * 1000)
        if r.exit_code != 0:
            sys.exit("ExecSync of true exited %d" % r.exit_code)
    with open(a.json, "w") as f:
        json.dump({"streaming_exec_true": summary(streaming),
                   "execsync_true": summary(sync)}, f, indent=2)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--endpoint", default="")
    sub = p.add_subparsers(dest="command", required=True)
    s = sub.add_parser("image-tar")
    s.add_argument("out")
    s.add_argument("name")
    s = sub.add_parser("pull")
    s.add_argument("image")
    s = sub.add_parser("runp")
    s.add_argument("name")
    s.add_argument("--host-network", action="store_true")
    s.add_argument("--log-dir", default="/tmp/crius-interop-logs")
    s = sub.add_parser("run")
    for n in ("pod", "name", "image"):
        s.add_argument(n)
    s.add_argument("--log-dir", default="/tmp/crius-interop-logs")
    for f in ("--stdin", "--stdin-once", "--tty"):
        s.add_argument(f, action="store_true")
    s.add_argument("cmd", nargs="+")
    for name in ("exec-url", "attach-url"):
        s = sub.add_parser(name)
        s.add_argument("container")
        for f in ("--stdin", "--tty", "--no-stdout", "--no-stderr"):
            s.add_argument(f, action="store_true")
        if name == "exec-url":
            s.add_argument("cmd", nargs="+")
    s = sub.add_parser("portforward-url")
    s.add_argument("pod")
    s.add_argument("ports", nargs="+", type=int)
    s = sub.add_parser("execsync")
    s.add_argument("container")
    s.add_argument("--timeout", type=int, default=60)
    s.add_argument("cmd", nargs="+")
    s = sub.add_parser("rmp")
    s.add_argument("pod")
    s = sub.add_parser("bench-exec")
    s.add_argument("container")
    s.add_argument("--client", required=True)
    s.add_argument("--n", type=int, default=50)
    s.add_argument("--json", required=True)
    a = p.parse_args()
    if a.command == "image-tar":
        image_tar(a.out, a.name)
        return
    cri = Cri(a.endpoint, load_api())
    globals()["cmd_" + a.command.replace("-", "_")](cri, a)


if __name__ == "__main__":
    main()
