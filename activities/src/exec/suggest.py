"""SuggestTrials' optimiser: Optuna's TPE sampler, rebuilt from the trials so far on every call.

Reads one JSON object on stdin:
  {"config_yaml": "...", "direction": "maximize", "seed": 7, "first_number": 3, "count": 2,
   "trials": [{"number": 1, "hyperparameters": {...}, "state": "complete", "value": 0.91}, ...]}
and prints {"space": [...], "suggestions": [{...}, ...]} on stdout. No state is kept between
calls: the study is replayed from `trials` (finished ones told with their value or as failed,
running ones as running, so the sampler's constant liar keeps parallel suggestions apart), and
the sampler's seed is the search's seed mixed with the first trial's number, so the same call
gives the same suggestions. Exit 2 with a message on stderr when the search space is invalid.
"""

import json
import math
import re
import sys

MAX_PARAMS = 32
MAX_CHOICES = 100
NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")


def fail(message):
    print(message, file=sys.stderr)
    sys.exit(2)


def parse_space(config_yaml):
    import optuna.distributions as d
    import yaml

    try:
        config = yaml.safe_load(config_yaml) if config_yaml else {}
    except Exception as e:
        fail(f"config.yaml does not parse as YAML: {e}")
    config = config or {}
    if not isinstance(config, dict):
        fail("config.yaml must be a mapping")
    space = config.get("search_space") or []
    if not isinstance(space, list):
        fail("config.yaml's search_space must be a list of {name, type, ...}")
    if len(space) > MAX_PARAMS:
        fail(f"config.yaml's search_space has {len(space)} entries; at most {MAX_PARAMS}")
    dists, described = {}, []
    for i, p in enumerate(space):
        where = f"search_space[{i}]"
        if not isinstance(p, dict):
            fail(f"{where} must be a mapping")
        name, kind = p.get("name"), p.get("type")
        if not isinstance(name, str) or not NAME.match(name):
            fail(f"{where}.name must be a Python identifier; got {name!r:.60}")
        if name in dists:
            fail(f"{where}: {name} appears twice")
        where = f"search_space[{i}] ({name})"
        log = bool(p.get("log", False))
        if kind in ("float", "int"):
            low, high = p.get("low"), p.get("high")
            num = (int, float)
            if not isinstance(low, num) or not isinstance(high, num) or isinstance(low, bool):
                fail(f"{where}: low and high must be numbers")
            if not (math.isfinite(low) and math.isfinite(high)) or not low < high:
                fail(f"{where}: low must be below high (finite)")
            if log and low <= 0:
                fail(f"{where}: a log scale needs low > 0")
            if kind == "int":
                if int(low) != low or int(high) != high:
                    fail(f"{where}: an int range needs whole low and high")
                dists[name] = d.IntDistribution(int(low), int(high), log=log)
            else:
                dists[name] = d.FloatDistribution(float(low), float(high), log=log)
            described.append({"name": name, "type": kind, "low": low, "high": high, "log": log})
        elif kind == "categorical":
            choices = p.get("choices")
            if not isinstance(choices, list) or not 0 < len(choices) <= MAX_CHOICES:
                fail(f"{where}: choices must be a list of 1 to {MAX_CHOICES} values")
            if not all(c is None or isinstance(c, (str, int, float, bool)) for c in choices):
                fail(f"{where}: choices must be strings, numbers or booleans")
            dists[name] = d.CategoricalDistribution(choices)
            described.append({"name": name, "type": kind, "choices": choices})
        else:
            fail(f"{where}: type must be float, int or categorical; got {kind!r:.40}")
    return dists, described


def main():
    request = json.load(sys.stdin)
    import optuna

    optuna.logging.set_verbosity(optuna.logging.ERROR)
    dists, described = parse_space(request.get("config_yaml") or "")
    direction = request.get("direction", "maximize")
    trials = request.get("trials") or []
    # The seed of this call: the search's, mixed with the number of the first trial it suggests
    # (unique per call), so that two calls over the same history never draw the same values.
    seed = (int(request.get("seed", 0)) * 1_000_003 + int(request.get("first_number", 0))) % (2**32)
    sampler = optuna.samplers.TPESampler(
        seed=seed, constant_liar=True, n_startup_trials=int(request.get("startup", 4))
    )
    study = optuna.create_study(direction=direction, sampler=sampler)
    State = optuna.trial.TrialState
    for t in trials:
        params = {}
        for name, dist in dists.items():
            value = (t.get("hyperparameters") or {}).get(name)
            if value is not None and dist._contains(dist.to_internal_repr(value)):
                params[name] = value
        used = {k: dists[k] for k in params}
        state = t.get("state")
        value = t.get("value")
        if state == "complete" and isinstance(value, (int, float)) and math.isfinite(value):
            frozen = optuna.trial.create_trial(
                params=params, distributions=used, value=float(value), state=State.COMPLETE
            )
        elif state == "running":
            frozen = optuna.trial.create_trial(params=params, distributions=used, state=State.RUNNING)
        else:
            frozen = optuna.trial.create_trial(params=params, distributions=used, state=State.FAIL)
        study.add_trial(frozen)
    suggestions = []
    for _ in range(int(request.get("count", 1))):
        trial = study.ask(dists)
        suggestions.append(dict(trial.params))
    json.dump({"space": described, "suggestions": suggestions}, sys.stdout)


if __name__ == "__main__":
    main()
