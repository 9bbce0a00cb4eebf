"""slurm - a real single-node Slurm cluster in a private folder, for the tests

Starts Debian's munged, slurmctld and slurmd (packages munge and slurm-wlm)
as plain daemons, as root and without systemd, with everything they keep
in one folder: a munge key and socket of its own, a generated slurm.conf on
free ports, state, spool, logs and PID files. Nothing is shared with a
system munged or slurmd, so two clusters (two test sessions) can run side
by side. Clients need only the environment that start() returns
(SLURM_CONF; munge's socket is named in slurm.conf's AuthInfo).

    from cluster import slurm
    env = slurm.start(folder)       # waits until the node is idle
    subprocess.run(["sbatch", "--wrap", "true"], env={**os.environ, **env})
    slurm.stop(folder)              # no process of the folder is left

or from a shell (start prints `export NAME=VALUE` lines for eval):

    /usr/bin/python3 tests/cluster/slurm.py start DIR
    /usr/bin/python3 tests/cluster/slurm.py env DIR
    /usr/bin/python3 tests/cluster/slurm.py stop DIR

The cluster has two partitions: "debug" (the default, no time limit) and
"short" (MaxTime=1 minute, for time-limit tests). Finished jobs stay in
`scontrol -o show job` for an hour (MinJobAge) and are recorded for good in
FOLDER/jobcomp.txt (jobcomp/filetxt; `sacct -c` reads it). There is no
slurmdbd, so plain sacct does not work.
"""

import os
import random
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time

#   Every daemon is started with this variable naming its folder, so that
#   stop() finds the daemons and what they started (slurmstepd and the
#   jobs under it) even when a PID file is missing or stale, and kills no
#   process of another cluster or of the system.
MARKER = "WB_SLURM_FOLDER"

#   The daemons and the client commands the set-up runs; all come with
#   Debian's munge and slurm-wlm (`make deps` installs them).
TOOLS = ("munged", "munge", "slurmctld", "slurmd", "sinfo", "scontrol", "scancel")

#   A Unix socket path is at most 107 bytes; slurmd puts a socket per job
#   step in its spool folder (NODE_JOBID.STEP), so the folder must leave
#   room for that.
MAX_FOLDER = 70

START_TIMEOUT = 30.0        # seconds from the first daemon to an idle node
STOP_TIMEOUT = 15.0         # seconds a daemon has to exit before SIGKILL


class SlurmError(RuntimeError):
    """The cluster could not be started or stopped; the text says why and
    what to do."""


#  ---- The folder's layout ----

def _paths(folder):
    folder = os.path.abspath(folder)
    return {
        "folder": folder,
        "conf": os.path.join(folder, "slurm.conf"),
        "plugstack": os.path.join(folder, "plugstack.conf"),
        "jobcomp": os.path.join(folder, "jobcomp.txt"),
        "munge": os.path.join(folder, "munge"),
        "key": os.path.join(folder, "munge", "munge.key"),
        "socket": os.path.join(folder, "munge", "munge.socket"),
        "munged.pid": os.path.join(folder, "munge", "munged.pid"),
        "munged.log": os.path.join(folder, "munge", "munged.log"),
        "seed": os.path.join(folder, "munge", "munged.seed"),
        "state": os.path.join(folder, "state"),
        "spool": os.path.join(folder, "spool"),
        "log": os.path.join(folder, "log"),
        "run": os.path.join(folder, "run"),
        "slurmctld.pid": os.path.join(folder, "run", "slurmctld.pid"),
        "slurmd.pid": os.path.join(folder, "run", "slurmd.pid"),
        "slurmctld.log": os.path.join(folder, "log", "slurmctld.log"),
        "slurmd.log": os.path.join(folder, "log", "slurmd.log"),
    }


def env(folder):
    """The environment a client (sinfo, sbatch, srun, a kernel) needs to
    reach the cluster in folder."""
    paths = _paths(folder)
    if not os.path.exists(paths["conf"]):
        raise SlurmError(f"slurm: no cluster in {paths['folder']} (no slurm.conf there); "
                         f"start one with `slurm.py start {paths['folder']}`")
    return {"SLURM_CONF": paths["conf"]}


