# Attacks a process inside a sandbox can make on its supervisor (PID 1),
# run by test/security/supervisor.test.ts. Each prints one JSON object with
# what it got, so the test asserts on facts, not on this script's opinion.
import ctypes
import json
import os
import signal
import socket
import struct
import subprocess
import sys
import time

ADDRESS = "\0sandfleet-supervisor"
# The execute-only copy, or under gVisor, which cannot load that one, the readable copy.
SUPERVISOR = "/.sandfleet/sandfleet-supervisor"
if os.uname().release.startswith("4.4.0"):  # gVisor's kernel says it is 4.4.0
    SUPERVISOR += "-readable"
libc = ctypes.CDLL(None, use_errno=True)


def frame(kind, channel, payload):
    return kind.encode() + struct.pack(">II", channel, len(payload)) + payload


def request(channel, body):
    return frame("o", channel, json.dumps(body).encode())


def auth(secret):
    return frame("a", 0, json.dumps({"secret": secret}).encode())


LIFETIME = request(1, {"op": "lifetime", "timeoutMs": -1, "idleTimeoutMs": -1})
ATTEMPTS = {
    "lifetime without a secret": LIFETIME,
    "lifetime after a wrong secret": auth("0" * 64) + LIFETIME,
    "lifetime after an empty secret": auth("") + LIFETIME,
    "exec after a wrong secret": auth("f" * 64) + request(1, {"op": "exec", "argv": ["true"]}),
    "file read without a secret": request(1, {"op": "read", "path": "/etc/hostname"}),
    "file write without a secret": request(1, {"op": "write", "path": "/tmp/x"}) + frame("e", 1, b""),
    "auth on another channel": frame("a", 1, b'{"secret":""}') + LIFETIME,
    "an auth frame of 2 GiB": b"a" + struct.pack(">II", 0, 1 << 31),
    "nothing at all": b"",
}


def raw_socket(payload):
    """What the supervisor sends back on a connection that starts with payload."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(ADDRESS)
    try:
        s.sendall(payload)
    except (BrokenPipeError, ConnectionResetError):
        pass  # closed while this was still sending: what it sent back, if anything, is still to read
    s.settimeout(15)
    got = b""
    try:
        while True:
            data = s.recv(65536)
            if not data:
                return {"bytes": len(got), "closed": True}
            got += data
    except socket.timeout:
        return {"bytes": len(got), "closed": False}
    except ConnectionResetError:
        return {"bytes": len(got), "closed": True}


def through_connect(payload, *options):
    """The same, through `sandfleet-supervisor connect` run inside the sandbox."""
    run = subprocess.run([SUPERVISOR, "connect", *options], input=payload, capture_output=True, timeout=30)
    return {"bytes": len(run.stdout), "exit": run.returncode}


# The host's way in from beside the sandbox (join the network namespace, take
# the reserved uid), tried from inside: it needs rights no sandbox process has.
def cgroup_word():
    """A word of this process's cgroup file, which the host's check looks for."""
    words = [w for line in open("/proc/self/cgroup").read().split("\n") for w in line.replace(":", "/").split("/")]
    return max(words, key=len) or "0"


def beside_ways(other_pid):
    as_host = ["--container", cgroup_word(), "--as", "2000000000:2000000000"]
    return {
        "beside, own namespace": ["--pid", str(os.getpid()), *as_host],
        "beside, another process's namespace": ["--pid", str(other_pid), *as_host],
    }


def clients():
    out = {}
    for name, payload in ATTEMPTS.items():
        out["socket: " + name] = raw_socket(payload)
        out["connect: " + name] = through_connect(payload)
    return out


def squat():
    """Tries to listen where the host dials (the supervisor's abstract name), to hear the secret first."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        s.bind(ADDRESS)
        s.listen(1)
        return {"listening": True}
    except OSError as error:
        return {"listening": False, "error": error.strerror}
    finally:
        s.close()


def beside():
    """Each way in from beside, with nothing sent: what `connect` said, and whether it got anywhere."""
    out = {}
    other = subprocess.Popen(["sleep", "60"])
    try:
        for way, options in beside_ways(other.pid).items():
            run = subprocess.run([SUPERVISOR, "connect", *options], input=b"", capture_output=True, timeout=30)
            out[way] = {"exit": run.returncode, "stderr": run.stderr.decode(errors="replace").strip()}
    finally:
        other.kill()
    return out


PTRACE_ATTACH, PTRACE_SEIZE, PTRACE_DETACH = 16, 0x4206, 17


def ptrace(request, pid):
    libc.ptrace.argtypes = [ctypes.c_long, ctypes.c_long, ctypes.c_void_p, ctypes.c_void_p]
    result = libc.ptrace(request, pid, None, None)
    err = ctypes.get_errno()
    if result == 0:
        libc.ptrace(PTRACE_DETACH, pid, None, None)
        return "attached"
    return os.strerror(err)


def read_proc(pid, name):
    try:
        with open("/proc/%d/%s" % (pid, name), "rb") as f:
            if name == "mem":
                f.seek(0x400000)
            f.read(64)
        return "read"
    except OSError as error:
        return os.strerror(error.errno)


def vm_read(pid):
    class iovec(ctypes.Structure):
        _fields_ = [("base", ctypes.c_void_p), ("len", ctypes.c_size_t)]

    buf = ctypes.create_string_buffer(64)
    local = iovec(ctypes.cast(buf, ctypes.c_void_p), 64)
    remote = iovec(0x400000, 64)
    libc.process_vm_readv.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_ulong, ctypes.c_void_p, ctypes.c_ulong, ctypes.c_ulong]
    n = libc.process_vm_readv(pid, ctypes.byref(local), 1, ctypes.byref(remote), 1, 0)
    return "read" if n >= 0 else os.strerror(ctypes.get_errno())


