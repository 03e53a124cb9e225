# Static checks of generated PyTorch code, run by CheckCode as `python3 -I -c <this> TARGET DATASET`
# with the code on stdin. Prints a JSON array of findings {rule, severity, line, message}.
# Python's own parser (ast) does the reading; undefined names come from ruff (run separately).
# Rule ids are stable: they appear in results and in prompts to the fixing model.
import ast
import importlib.util
import json
import sys

TARGET = sys.argv[1] if len(sys.argv) > 1 else "cpu"
DATASET = sys.argv[2] if len(sys.argv) > 2 else ""
SOURCE = sys.stdin.read()
FINDINGS = []

# Third-party modules generated code may use; present on the execution hosts even when this
# checker's interpreter lacks them (torch_xla exists only on Trainium hosts).
KNOWN_MODULES = {
    "torch", "torchvision", "torchaudio", "torchtext", "torch_xla", "torch_neuronx", "numpy",
    "sklearn", "scipy", "pandas", "einops", "tqdm", "matplotlib", "PIL", "timm", "transformers",
    "datasets", "tokenizers", "safetensors", "accelerate", "neuronx_distributed", "yaml",
}

# What each catalogue dataset looks like in code.
DATASET_SIGNS = {
    "cifar10": ["CIFAR10", "cifar10", "cifar-10"],
    "cifar100": ["CIFAR100", "cifar100", "cifar-100"],
    "mnist": ["MNIST", "mnist"],
    "fashion_mnist": ["FashionMNIST", "fashion_mnist", "fashion-mnist"],
    "imdb": ["IMDB", "imdb"],
    "wikitext2": ["WikiText2", "wikitext-2", "wikitext2", "WikiText-2"],
    "synthetic": ["randn", "rand(", "randint", "synthetic", "make_classification", "load_digits"],
}


def add(rule, severity, line, message):
    FINDINGS.append({"rule": rule, "severity": severity, "line": int(line or 0), "message": message})


def dotted(node):
    """`a.b.c` for a Name/Attribute chain, else ''."""
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
        return ".".join(reversed(parts))
    return ""


def calls(tree):
    return [n for n in ast.walk(tree) if isinstance(n, ast.Call)]


def strings(tree):
    return [n for n in ast.walk(tree) if isinstance(n, ast.Constant) and isinstance(n.value, str)]


def check_syntax():
    try:
        return ast.parse(SOURCE)
    except SyntaxError as e:
        lines = SOURCE.rstrip().splitlines()
        msg = e.msg or "syntax error"
        line = e.lineno or 0
        if "was never closed" in msg or "unexpected EOF" in msg or (line >= len(lines) and "expected" in msg):
            add("truncated-code", "error", line, f"the code stops mid-statement ({msg}); it was probably cut off")
        else:
            add("syntax-error", "error", line, msg)
        return None


def check_imports(tree):
    stdlib = set(getattr(sys, "stdlib_module_names", ()))
    seen = set()
    for node in ast.walk(tree):
        names = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        for name in names:
            top = name.split(".")[0]
            if top in seen:
                continue
            seen.add(top)
            if top in stdlib or top in KNOWN_MODULES:
                continue
            try:
                found = importlib.util.find_spec(top) is not None
            except (ImportError, ValueError):
                found = False
            if not found:
                add("unknown-module", "error", node.lineno,
                    f"module `{top}` does not exist on the execution hosts; use torch / torch_xla APIs instead")


def imported_modules(tree):
    mods = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            mods.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            mods.add(node.module)
    return mods


def loops_with_backward(tree):
    """Loops whose body calls .backward(), innermost first."""
    found = []
    for loop in ast.walk(tree):
        if isinstance(loop, (ast.For, ast.While)):
            for n in ast.walk(loop):
                if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute) and n.func.attr == "backward":
                    found.append(loop)
                    break
    return found


def cuda_uses(tree):
    out = []
    for c in calls(tree):
        if isinstance(c.func, ast.Attribute) and c.func.attr == "cuda" and not dotted(c.func).startswith("torch.cuda"):
            out.append((c.lineno, "`.cuda()`"))
    for s in strings(tree):
        if s.value == "cuda" or s.value.startswith("cuda:"):
            out.append((s.lineno, f"device string {s.value!r}"))
    return out


def guarded_by_cuda_check(tree):
    return any(dotted(c.func) == "torch.cuda.is_available" for c in calls(tree))


