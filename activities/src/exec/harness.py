"""Annapurna's training harness: written once, run by the executor, never generated.

ExecuteCode writes this file to `.annapurna/harness.py` in the work directory, next to the
repository, with the trial's specification in `.annapurna/trial.json`, and runs it instead of the
entry point. It calls the training contract of the entry module:

    load_data(config) -> (X_train, y_train, X_val, y_val)          or
    make_loaders(config) -> (train_loader, val_loader)
    train_model(X_train, y_train, X_val, y_val, device, **hyperparams) -> (model, metrics)
    train_model(train_loader, val_loader, device, **hyperparams) -> (model, metrics)

with config.yaml's `hyperparameters` under the trial's; validates the metrics (named keys, finite
numbers); measures wall time and peak memory; counts the parameters and the storage size at 8, 16
and 32 bits; optionally quantises the model after training; checks the budget. It writes
`output/trial.json` and prints one `METRICS:` line.

Exit status: 0 ok; 1 the code raised (its traceback on stderr); 3 the contract was broken;
4 the model is over the budget.
"""

import importlib
import inspect
import io
import json
import math
import os
import resource
import sys
import time
import traceback

EXIT_CONTRACT = 3
EXIT_OVER_BUDGET = 4
REPORT = os.path.join("output", "trial.json")
MAX_LIST = 1000
# Extra metrics keys are kept smaller: the report stays far below what ExecuteCode reads back.
MAX_EXTRA_LIST = 100
MAX_EXTRA_KEYS = 20


class ContractError(Exception):
    """The repository does not honour the training contract."""


def load_config():
    if not os.path.exists("config.yaml"):
        return {}
    try:
        import yaml
    except ImportError as e:  # the execution venv brings PyYAML with Optuna
        raise ContractError(f"config.yaml cannot be read here: {e}") from None
    try:
        with open("config.yaml", encoding="utf-8") as f:
            config = yaml.safe_load(f)
    except Exception as e:
        raise ContractError(f"config.yaml does not parse as YAML: {e}") from None
    if config is None:
        return {}
    if not isinstance(config, dict):
        raise ContractError("config.yaml must be a mapping (hyperparameters, search_space, ...)")
    hp = config.get("hyperparameters")
    if hp is not None and not isinstance(hp, dict):
        raise ContractError("config.yaml's hyperparameters must be a mapping of name to value")
    return config


def finite(value, what):
    try:
        if hasattr(value, "item"):  # a tensor or a numpy scalar
            value = value.item()
        number = float(value)
    except Exception:
        raise ContractError(f"{what} is not a number: {value!r:.80}") from None
    if isinstance(value, bool) or not math.isfinite(number):
        raise ContractError(f"{what} is not a finite number: {value!r:.80}")
    return number


def number_list(value, what, required=True, keep=MAX_LIST):
    if hasattr(value, "tolist"):
        value = value.tolist()
    if not isinstance(value, (list, tuple)):
        raise ContractError(f"{what} must be a list of numbers, one per epoch")
    if required and not value:
        raise ContractError(f"{what} is empty")
    return [finite(v, f"{what}[{i}]") for i, v in enumerate(value)][-keep:]


