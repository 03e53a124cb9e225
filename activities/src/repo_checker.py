# Cross-file checks of a planned repository, run by CheckCode as `python3 -I -c <this>` with
# {"files": {path: text}} on stdin. Prints a JSON array of findings {rule, severity, line,
# message, file}: a name imported from a file of the repository that the file does not define
# (`unresolved-import`), an import of a repository module that does not exist
# (`missing-module-file`). Python's own parser reads every file; nothing is imported or run.
import ast
import json
import sys

FILES = json.load(sys.stdin)["files"]
FINDINGS = []


def module_of(path):
    stem = path[:-3].replace("/", ".")
    return stem[: -len(".__init__")] if stem.endswith(".__init__") else stem


TREES = {}
for path, text in FILES.items():
    if path.endswith(".py"):
        try:
            TREES[module_of(path)] = (path, ast.parse(text))
        except SyntaxError:
            pass  # reported by the per-file check

PACKAGES = {m.rsplit(".", 1)[0] for m in TREES if "." in m}


def defined(tree):
    """Top-level names a module defines; None when it star-imports (anything may be there)."""
    names = set()
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for t in targets:
                for n in ast.walk(t):
                    if isinstance(n, ast.Name):
                        names.add(n.id)
        elif isinstance(node, ast.Import):
            names.update((a.asname or a.name).split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if any(a.name == "*" for a in node.names):
                return None
            names.update(a.asname or a.name for a in node.names)
        elif isinstance(node, (ast.If, ast.Try, ast.With)):
            # Names bound under a guard count (try: import x / except: x = None).
            for sub in ast.walk(node):
                if isinstance(sub, (ast.FunctionDef, ast.ClassDef)):
                    names.add(sub.name)
                elif isinstance(sub, ast.Name) and isinstance(sub.ctx, ast.Store):
                    names.add(sub.id)
                elif isinstance(sub, (ast.Import, ast.ImportFrom)):
                    names.update((a.asname or a.name).split(".")[0] for a in sub.names)
    return names


def resolve(current, node):
    if node.level == 0:
        return node.module or ""
    base = current.split(".")
    base = base[: len(base) - node.level]
    return ".".join(base + ([node.module] if node.module else []))


for module, (path, tree) in TREES.items():
    for node in ast.walk(tree):
        if not isinstance(node, ast.ImportFrom):
            continue
        target = resolve(module, node)
        top = target.split(".")[0]
        local = target in TREES or target in PACKAGES or node.level > 0
        if not local:
            continue
        if target not in TREES:
            if target in PACKAGES:
                continue  # a namespace package: its submodules are imported by name
            FINDINGS.append({"rule": "missing-module-file", "severity": "error", "line": node.lineno,
                             "message": f"`{target}` is not a file of the repository", "file": path})
            continue
        names = defined(TREES[target][1])
        if names is None:
            continue
        for alias in node.names:
            sub = f"{target}.{alias.name}"
            if alias.name not in names and sub not in TREES:
                FINDINGS.append({"rule": "unresolved-import", "severity": "error", "line": node.lineno,
                                 "message": f"`{alias.name}` is imported from `{TREES[target][0]}`, which does not define it",
                                 "file": path})

print(json.dumps(FINDINGS))
