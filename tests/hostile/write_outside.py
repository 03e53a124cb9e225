# Write where the code has no business.
import os
for path in ["/usr/lib/annapurna-was-here", "/etc/annapurna-was-here", "HOSTFILE", "/tmp/annapurna-was-here", "/opt/venv/annapurna-was-here"]:
    try:
        open(path, "w").write("pwned")
        print("WROTE", path)
    except Exception as e:
        print("DENIED", path, type(e).__name__, e)
open("/usr/lib/annapurna-was-here", "w").write("pwned")