def validate_metrics(metrics):
    if not isinstance(metrics, dict):
        raise ContractError(
            f"train_model must return (model, metrics) with metrics a dict; got {type(metrics).__name__}"
        )
    out = {}
    for key in ("train_loss", "val_loss"):
        if key not in metrics:
            raise ContractError(f"metrics has no {key!r} (a list of floats, one per epoch)")
        out[key] = number_list(metrics[key], f"metrics[{key!r}]")
    if "val_accuracy" not in metrics:
        raise ContractError("metrics has no 'val_accuracy' (a float, or a list whose last is final)")
    acc = metrics["val_accuracy"]
    if hasattr(acc, "tolist"):
        acc = acc.tolist()
    if isinstance(acc, (list, tuple)):
        out["val_accuracy"] = number_list(acc, "metrics['val_accuracy']")
    else:
        out["val_accuracy"] = finite(acc, "metrics['val_accuracy']")
    # Extra keys: numbers and lists of numbers are kept (the search may optimise them), the rest
    # is left out of the report.
    for key, value in list(metrics.items())[: MAX_EXTRA_KEYS + 3]:
        if key in out or not isinstance(key, str) or len(key) > 64:
            continue
        try:
            if isinstance(value, (list, tuple)) or hasattr(value, "tolist"):
                out[key] = number_list(value, f"metrics[{key!r}]", False, MAX_EXTRA_LIST)
            else:
                out[key] = finite(value, f"metrics[{key!r}]")
        except ContractError:
            pass
    return out


def pick_device(torch):
    target = os.environ.get("ANNAPURNA_TARGET", "cpu")
    if target == "cuda" and torch.cuda.is_available():
        return torch.device("cuda")
    if target == "trainium":
        try:
            import torch_xla.core.xla_model as xm

            return xm.xla_device()
        except Exception:
            pass
    return torch.device("cpu")


def model_size(model):
    params = sum(int(p.numel()) for p in model.parameters())
    return {
        "params": params,
        "mb_8": params * 1 / 1e6,
        "mb_16": params * 2 / 1e6,
        "mb_32": params * 4 / 1e6,
    }


def quantize(torch, model, bits):
    """Post-training quantisation to `bits`: dynamic int8 of the linear and recurrent layers,
    or half precision; returns the model and its serialised size in MB."""
    import warnings

    model = model.to("cpu").eval()
    if bits == 8:
        with warnings.catch_warnings():  # torch.ao's deprecation notices, on every call
            warnings.simplefilter("ignore")
            model = torch.ao.quantization.quantize_dynamic(
                model, {torch.nn.Linear, torch.nn.LSTM, torch.nn.GRU}, dtype=torch.qint8
            )
    elif bits == 16:
        model = model.half()
    buf = io.BytesIO()
    torch.save(model.state_dict(), buf)
    return model, len(buf.getvalue()) / 1e6


def call_contract(module, config, hyperparameters, device):
    """Loads the data and trains: (model, metrics, data seconds, train seconds)."""
    train_model = getattr(module, "train_model", None)
    if not callable(train_model):
        raise ContractError("the entry module defines no train_model function")
    started = time.perf_counter()
    if callable(getattr(module, "load_data", None)):
        data = module.load_data(config)
        if not isinstance(data, (tuple, list)) or len(data) != 4:
            raise ContractError("load_data(config) must return (X_train, y_train, X_val, y_val)")
        args = tuple(data)
    elif callable(getattr(module, "make_loaders", None)):
        data = module.make_loaders(config)
        if not isinstance(data, (tuple, list)) or len(data) != 2:
            raise ContractError("make_loaders(config) must return (train_loader, val_loader)")
        args = tuple(data)
    else:
        raise ContractError("the entry module defines neither load_data(config) nor make_loaders(config)")
    data_seconds = time.perf_counter() - started
    try:
        inspect.signature(train_model).bind(*args, device, **hyperparameters)
    except TypeError as e:
        form = "X_train, y_train, X_val, y_val" if len(args) == 4 else "train_loader, val_loader"
        raise ContractError(
            f"train_model({form}, device, **hyperparams) cannot take these hyperparameters "
            f"{sorted(hyperparameters)}: {e}"
        ) from None
    except ValueError:
        pass  # no signature to read (a builtin): let the call say
    started = time.perf_counter()
    result = train_model(*args, device, **hyperparameters)
    train_seconds = time.perf_counter() - started
    if not isinstance(result, (tuple, list)) or len(result) != 2:
        raise ContractError("train_model must return (model, metrics)")
    return result[0], result[1], data_seconds, train_seconds