def _free_ports(count):
    """Ports nothing listens on now. They are held open together so they
    differ; a daemon that still loses the race fails to bind and says so in
    its log."""
    held = []
    try:
        for _ in range(count):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind(("127.0.0.1", 0))
            held.append(s)
        return [s.getsockname()[1] for s in held]
    finally:
        for s in held:
            s.close()


def _node_line():
    """This machine's node line as slurmd sees it (`slurmd -C`), without its
    UpTime line, and with NodeAddr so that no name lookup is needed."""
    out = _run(["slurmd", "-C"], "slurmd -C")
    line = next((l for l in out.splitlines() if l.startswith("NodeName=")), None)
    if line is None:
        raise SlurmError(f"slurm: `slurmd -C` printed no NodeName line:\n{out}")
    return line + " NodeAddr=127.0.0.1 State=UNKNOWN", line.split()[0].split("=", 1)[1]


def _write_conf(paths, node_line, ctld_port, slurmd_port):
    #  Each setting is here for a reason the tests depend on:
    #  - proctrack/linuxproc and task/none need no cgroups (containers);
    #  - sched_interval=1 brings submit-to-start from seconds to tenths;
    #  - cons_tres with CR_Core gives each job its own cores, so several
    #    jobs share the node (select/linear, the default, gives a job the
    #    whole node);
    #  - MinJobAge keeps finished jobs in `scontrol show job` for an hour,
    #    jobcomp/filetxt keeps them for good (there is no slurmdbd);
    #  - KillWait=5: a job past its time limit or canceled gets SIGKILL 5 s
    #    after SIGTERM instead of 30;
    #  - ReturnToService=2: a node that was down (slurmd restarted) comes
    #    back by itself.
    f = paths["folder"]
    conf = f"""\
# Generated by tests/cluster/slurm.py: a single-node cluster in {f}
ClusterName=wbtest
SlurmctldHost=localhost
SlurmctldPort={ctld_port}
SlurmdPort={slurmd_port}
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket={paths['socket']}
StateSaveLocation={paths['state']}
SlurmdSpoolDir={paths['spool']}
SlurmctldPidFile={paths['slurmctld.pid']}
SlurmdPidFile={paths['slurmd.pid']}
SlurmctldLogFile={paths['slurmctld.log']}
SlurmdLogFile={paths['slurmd.log']}
SlurmctldDebug=info
SlurmdDebug=info
PlugStackConfig={paths['plugstack']}
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/filetxt
JobCompLoc={paths['jobcomp']}
MpiDefault=none
SwitchType=switch/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerParameters=sched_interval=1
MinJobAge=3600
KillWait=5
InactiveLimit=0
ReturnToService=2
{node_line}
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
PartitionName=short Nodes=ALL MaxTime=1 State=UP
"""
    with open(paths["conf"], "w") as out:
        out.write(conf)
    open(paths["plugstack"], "w").close()


#  ---- Processes ----

def _run(argv, what, env_=None, timeout=20):
    try:
        done = subprocess.run(argv, env=env_, stdin=subprocess.DEVNULL,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              text=True, timeout=timeout)
    except FileNotFoundError:
        raise SlurmError(f"slurm: {argv[0]} not found; install Debian's slurm-wlm "
                         f"and munge (`make deps` does)") from None
    except subprocess.TimeoutExpired:
        raise SlurmError(f"slurm: {what} did not answer within {timeout} s") from None
    if done.returncode != 0:
        raise SlurmError(f"slurm: {what} failed (exit {done.returncode}):\n{done.stdout}")
    return done.stdout


def _spawn(argv, paths, name):
    """Start one daemon in the foreground of a session of its own (no
    terminal, no signal from the caller's ^C), its output in
    FOLDER/log/NAME.out, its PID written at once (the daemon writes the
    same one later) so that stop() knows it even if it dies early."""
    env_ = dict(os.environ)
    env_[MARKER] = paths["folder"]
    env_["SLURM_CONF"] = paths["conf"]
    out = open(os.path.join(paths["log"], name + ".out"), "ab")
    try:
        proc = subprocess.Popen(argv, env=env_, stdin=subprocess.DEVNULL, stdout=out,
                                stderr=subprocess.STDOUT, start_new_session=True,
                                cwd=paths["folder"])
    finally:
        out.close()
    with open(paths[name + ".pid"], "w") as pid_file:
        pid_file.write(f"{proc.pid}\n")
    return proc


