#!/usr/bin/python3
"""bench_sweep - Workbench's TPE sampler (lib/tune/wb_sweep) beside Optuna's TPE

    /usr/bin/python3 tests/bench/bench_sweep.py --workbench build/workbench [--markdown OUT.md]

Both minimise Branin (2-D, minimum 0.397887) and Hartmann-6 (6-D, minimum
-3.32237) over uniform boxes:

  1. Workbench: tests/bench/sweep_driver.c, built against the
     libworkbench.a beside the workbench binary, runs wb_sampler_new
     ("bayesian", seed) and wb_sampler_next with the growing history, one
     seed after another; it times wb_sampler_next alone (building the
     history JSON and the objective are not timed).
  2. Optuna (python3-optuna from Debian): TPESampler(seed) with its
     defaults (10 random start-up trials, as ours), in-memory storage; its
     time per trial is study.ask() plus the suggest_float() calls, where
     its independent sampler does the work (tell() is not timed).

Quality: --trials trials (100) for --seeds seeds (10) each; the row is the
median over seeds of the simple regret (best value found - the known
minimum; lower is better). Target: ours at least as good as Optuna's.
A real training sweep the same way: 40 trials per seed of an MLP on the
digits (tests/data/digits.csv; 10 epochs, 20% held out, one thread)
over learning_rate, l2 and the layer width, minimising the validation log
loss; Optuna's trials are evaluated by the same C code (sweep_driver
--eval), so both optimise exactly the same function.
Speed: one seed of --timing-trials trials (1,000) on Hartmann-6; the row is
the mean sampler time per trial. Target: ≤ 1 ms and no slower than Optuna.
Early termination: 40 random trials of the MLP (learning rate from 1e-5 to
1, 30 epochs each) are trained once with their validation accuracy
recorded after every epoch; then the sweep is replayed in epoch time, 4
trials at once, for each policy, every running trial judged after every
epoch by wb_policy_stop as the sweep controller does. Three such sweeps
(seeds 1-3); the row is the mean share of the epochs saved, and whether
the best trial (best final accuracy among trials that ran to the end) is
the one without a policy in all three. Target: ≥ 40% saved, same best.

bench_sweep() returns rows in tests/bench/bench.py's row() format to wire
into `make bench`. Exits 0 when everything ran, whatever the figures.
"""

import argparse
import json
import math
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench import STORE_PKGS, fmt_time, row  # the one table format of make bench

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent

MINIMA = {"branin": 0.397887357729739, "hartmann6": -3.32236801141551}


#  ---- The table (as tests/bench/bench.py) ----

def fmt_regret(r):
    return f"{r:.4g}"


HEAD = ["metric", "workbench", "optuna", "ratio", "target", "result"]


