# The evaluation venv: what benchmark tasks import, installed from what the suite declares.
#
# Run by `annapurna eval env DIR...` with the execution venv's Python:
#   python eval_env.py EVAL_VENV BASE_VENV DIR [DIR...]
# The evaluation venv is layered over the execution venv (a .pth file names the execution venv's
# site-packages by its host path, for pip here, and by its sandbox mount /opt/base-venv, for the
# tests), so torch is never installed twice. For every module a task's Python files import that is
# neither the standard library, nor a file of the task, nor importable already, the declared
# requirement of that name is installed: the task folders' requirements.txt and
# paper2code_requirements.txt, and the pip list of an environment.yml in a DIR given. Prints one
# JSON object: per module, its requirement and status (present, installed, failed, undeclared).

import ast
import json
import os
import re
import subprocess
import sys

ALIASES = {
    "cv2": "opencv-python",
    "yaml": "pyyaml",
    "sklearn": "scikit-learn",
    "PIL": "pillow",
    "skimage": "scikit-image",
    "google": "google-genai",
}


def norm(name):
    return re.sub(r"[-_.]+", "-", name).lower()


def requirement_name(line):
    """The distribution name of a requirement line; None for URLs, editables and options."""
    line = line.split("#", 1)[0].strip()
    if not line or line.startswith(("-", "git+", "http:", "https:")) or "://" in line:
        return None
    m = re.match(r"[A-Za-z0-9][A-Za-z0-9._-]*", line)
    return norm(m.group(0)) if m else None


def pip_part_of_environment_yml(path):
    """The entries of the `- pip:` list of a conda environment file (by indentation)."""
    entries, pip_indent = [], None
    with open(path, encoding="utf-8") as f:
        for raw in f:
            if not raw.strip() or raw.lstrip().startswith("#"):
                continue
            indent = len(raw) - len(raw.lstrip())
            text = raw.strip()
            if pip_indent is None:
                if re.match(r"-\s*pip\s*:\s*$", text):
                    pip_indent = indent
                continue
            if indent <= pip_indent:
                break
            if text.startswith("- "):
                entries.append(text[2:].strip())
    return entries


def task_folders(dirs):
    found = []
    for d in dirs:
        if os.path.isfile(os.path.join(d, "paper2code_test.py")) or os.path.isfile(
            os.path.join(d, "paper2code.yaml")
        ):
            found.append(d)
            continue
        for name in sorted(os.listdir(d)):
            sub = os.path.join(d, name)
            if os.path.isdir(sub) and (
                os.path.isfile(os.path.join(sub, "paper2code_test.py"))
                or os.path.isfile(os.path.join(sub, "paper2code.yaml"))
            ):
                found.append(sub)
    return found


def imports_of(folder):
    """Top-level modules imported by the folder's Python files, minus the folder's own."""
    local, modules = set(), set()
    for root, dirs, files in os.walk(folder):
        for name in dirs:
            local.add(name)
        for name in files:
            if name.endswith(".py"):
                local.add(name[:-3])
    for root, _, files in os.walk(folder):
        for name in files:
            if not name.endswith(".py"):
                continue
            try:
                tree = ast.parse(open(os.path.join(root, name), encoding="utf-8").read())
            except (SyntaxError, UnicodeDecodeError):
                continue
            for node in ast.walk(tree):
                if isinstance(node, ast.Import):
                    modules.update(a.name.split(".")[0] for a in node.names)
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    modules.add(node.module.split(".")[0])
    return {m for m in modules if m not in local and m not in sys.stdlib_module_names}


def importable(python, module):
    probe = f"import importlib.util,sys; sys.exit(0 if importlib.util.find_spec({module!r}) else 1)"
    return subprocess.run([python, "-c", probe], capture_output=True).returncode == 0


def main():
    eval_venv, base_venv, dirs = sys.argv[1], sys.argv[2], sys.argv[3:]
    python = os.path.join(eval_venv, "bin", "python")
    if not os.path.exists(python):
        subprocess.run([sys.executable, "-m", "venv", eval_venv], check=True)
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    site = os.path.join(eval_venv, "lib", version, "site-packages")
    with open(os.path.join(site, "annapurna-base-venv.pth"), "w") as f:
        f.write(os.path.join(os.path.abspath(base_venv), "lib", version, "site-packages") + "\n")
        f.write(f"/opt/base-venv/lib/{version}/site-packages\n")
    with open(os.path.join(eval_venv, "annapurna-base-venv"), "w") as f:
        f.write(os.path.abspath(base_venv) + "\n")

    declared = {}
    for d in dirs:
        yml = os.path.join(d, "environment.yml")
        if os.path.isfile(yml):
            for entry in pip_part_of_environment_yml(yml):
                name = requirement_name(entry)
                if name:
                    declared.setdefault(name, entry)
    folders = task_folders(dirs)
    for folder in folders:
        for req in ("requirements.txt", "paper2code_requirements.txt"):
            path = os.path.join(folder, req)
            if os.path.isfile(path):
                for line in open(path, encoding="utf-8"):
                    name = requirement_name(line)
                    if name:
                        declared[name] = line.split("#", 1)[0].strip()

    modules = {}
    for folder in folders:
        for module in sorted(imports_of(folder)):
            modules.setdefault(module, []).append(os.path.basename(folder.rstrip("/")))
    report = {}
    for module in sorted(modules):
        entry = {"tasks": modules[module]}
        if importable(python, module):
            entry["status"] = "present"
            report[module] = entry
            continue
        name = norm(ALIASES.get(module, module))
        requirement = declared.get(name)
        if requirement is None:
            entry["status"] = "undeclared"
            report[module] = entry
            continue
        entry["requirement"] = requirement
        pip = subprocess.run(
            [python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", requirement],
            capture_output=True,
            text=True,
        )
        if pip.returncode == 0 and importable(python, module):
            entry["status"] = "installed"
        else:
            entry["status"] = "failed"
            entry["error"] = (pip.stderr or pip.stdout).strip()[-300:]
        report[module] = entry
    print(json.dumps({"venv": os.path.abspath(eval_venv), "tasks": len(folders), "modules": report}))


if __name__ == "__main__":
    main()