def _stat(pid):
    """(state, ppid) of a process, or None when it is gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            text = f.read().decode(errors="replace")
    except OSError:
        return None
    fields = text[text.rfind(")") + 2:].split()
    return fields[0], int(fields[1])


def _environ(pid):
    try:
        with open(f"/proc/{pid}/environ", "rb") as f:
            return f.read().split(b"\0")
    except OSError:
        return []


def _comm(pid):
    try:
        with open(f"/proc/{pid}/comm", "rb") as f:
            return f.read().strip()
    except OSError:
        return b""


#   Processes that hold on to a cluster: slurmd starts slurmstepd with an
#   environment of its own that keeps SLURM_CONF but not the marker; srun
#   and salloc waiting for an allocation ignore SIGTERM and retry a
#   controller that is gone for ever.
HOLDERS = (b"slurmstepd", b"srun", b"salloc", b"sattach")


def processes(folder):
    """Pids of the live processes of the cluster in folder: the daemons
    (started with its marker), the HOLDERS whose SLURM_CONF is its
    slurm.conf, and all their descendants (the jobs, whatever their
    environment)."""
    paths = _paths(folder)
    marker = f"{MARKER}={paths['folder']}".encode()
    conf = f"SLURM_CONF={paths['conf']}".encode()
    parents = {}
    found = set()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        pid = int(entry)
        stat = _stat(pid)
        if stat is None or stat[0] in ("Z", "X"):
            continue
        parents[pid] = stat[1]
        environ = _environ(pid)
        if marker in environ or (conf in environ and _comm(pid) in HOLDERS):
            found.add(pid)
    grown = True
    while grown:
        grown = False
        for pid, ppid in parents.items():
            if ppid in found and pid not in found:
                found.add(pid)
                grown = True
    found.discard(os.getpid())
    return sorted(found)


def _reap(pid):
    """Collect a child that exited (a daemon this process started), so it
    does not stay a zombie."""
    if pid <= 0:
        return                      # waitpid would take any child then
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass


def _alive(pid):
    _reap(pid)
    stat = _stat(pid)
    return stat is not None and stat[0] not in ("Z", "X")


def _read_pid(path):
    try:
        with open(path) as f:
            return int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def _signal(pids, sig):
    for pid in pids:
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            pass


def _wait_gone(pids, timeout):
    deadline = time.monotonic() + timeout
    left = [p for p in pids if _alive(p)]
    while left and time.monotonic() < deadline:
        time.sleep(0.05)
        left = [p for p in left if _alive(p)]
    return left


def _tail(path, lines=20):
    try:
        with open(path, errors="replace") as f:
            text = f.read().splitlines()[-lines:]
    except OSError:
        return f"  ({path}: none)"
    return "\n".join(f"  {line}" for line in text) or f"  ({path}: empty)"


def _logs(paths, names):
    parts = []
    for name in names:
        for path in (os.path.join(paths["log"], name + ".out"),
                     paths[name + ".log"]):
            parts.append(f"--- {path}:\n{_tail(path)}")
    return "\n".join(parts)


#  ---- Start and stop ----

def start(folder, timeout=START_TIMEOUT):
    """Start a single-node cluster in folder (created if missing) and wait
    until its node is idle. Returns the clients' environment (see env()).
    On failure every process it started is stopped again and SlurmError
    says what went wrong, with the daemon's log tail."""
    paths = _paths(folder)
    if len(paths["folder"]) > MAX_FOLDER:
        raise SlurmError(f"slurm: folder {paths['folder']} is {len(paths['folder'])} "
                         f"characters long; Unix sockets in it need it at most "
                         f"{MAX_FOLDER}: use a shorter one")
    missing = [t for t in TOOLS if shutil.which(t) is None]
    if missing:
        raise SlurmError(f"slurm: {', '.join(missing)} not found on PATH; install "
                         f"Debian's slurm-wlm and munge (`make deps` does)")
    if processes(paths["folder"]):
        raise SlurmError(f"slurm: a cluster is already running in {paths['folder']}; "
                         f"stop it first (`slurm.py stop {paths['folder']}`)")
    for key in ("folder", "munge", "state", "spool", "log", "run"):
        os.makedirs(paths[key], exist_ok=True)
    #  munged wants its socket's folder searchable by all (clients of any
    #  user) but writable by no one else; its key is readable by root only
    os.chmod(paths["munge"], 0o711)
    try:
        return _start(paths, timeout)
    except BaseException:
        stop(paths["folder"])
        raise