def text_table(rows):
    widths = [max(len(str(r[i])) for r in [HEAD] + rows) for i in range(len(HEAD))]
    lines = ["  ".join(str(c).ljust(w) for c, w in zip(r, widths)).rstrip()
             for r in [HEAD] + rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def markdown_table(rows, note):
    lines = ["| " + " | ".join(HEAD) + " |", "|" + "|".join(" --- " for _ in HEAD) + "|"]
    lines += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return "\n".join(lines) + "\n\n" + note + "\n"


#  ---- The functions, as in sweep_driver.c ----

def branin(x1, x2):
    b, c, t = 5.1 / (4 * math.pi ** 2), 5 / math.pi, 1 / (8 * math.pi)
    return (x2 - b * x1 * x1 + c * x1 - 6) ** 2 + 10 * (1 - t) * math.cos(x1) + 10


HARTMANN_ALPHA = [1.0, 1.2, 3.0, 3.2]
HARTMANN_A = [[10, 3, 17, 3.5, 1.7, 8], [0.05, 10, 17, 0.1, 8, 14],
              [3, 3.5, 1.7, 10, 17, 8], [17, 8, 0.05, 10, 0.1, 14]]
HARTMANN_P = [[0.1312, 0.1696, 0.5569, 0.0124, 0.8283, 0.5886],
              [0.2329, 0.4135, 0.8307, 0.3736, 0.1004, 0.9991],
              [0.2348, 0.1451, 0.3522, 0.2883, 0.3047, 0.6650],
              [0.4047, 0.8828, 0.8732, 0.5743, 0.1091, 0.0381]]


def hartmann6(x):
    return -sum(alpha * math.exp(-sum(a * (xj - p) ** 2 for a, xj, p in zip(arow, x, prow)))
                for alpha, arow, prow in zip(HARTMANN_ALPHA, HARTMANN_A, HARTMANN_P))


#  ---- Workbench ----

def build_driver(scratch, workbench):
    """Compile sweep_driver.c against the libworkbench.a beside the binary."""
    lib = Path(workbench).parent / "libworkbench.a"
    if not lib.is_file():
        raise RuntimeError(f"{lib} is missing: run make first")
    flags = subprocess.run(["pkg-config", "--cflags", "--libs", *STORE_PKGS],
                           capture_output=True, text=True, check=True).stdout.split()
    sanitize = []
    if lib.parent.name.startswith("build-"):
        sanitize = [f"-fsanitize={lib.parent.name[len('build-'):]}"]
    exe = scratch / "sweep_driver"
    subprocess.run(["cc", "-O2", "-D_GNU_SOURCE", *sanitize, "-I", str(ROOT / "lib"),
                    "-o", str(exe), str(HERE / "sweep_driver.c"), str(lib), *flags,
                    "-lm", "-lpthread", "-ldl"], check=True)
    return exe


DIGITS = ["--data", str(ROOT / "tests" / "data" / "digits.csv"), "--target", "digit"]


def run_ours(exe, fn, trials, seeds):
    extra = DIGITS if fn == "mlp" else []
    out = subprocess.run([str(exe), "--fn", fn, "--trials", str(trials), "--seed", "0",
                          "--seeds", str(seeds), *extra], capture_output=True, text=True,
                         timeout=3600)
    if out.returncode != 0:
        raise RuntimeError(f"sweep_driver {fn} failed: {out.stderr.strip()}")
    return [json.loads(line) for line in out.stdout.splitlines()]


def run_replay(exe, policies, seed, trials=40, parallel=4, epochs=30):
    out = subprocess.run([str(exe), "--fn", "mlp", *DIGITS, "--trials", str(trials),
                          "--seed", str(seed), "--parallel", str(parallel), "--epochs",
                          str(epochs), "--replay", *policies],
                         capture_output=True, text=True, timeout=3600)
    if out.returncode != 0:
        raise RuntimeError(f"sweep_driver --replay failed: {out.stderr.strip()}")
    return [json.loads(line) for line in out.stdout.splitlines()]


#  ---- Optuna ----

def run_optuna_mlp(exe, trials, seed):
    """Optuna's TPE over the MLP, each trial evaluated by sweep_driver --eval."""
    import optuna
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    evaluator = subprocess.Popen([str(exe), "--fn", "mlp", *DIGITS, "--eval"],
                                 stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        study = optuna.create_study(sampler=optuna.samplers.TPESampler(seed=seed))
        best = math.inf
        for _ in range(trials):
            trial = study.ask()
            params = {"learning_rate": trial.suggest_float("learning_rate", 1e-4, 0.3, log=True),
                      "l2": trial.suggest_float("l2", 1e-6, 0.1, log=True),
                      "width": trial.suggest_float("width", 8, 128, step=8)}
            evaluator.stdin.write(json.dumps(params) + "\n")
            evaluator.stdin.flush()
            value = json.loads(evaluator.stdout.readline())["value"]
            study.tell(trial, value)
            best = min(best, value)
        return {"best": best}
    finally:
        evaluator.stdin.close()
        evaluator.wait(timeout=60)


def run_optuna(fn, trials, seed):
    import optuna
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(sampler=optuna.samplers.TPESampler(seed=seed))
    best, spent = math.inf, 0.0
    for _ in range(trials):
        start = time.perf_counter()
        trial = study.ask()
        if fn == "branin":
            x = [trial.suggest_float("x1", -5, 10), trial.suggest_float("x2", 0, 15)]
            spent += time.perf_counter() - start
            value = branin(*x)
        else:
            x = [trial.suggest_float(f"x{j + 1}", 0, 1) for j in range(6)]
            spent += time.perf_counter() - start
            value = hartmann6(x)
        study.tell(trial, value)
        best = min(best, value)
    return {"best": best, "sampler_s_per_trial": spent / trials}


#  ---- The benchmark ----

def bench_sweep(workbench, trials=100, seeds=10, timing_trials=1000, say=None):
    say = say or (lambda what: None)
    rows = []
    scratch = Path(tempfile.mkdtemp(prefix="bench_sweep."))
    try:
        exe = build_driver(scratch, workbench)
        for fn, label in (("branin", "Branin (2-D)"), ("hartmann6", "Hartmann-6")):
            say(f"{label}: Workbench TPE, {seeds} seeds x {trials} trials")
            ours = run_ours(exe, fn, trials, seeds)
            say(f"{label}: Optuna TPE, {seeds} seeds x {trials} trials")
            theirs = [run_optuna(fn, trials, s) for s in range(seeds)]
            wb = statistics.median(r["best"] - MINIMA[fn] for r in ours)
            op = statistics.median(r["best"] - MINIMA[fn] for r in theirs)
            rows.append(row(f"TPE median regret, {label}, {trials} trials, "
                            f"{seeds} seeds (lower is better)", wb, op, fmt_regret,
                            "≤ Optuna", wb <= op))
            wb_t = statistics.median(r["sampler_s_per_trial"] for r in ours)
            op_t = statistics.median(r["sampler_s_per_trial"] for r in theirs)
            rows.append(row(f"sampler time per trial, {label}, {trials} trials "
                            f"(median of {seeds} seeds)", wb_t, op_t, fmt_time,
                            "≤ Optuna", wb_t <= op_t))
        say(f"MLP on the digits: Workbench TPE and Optuna TPE, {seeds} seeds x 40 trials")
        ours = run_ours(exe, "mlp", 40, seeds)
        theirs = [run_optuna_mlp(exe, 40, s) for s in range(seeds)]
        wb = statistics.median(r["best"] for r in ours)
        op = statistics.median(r["best"] for r in theirs)
        rows.append(row(f"TPE median best validation log loss, MLP on the digits, 40 trials, "
                        f"{seeds} seeds (lower is better)", wb, op, fmt_regret, "≤ Optuna", wb <= op))
        policies = ["bandit(slack_factor=0.1, delay_evaluation=5)", "median(delay_evaluation=5)",
                    "truncation(truncation_percentage=50, delay_evaluation=5)"]
        say("early termination: 3 sweeps of 40 MLP trials, replayed for each policy")
        replays = [run_replay(exe, policies, seed) for seed in (1, 2, 3)]
        for k, policy in enumerate(policies):
            saved = statistics.mean(1 - r[k + 1]["epochs"] / r[k + 1]["full"] for r in replays)
            same = all(r[k + 1]["best"] == r[0]["best"] for r in replays)
            stopped = sum(r[k + 1]["stopped"] for r in replays)
            rows.append([f"epochs saved by {policy}, 3 sweeps of 40 trials x 30 epochs, "
                         f"4 at once ({stopped} of 120 trials stopped)",
                         f"{saved:.1%} saved, best trial {'kept' if same else 'LOST'}",
                         "—", "—", "≥ 40% saved, same best", "pass" if saved >= 0.4 and same else "FAIL"])
        say(f"Hartmann-6: both, 1 seed x {timing_trials} trials")
        ours = run_ours(exe, "hartmann6", timing_trials, 1)[0]
        theirs = run_optuna("hartmann6", timing_trials, 0)
        wb_t, op_t = ours["sampler_s_per_trial"], theirs["sampler_s_per_trial"]
        rows.append(row(f"sampler time per trial, Hartmann-6, {timing_trials:,} "
                        f"trials (mean)", wb_t, op_t, fmt_time,
                        "≤ 1 ms and ≤ Optuna", wb_t <= 1e-3 and wb_t <= op_t))
        rows.append(row(f"TPE regret, Hartmann-6, {timing_trials:,} trials, seed 0",
                        ours["best"] - MINIMA["hartmann6"],
                        theirs["best"] - MINIMA["hartmann6"], fmt_regret, "—", None))
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return rows


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--workbench", default=str(ROOT / "build" / "workbench"),
                    help="the workbench binary; libworkbench.a is taken from beside it")
    ap.add_argument("--markdown", help="also write the table as Markdown here")
    ap.add_argument("--trials", type=int, default=100, help="trials per seed for quality")
    ap.add_argument("--seeds", type=int, default=10, help="seeds for quality")
    ap.add_argument("--timing-trials", type=int, default=1000,
                    help="trials of the timing run (one seed, Hartmann-6)")
    args = ap.parse_args()
    say = lambda what: print(f"bench_sweep: {what} ...", file=sys.stderr, flush=True)
    rows = bench_sweep(args.workbench, args.trials, args.seeds, args.timing_trials, say)
    print(text_table(rows))
    if args.markdown:
        Path(args.markdown).write_text(markdown_table(rows, __doc__.split("\n\n")[2]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
