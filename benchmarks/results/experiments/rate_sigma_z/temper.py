"""Throw-away probe: probe.py's near-field rows with each fit's temper, in-plume temper and widening (temper.jsonl)."""

import json
import sys

sys.path.insert(0, "/work/dbg/sens")
sys.path.insert(0, "/work/main/benchmarks")
from multiprocessing import Pool

import probe

orig = probe.record


def record(est, s, q_true, err):
    r = orig(est, s, q_true, err)
    r.update(
        temper=est.info_["temper"],
        temper_in_plume=est.info_["temper_in_plume"],
        widening=est.info_["region_widening"],
        n=int(sum(len(d) for d in est.sampler_.data)),
        sigma=float(est.sampler_.s0[0]),
    )
    return r


probe.record = record


def job(seed):
    return probe.near(seed, follow=True)


if __name__ == "__main__":
    seeds = [2, 12, 13, 19, 22, 23, 25, 34, 41, 49, 56, 58, 59]
    with Pool(2) as p, open("temper.jsonl", "w") as f:
        for rows in p.imap_unordered(job, seeds):
            for r in rows:
                f.write(json.dumps(r) + "\n")
                f.flush()