def _start(paths, timeout):
    if not os.path.exists(paths["key"]):
        fd = os.open(paths["key"], os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as key:
            key.write(os.urandom(128))
    munged = _spawn(["munged", "--foreground", f"--socket={paths['socket']}",
                     f"--key-file={paths['key']}", f"--pid-file={paths['munged.pid']}",
                     f"--log-file={paths['munged.log']}", f"--seed-file={paths['seed']}"],
                    paths, "munged")
    _wait_munge(paths, munged, timeout)

    node_line, node = _node_line()
    ctld_port, slurmd_port = _free_ports(2)
    _write_conf(paths, node_line, ctld_port, slurmd_port)
    daemons = {
        "slurmctld": _spawn(["slurmctld", "-D", "-f", paths["conf"]], paths, "slurmctld"),
        "slurmd": _spawn(["slurmd", "-D", "-f", paths["conf"]], paths, "slurmd"),
        "munged": munged,
    }
    _wait_idle(paths, node, daemons, timeout)
    return env(paths["folder"])


def _wait_munge(paths, munged, timeout):
    deadline = time.monotonic() + timeout
    while not os.path.exists(paths["socket"]):
        if munged.poll() is not None:
            raise SlurmError(f"slurm: munged exited (status {munged.returncode}) at start\n"
                             f"{_logs(paths, ['munged'])}")
        if time.monotonic() > deadline:
            raise SlurmError(f"slurm: munged made no socket within {timeout} s\n"
                             f"{_logs(paths, ['munged'])}")
        time.sleep(0.02)
    _run(["munge", "-n", f"--socket={paths['socket']}"], "munge -n (a test credential)")


def _wait_idle(paths, node, daemons, timeout):
    client = {**os.environ, **env(paths["folder"])}
    deadline = time.monotonic() + timeout
    state = "(no answer yet)"
    while True:
        for name, proc in daemons.items():
            if proc.poll() is not None:
                raise SlurmError(f"slurm: {name} exited (status {proc.returncode}) at start\n"
                                 f"{_logs(paths, [name])}")
        done = subprocess.run(["sinfo", "-h", "-N", "-n", node, "-o", "%T"], env=client,
                              stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True, timeout=10)
        if done.returncode == 0 and done.stdout.strip():
            #  one line per partition the node is in
            state = " ".join(sorted(set(done.stdout.split())))
            if state == "idle":
                return
        elif done.stdout.strip():
            state = done.stdout.strip().splitlines()[-1]
        if time.monotonic() > deadline:
            raise SlurmError(f"slurm: node {node} not idle within {timeout} s "
                             f"(sinfo says: {state})\n"
                             f"{_logs(paths, ['slurmctld', 'slurmd'])}")
        time.sleep(0.05)


def stop(folder, timeout=STOP_TIMEOUT):
    """Stop the cluster in folder: cancel its jobs, stop slurmd, slurmctld
    and munged, then kill whatever of the folder is left (slurmstepd, jobs,
    srun and salloc still waiting on it), and wait until none of its processes remains. Safe to call on a
    folder where start failed half way, or where nothing runs. Raises
    SlurmError if a process would not go even after SIGKILL."""
    paths = _paths(folder)
    ctld = _read_pid(paths["slurmctld.pid"])
    if os.path.exists(paths["conf"]) and ctld and _alive(ctld):
        #  Jobs first, while the controller can still tell slurmstepd; a
        #  job that takes longer is killed below.
        subprocess.run(["scancel", "--full", "--quiet", "--state=RUNNING,PENDING,SUSPENDED"],
                       env={**os.environ, "SLURM_CONF": paths["conf"]},
                       stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL, timeout=10)
    #  In the reverse order of start, one at a time, each given the time to
    #  exit cleanly. Only a PID whose process bears the marker is signalled
    #  (a stale PID file may name someone else's process by now).
    marker = f"{MARKER}={paths['folder']}".encode()
    for name in ("slurmd", "slurmctld", "munged"):
        pid = _read_pid(paths[name + ".pid"])
        if pid and _alive(pid) and marker in _environ(pid):
            _signal([pid], signal.SIGTERM)
            _signal(_wait_gone([pid], timeout), signal.SIGKILL)
    #  What is left is slurmstepd and jobs; a job may fork while it is
    #  killed, so look again until nothing of the folder is found.
    deadline = time.monotonic() + timeout
    left = processes(paths["folder"])
    while left and time.monotonic() < deadline:
        _signal(left, signal.SIGKILL)
        _wait_gone(left, 1.0)
        left = processes(paths["folder"])
    if left:
        raise SlurmError(f"slurm: processes {left} of {paths['folder']} still run after SIGKILL")


#  ---- Anchor figures ----

def latency(folder, launcher="sbatch", count=10, scratch=None):
    """Seconds from submitting a one-line command to that command running,
    `count` times in a row (each after the last one's job has ended), with
    `sbatch --wrap` or `srun`: the figures Slurm itself sets for a target
    that submits through it. The command writes the wall clock to a file in
    scratch (default FOLDER/latency), which the caller's clock is compared
    with, so both run on this machine."""
    paths = _paths(folder)
    client = {**os.environ, **env(folder)}
    scratch = scratch or os.path.join(paths["folder"], "latency")
    os.makedirs(scratch, exist_ok=True)
    figures = []
    phase = random.Random(count)
    if launcher == "sbatch":
        first = _run(["sbatch", "--parsable", "-o", "/dev/null", "--wrap", "true"],
                     "sbatch (the warm-up job)", client)
        _wait_ended(client, first.strip().split(";")[0])
    for i in range(count):
        stamp = os.path.join(scratch, f"{launcher}-{i}")
        for old in (stamp, stamp + ".tmp"):
            if os.path.exists(old):
                os.remove(old)
        time.sleep(phase.random())
        line = f"date +%s.%N > {stamp}.tmp && mv {stamp}.tmp {stamp}"
        argv = (["sbatch", "--quiet", "--parsable", "-o", "/dev/null", "--wrap", line]
                if launcher == "sbatch" else ["srun", "--quiet", "sh", "-c", line])
        began = time.time()
        done = subprocess.run(argv, env=client, stdin=subprocess.DEVNULL, cwd=scratch,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              text=True, timeout=60)
        if done.returncode != 0:
            raise SlurmError(f"slurm: {launcher} failed (exit {done.returncode}):\n"
                             f"{done.stdout}")
        deadline = time.monotonic() + 60
        while not os.path.exists(stamp):
            if time.monotonic() > deadline:
                raise SlurmError(f"slurm: the command of {launcher} did not run within 60 s")
            time.sleep(0.002)
        with open(stamp) as f:
            figures.append(float(f.read()) - began)
        if launcher == "sbatch":
            _wait_ended(client, done.stdout.strip().split(";")[0])
    return figures


def _wait_ended(client, job):
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        out = subprocess.run(["squeue", "-h", "-j", job, "-o", "%T"], env=client,
                             stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                             stderr=subprocess.DEVNULL, text=True).stdout.strip()
        if not out:
            return
        time.sleep(0.02)
    raise SlurmError(f"slurm: job {job} did not end within 60 s")


#  ---- Command line ----

def main(argv):
    usage = "usage: slurm.py start|stop|env|latency DIR"
    if len(argv) != 3 or argv[1] not in ("start", "stop", "env", "latency"):
        print(usage, file=sys.stderr)
        return 2
    command, folder = argv[1], argv[2]
    try:
        if command == "start":
            began = time.monotonic()
            client = start(folder)
            print(f"slurm: cluster in {os.path.abspath(folder)} idle after "
                  f"{time.monotonic() - began:.2f} s", file=sys.stderr)
        elif command == "env":
            client = env(folder)
        elif command == "latency":
            for launcher in ("sbatch", "srun"):
                figures = sorted(latency(folder, launcher))
                print(f"{launcher}: submit to first line, median "
                      f"{statistics.median(figures) * 1000:.0f} ms of {len(figures)} "
                      f"(min {figures[0] * 1000:.0f}, max {figures[-1] * 1000:.0f})")
            return 0
        else:
            stop(folder)
            return 0
    except SlurmError as error:
        print(error, file=sys.stderr)
        return 1
    for name, value in client.items():
        print(f"export {name}={value}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
