# Static check of the training contract, run by `check::check_contract` as `python3 -I -c <this>`
# with {"entry": "<the entry module's code>", "entry_name": "train.py", "config": "<config.yaml>"
# or null} on stdin. Prints a JSON array of findings {rule, severity, line, message}. Rule ids are
# stable. The contract (see README "The training contract"):
#   load_data(config) -> (X_train, y_train, X_val, y_val)   or   make_loaders(config) -> (train, val)
#   train_model(X_train, y_train, X_val, y_val, device, **hp) / train_model(train, val, device, **hp)
#     -> (model, metrics) with metrics' train_loss, val_loss, val_accuracy
#   config.yaml: hyperparameters (name -> default), search_space (list of {name, type, ...})
import ast
import json
import math
import re
import sys

REQUEST = json.load(sys.stdin)
ENTRY = REQUEST.get("entry_name") or "train.py"
FINDINGS = []
NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")


def add(rule, severity, line, message, file=ENTRY):
    FINDINGS.append(
        {"rule": rule, "severity": severity, "line": int(line or 0), "message": message, "file": file}
    )


def top_level(tree):
    """Functions defined or names imported at the module's top level: name -> line."""
    found = {}
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            found[node.name] = node
        elif isinstance(node, ast.ImportFrom):
            for a in node.names:
                found[a.asname or a.name] = node
        elif isinstance(node, ast.Assign):
            for t in node.targets:
                if isinstance(t, ast.Name):
                    found[t.id] = node
    return found


def bad(where, why):
    add("contract-search-space", "error", 0, f"{where}: {why}", "config.yaml")


def check_config(text):
    """config.yaml's hyperparameters and search space; returns the names they declare."""
    names = set()
    if text is None:
        add("contract-config-missing", "error", 0,
            "the repository has no config.yaml with `hyperparameters` and `search_space`", "config.yaml")
        return names
    try:
        import yaml
    except ImportError:
        add("contract-config-unchecked", "info", 0, "PyYAML is missing here: config.yaml was not checked",
            "config.yaml")
        return names
    try:
        config = yaml.safe_load(text)
    except Exception as e:
        line = getattr(getattr(e, "problem_mark", None), "line", -1) + 1
        add("contract-config-yaml", "error", line, f"config.yaml does not parse: {e}", "config.yaml")
        return names
    config = config or {}
    if not isinstance(config, dict):
        add("contract-config-yaml", "error", 1, "config.yaml must be a mapping", "config.yaml")
        return names
    hp = config.get("hyperparameters")
    if hp is None:
        add("contract-hyperparameters", "warning", 0,
            "config.yaml has no `hyperparameters` (the defaults the paper states)", "config.yaml")
    elif not isinstance(hp, dict) or not all(isinstance(k, str) and NAME.match(k) for k in hp):
        add("contract-hyperparameters", "error", 0,
            "config.yaml's `hyperparameters` must map Python identifiers to values", "config.yaml")
    else:
        names.update(hp)
    space = config.get("search_space")
    if space is None:
        return names
    if not isinstance(space, list):
        add("contract-search-space", "error", 0, "`search_space` must be a list of {name, type, ...}",
            "config.yaml")
        return names
    if len(space) > 32:
        add("contract-search-space", "error", 0, f"`search_space` has {len(space)} entries; at most 32",
            "config.yaml")
    seen = set()
    for i, p in enumerate(space):
        where = f"search_space[{i}]"
        if not isinstance(p, dict):
            bad(where, "must be a mapping {name, type, ...}")
            continue
        name, kind = p.get("name"), p.get("type")
        if not isinstance(name, str) or not NAME.match(name):
            bad(where, f"name must be a Python identifier; got {name!r:.60}")
            continue
        if name in seen:
            bad(where, f"{name} appears twice")
        seen.add(name)
        names.add(name)
        where = f"search_space[{i}] ({name})"
        if kind in ("float", "int"):
            low, high = p.get("low"), p.get("high")
            if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (low, high)):
                bad(where, "low and high must be numbers")
            elif not (math.isfinite(low) and math.isfinite(high) and low < high):
                bad(where, "low must be below high")
            elif p.get("log") and low <= 0:
                bad(where, "a log scale needs low > 0")
            elif kind == "int" and (int(low) != low or int(high) != high):
                bad(where, "an int range needs whole low and high")
        elif kind == "categorical":
            choices = p.get("choices")
            if not isinstance(choices, list) or not 0 < len(choices) <= 100:
                bad(where, "choices must be a list of 1 to 100 values")
            elif not all(c is None or isinstance(c, (str, int, float, bool)) for c in choices):
                bad(where, "choices must be strings, numbers or booleans")
        else:
            bad(where, f"type must be float, int or categorical; got {kind!r:.40}")
    return names