def cmdline(pid):
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            return f.read().split(b"\0")
    except OSError:
        return []


def connect_pids():
    """The host's `connect` execs: supervisor processes not started by a sandbox process."""
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit() and int(entry) != os.getpid():
            argv = cmdline(int(entry))
            if len(argv) > 1 and argv[0].startswith(SUPERVISOR.encode()) and argv[1] == b"connect":
                pids.append(int(entry))
    return pids


def trace():
    out = {}
    for label, pids in (("PID 1", [1]), ("connect", connect_pids())):
        if not pids:
            out[label] = "no such process"
        for pid in pids:
            out[label] = {
                "attach": ptrace(PTRACE_ATTACH, pid),
                "seize": ptrace(PTRACE_SEIZE, pid),
                "mem": read_proc(pid, "mem"),
                "environ": read_proc(pid, "environ"),
                "process_vm_readv": vm_read(pid),
            }
    return out


SI_QUEUE = -1


def sigqueue(pid, sig):
    """rt_sigqueueinfo with si_code SI_QUEUE: a code Go's runtime takes for its own fault."""
    info = ctypes.create_string_buffer(128)
    struct.pack_into("iii", info, 0, sig, 0, SI_QUEUE)
    struct.pack_into("ii", info, 16, os.getpid(), os.getuid())
    number = {"x86_64": 129, "aarch64": 138}[os.uname().machine]  # rt_sigqueueinfo
    return libc.syscall(number, pid, sig, info)


def thread_signal(number, *args):
    if libc.syscall(number, *args) != 0:
        raise OSError(ctypes.get_errno(), "")


def signals():
    """Every signal number to PID 1, by kill and sigqueue, and to each of its threads by tgkill and
    tkill (SIGPWR, which ends the sandbox as a kill would, left out)."""
    tgkill, tkill = {"x86_64": (234, 200), "aarch64": (131, 130)}[os.uname().machine]
    threads = [int(t) for t in os.listdir("/proc/1/task")]
    sent = []
    for sig in range(1, signal.SIGRTMAX + 1):
        if sig == signal.SIGPWR:
            continue
        ways = [("kill", lambda: os.kill(1, sig)), ("sigqueue", lambda: sigqueue(1, sig))]
        for tid in threads:
            ways.append(("tgkill %d" % tid, lambda tid=tid: thread_signal(tgkill, 1, tid, sig)))
            ways.append(("tkill %d" % tid, lambda tid=tid: thread_signal(tkill, tid, sig)))
        for how, send in ways:
            try:
                send()
                sent.append("%s %d" % (how, sig))
            except OSError as error:
                sent.append("%s %d: %s" % (how, sig, os.strerror(error.errno)))
        time.sleep(0.01)
    return {"sent": len(sent), "ways": 2 + 2 * len(threads), "detail": sent}