def main():
    started = time.perf_counter()
    with open(os.path.join(".annapurna", "trial.json"), encoding="utf-8") as f:
        spec = json.load(f)
    budget = spec.get("budget") or {}
    report = {"status": "ok", "hyperparameters": {}, "metrics": {}}
    code = 0
    # The repository's modules import each other from the work directory.
    sys.path.insert(0, os.getcwd())
    try:
        config = load_config()
        hyperparameters = dict(config.get("hyperparameters") or {})
        hyperparameters.update(spec.get("hyperparameters") or {})
        config = dict(config, hyperparameters=hyperparameters)
        report["hyperparameters"] = hyperparameters
        import torch

        torch.manual_seed(int(spec.get("seed", 0)))
        entry = spec["entry"]
        module = importlib.import_module(entry[: -len(".py")].replace("/", "."))
        device = pick_device(torch)
        model, metrics, data_seconds, train_seconds = call_contract(
            module, config, hyperparameters, device
        )
        report["data_seconds"] = data_seconds
        report["train_seconds"] = train_seconds
        report["metrics"] = validate_metrics(metrics)
        if not isinstance(model, torch.nn.Module):
            raise ContractError(
                f"train_model must return a torch.nn.Module as its model; got {type(model).__name__}"
            )
        size = model_size(model)
        report["size"] = size
        bits = int(budget.get("bits") or 32)
        if bits not in (8, 16, 32):
            raise ContractError(f"the budget's bits must be 8, 16 or 32; got {bits}")
        if budget.get("quantize") and bits < 32:
            _, stored = quantize(torch, model, bits)
            report["quantized_bits"] = bits
            report["metrics"]["quantized_state_mb"] = stored
        over = []
        if budget.get("max_params") is not None and size["params"] > budget["max_params"]:
            over.append(f"{size['params']} parameters > max_params {budget['max_params']}")
        mb = size[f"mb_{bits}"]
        if budget.get("max_model_mb") is not None and mb > budget["max_model_mb"]:
            over.append(f"{mb:.3f} MB at {bits} bits > max_model_mb {budget['max_model_mb']}")
        if over:
            report["status"] = "over-budget"
            report["error"] = "the model is over the budget: " + "; ".join(over)
            code = EXIT_OVER_BUDGET
    except ContractError as e:
        report["status"] = "contract"
        report["error"] = str(e)
        code = EXIT_CONTRACT
        print(f"training contract: {e}", file=sys.stderr)
    except BaseException as e:
        report["status"] = "error"
        report["error"] = f"{type(e).__name__}: {e}"[:2000]
        traceback.print_exc()
        code = 1
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    report["peak_memory_mb"] = rss / 1024
    try:
        import torch

        if torch.cuda.is_available() and torch.cuda.max_memory_allocated() > 0:
            report["peak_device_memory_mb"] = torch.cuda.max_memory_allocated() / 2**20
    except Exception:
        pass
    report["wall_seconds"] = time.perf_counter() - started
    os.makedirs("output", exist_ok=True)
    with open(REPORT, "w", encoding="utf-8") as f:
        # config.yaml's values may be YAML types JSON lacks (dates): they are reported as text.
        json.dump(report, f, default=str)
    line = {"trial": spec.get("number", 0), "status": report["status"]}
    for key in ("train_seconds", "wall_seconds", "peak_memory_mb"):
        if key in report:
            line[key] = round(report[key], 4)
    for key, value in report["metrics"].items():
        if isinstance(value, float):
            line[key] = value
        elif value and key in ("train_loss", "val_loss", "val_accuracy"):
            line[key] = value[-1]
    if "size" in report:
        line["params"] = report["size"]["params"]
    print("METRICS: " + json.dumps(line, default=str), flush=True)
    sys.stderr.flush()
    # Whatever the code registered to run at exit does not change the report or the status.
    os._exit(code)


if __name__ == "__main__":
    main()