def check_entry(source, declared):
    try:
        tree = ast.parse(source)
    except SyntaxError as e:
        add("contract-unparsable", "error", e.lineno or 0, f"{ENTRY} does not parse: {e.msg}")
        return
    defs = top_level(tree)
    train = defs.get("train_model")
    if train is None:
        add("contract-train-model-missing", "error", 0,
            f"{ENTRY} defines no top-level train_model(X_train, y_train, X_val, y_val, device, **hyperparams)")
    loaders = "make_loaders" in defs and "load_data" not in defs
    if "load_data" not in defs and "make_loaders" not in defs:
        add("contract-data-missing", "error", 0,
            f"{ENTRY} defines (or imports) neither load_data(config) nor make_loaders(config)")
    if not isinstance(train, (ast.FunctionDef, ast.AsyncFunctionDef)):
        return
    a = train.args
    positional = [x.arg for x in a.posonlyargs + a.args]
    want = 3 if loaders else 5
    form = ("train_loader, val_loader, device" if loaders
            else "X_train, y_train, X_val, y_val, device")
    required = len(positional) - len(a.defaults)
    if len(positional) < want and a.vararg is None:
        add("contract-signature", "error", train.lineno,
            f"train_model takes {len(positional)} positional parameters; the contract passes {want}: ({form}, **hyperparams)")
    elif required > want:
        add("contract-signature", "error", train.lineno,
            f"train_model requires {required} positional parameters; the contract passes {want} ({form}) and the hyperparameters by name")
    if a.kwarg is None:
        accepted = set(positional[want:]) | {x.arg for x in a.kwonlyargs}
        for name in sorted(declared - accepted):
            add("contract-signature", "error", train.lineno,
                f"train_model does not take the hyperparameter `{name}` that config.yaml declares; add it as a keyword parameter")
    returns = [n for n in ast.walk(train) if isinstance(n, ast.Return)]
    if not returns:
        add("contract-return", "error", train.lineno, "train_model must return (model, metrics)")
    for r in returns:
        if isinstance(r.value, ast.Tuple) and len(r.value.elts) != 2:
            add("contract-return", "error", r.lineno,
                f"train_model returns {len(r.value.elts)} values; the contract is (model, metrics)")
        elif r.value is None or (isinstance(r.value, ast.Constant)):
            add("contract-return", "error", r.lineno, "train_model must return (model, metrics)")
    keys = {n.value for n in ast.walk(tree) if isinstance(n, ast.Constant) and isinstance(n.value, str)}
    missing = [k for k in ("train_loss", "val_loss", "val_accuracy") if k not in keys]
    if missing:
        add("contract-metrics-keys", "warning", train.lineno,
            f"the metrics dict needs the keys {', '.join(missing)} (not named in {ENTRY}; fine if another module builds it)")
    guarded = any(
        isinstance(n, ast.If) and "__name__" in ast.unparse(n.test) and "__main__" in ast.unparse(n.test)
        for n in tree.body
    )
    if not guarded:
        add("contract-main-guard", "warning", 0,
            f"{ENTRY} should run by itself under `if __name__ == \"__main__\":` with config.yaml's defaults")


declared = check_config(REQUEST.get("config"))
check_entry(REQUEST.get("entry") or "", declared)
print(json.dumps(FINDINGS))