def stop_everything():
    """SIGSTOP to every process this one can see, itself aside."""
    stopped = []
    for entry in os.listdir("/proc"):
        if entry.isdigit() and int(entry) != os.getpid():
            try:
                os.kill(int(entry), signal.SIGSTOP)
                stopped.append(int(entry))
            except OSError:
                pass
    return {"stopped": stopped, "connect": connect_pids()}


def fork_bomb():
    """Fills the pids limit and keeps it full, with children that only sleep."""
    children = 0
    while True:
        try:
            if os.fork() == 0:
                time.sleep(3600)
                os._exit(0)
            children += 1
        except OSError:
            if children > 0 and not os.path.exists("/tmp/bomb-full"):
                open("/tmp/bomb-full", "w").write(str(children))
            time.sleep(0.05)


def leave_exec():
    """Every way to end or stop the supervisor that its guard does not cover (a CPU limit, a
    file's signal, a pidfd), then a sleeper that leaves the exec's session, group, environment and
    parents (setsid, setpgid, a double fork, env -i, its parents killed). Prints what each try got,
    the process groups, and the sleeper's pid, and keeps the exec running."""
    import fcntl
    import resource

    tgkill = {"x86_64": 234, "aarch64": 131}[os.uname().machine]
    tries = {}

    def attempt(name, send):
        try:
            if send() == -1:
                raise OSError(ctypes.get_errno(), "")
            tries[name] = "sent"
        except OSError as error:
            tries[name] = os.strerror(error.errno)

    for sig in (signal.SIGKILL, signal.SIGSTOP):
        attempt("kill %d" % sig, lambda: os.kill(1, sig))
        attempt("sigqueue %d" % sig, lambda: sigqueue(1, sig))
        attempt("tgkill %d" % sig, lambda: thread_signal(tgkill, 1, 1, sig))
        proc_dir = os.open("/proc/1", os.O_RDONLY | os.O_DIRECTORY)
        attempt("pidfd_send_signal %d" % sig, lambda: signal.pidfd_send_signal(proc_dir, sig))
    attempt("pidfd_open", lambda: os.pidfd_open(1))
    # A CPU limit below what it used ends a process with SIGKILL, even PID 1.
    attempt("prlimit", lambda: resource.prlimit(1, resource.RLIMIT_CPU, (1, 1)))
    reader, writer = os.pipe()
    attempt("fcntl F_SETSIG 9", lambda: fcntl.fcntl(reader, 10, signal.SIGKILL))  # 10: F_SETSIG
    # The sleeper: a new session and group asked for every way, a double fork, an empty
    # environment, and the processes between it and the exec killed.
    script = (
        "import os, signal, sys, time\n"
        "if os.fork(): time.sleep(1000)\n"
        "os.setsid()\n"
        "pid = os.fork()\n"
        "if pid:\n"
        "    os.setpgid(pid, pid)\n"
        "    print(pid, flush=True)\n"
        "    os.kill(os.getppid(), signal.SIGKILL)\n"
        "    os._exit(0)\n"
        "os.setpgid(0, 0)\n"
        "os.execve('/bin/sleep', ['sleep', '1000'], {})\n"
    )
    child = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    sleeper = int(child.stdout.readline())
    sessions = {"exec": os.getsid(0), "sleeper": os.getsid(sleeper)}
    print(json.dumps({"tries": tries, "sessions": sessions, "sleeper": sleeper}), flush=True)
    time.sleep(1000)


if __name__ == "__main__":
    attack = {
        "clients": clients,
        "beside": beside,
        "squat": squat,
        "trace": trace,
        "signals": signals,
        "stop": stop_everything,
        "fork-bomb": fork_bomb,
        "leave-exec": leave_exec,
    }
    print(json.dumps(attack[sys.argv[1]]()))