def check_trainium(tree):
    mods = imported_modules(tree)
    if not any(m == "torch_xla" or m.startswith("torch_xla.") for m in mods):
        add("xla-import-missing", "error", 1,
            "Trainium code must import torch_xla (`import torch_xla.core.xla_model as xm`)")
    all_calls = calls(tree)
    names = [dotted(c.func) for c in all_calls]
    if not any(n.endswith("xla_device") or n == "torch_xla.device" for n in names):
        add("xla-device-missing", "error", 1, "take the device from `xm.xla_device()`")
    for c in all_calls:
        f = c.func
        if isinstance(f, ast.Attribute) and f.attr == "step" and not c.args and isinstance(f.value, ast.Name):
            if "sched" not in f.value.id.lower():
                add("xla-optimizer-step", "error", c.lineno,
                    f"use `xm.optimizer_step({f.value.id})` instead of `{f.value.id}.step()` on XLA")
        if dotted(f).endswith("rendezvous") and not c.args and not c.keywords:
            add("xla-rendezvous-tag", "error", c.lineno, "`xm.rendezvous` needs a tag string")
        if dotted(f) == "torch.device" and c.args and isinstance(c.args[0], ast.Constant) and c.args[0].value == "cpu":
            add("cpu-training-device", "error", c.lineno,
                "the training device on Trainium is `xm.xla_device()`, not the CPU")
    for loop in loops_with_backward(tree):
        body_calls = [dotted(n.func) for n in ast.walk(loop) if isinstance(n, ast.Call)]
        if not any(n.endswith("mark_step") for n in body_calls):
            add("xla-mark-step-missing", "error", loop.lineno,
                "call `xm.mark_step()` after the backward pass in the training loop, or XLA never executes the graph")
            break
    for line, what in cuda_uses(tree):
        add("cuda-on-trainium", "error", line, f"{what} on a Trainium target; use the XLA device")
    for node in ast.walk(tree):
        if isinstance(node, ast.BinOp):
            for side in (node.left, node.right):
                is_size = (isinstance(side, ast.Call) and isinstance(side.func, ast.Attribute) and side.func.attr == "size") or (
                    isinstance(side, ast.Subscript) and isinstance(side.value, ast.Attribute) and side.value.attr == "shape")
                if is_size:
                    add("xla-size-int", "warning", node.lineno,
                        "wrap XLA tensor sizes in `int()` before Python arithmetic, or each step recompiles")
                    break


def check_cuda(tree):
    if any(m == "torch_xla" or m.startswith("torch_xla.") for m in imported_modules(tree)):
        add("xla-on-cuda", "error", 1, "torch_xla is for Trainium; a CUDA target uses torch.device('cuda')")
    if cuda_uses(tree) and not guarded_by_cuda_check(tree):
        add("cuda-unguarded", "warning", cuda_uses(tree)[0][0],
            "check `torch.cuda.is_available()` before using the GPU")


def check_cpu(tree):
    if any(m == "torch_xla" or m.startswith("torch_xla.") for m in imported_modules(tree)):
        add("xla-on-cpu", "error", 1, "torch_xla is for Trainium; a CPU target uses torch.device('cpu')")
    if not guarded_by_cuda_check(tree):
        for line, what in cuda_uses(tree):
            add("cuda-on-cpu", "error", line, f"{what} on a CPU target")


def check_contract(tree):
    metrics = [s for s in strings(tree) if "METRICS:" in s.value]
    if not metrics:
        add("no-metrics-output", "error", 0,
            "print one `METRICS: {json}` line per epoch (at least epoch and loss) so training can be followed")
    for node in ast.walk(tree):
        if isinstance(node, ast.While) and isinstance(node.test, ast.Constant) and node.test.value is True:
            if not any(isinstance(n, (ast.Break, ast.Return)) for n in ast.walk(node)):
                add("unbounded-training", "error", node.lineno, "`while True` without a way out: train for a bounded number of epochs")
    training = loops_with_backward(tree)
    if training and all(isinstance(l, ast.While) for l in training):
        add("unbounded-training", "error", training[0].lineno,
            "the training loop is a `while` loop: iterate over `range(epochs)` with a small constant")
    for c in calls(tree):
        for kw in c.keywords:
            if kw.arg == "download" and isinstance(kw.value, ast.Constant) and kw.value.value is True:
                add("downloads-data", "error", c.lineno, "generated code must not download; read the pre-staged dataset cache")
    mods = imported_modules(tree)
    for m in ("requests", "urllib.request", "http.client", "socket"):
        if m in mods:
            add("network-use", "error", 1, f"`{m}`: generated code runs without network")
    if DATASET:
        signs = DATASET_SIGNS.get(DATASET, [DATASET]) + DATASET_SIGNS["synthetic"]
        code = ast.unparse(tree)  # the code without its comments
        if not any(sign in code for sign in signs):
            add("dataset-mismatch", "error", 0,
                f"the recommended dataset is `{DATASET}`; train on it (or on the synthetic fallback)")


tree = check_syntax()
if tree is not None:
    check_imports(tree)
    {"trainium": check_trainium, "cuda": check_cuda, "cpu": check_cpu}.get(TARGET, check_cpu)(tree)
    check_contract(tree)
print(json.dumps(FINDINGS))
