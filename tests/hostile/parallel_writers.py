# Four processes write at once until something stops them; then count what landed.
import os
os.makedirs("fill", exist_ok=True)
chunk = b"x" * (256 * 1024)
children = []
for w in range(4):
    pid = os.fork()
    if pid == 0:
        n = 0
        try:
            while True:
                with open(f"fill/{w}-{n}.bin", "wb") as f:
                    for _ in range(8):
                        f.write(chunk)
                n += 1
        except OSError:
            pass
        os._exit(0)
    children.append(pid)
for pid in children:
    os.waitpid(pid, 0)
used = sum(os.stat(os.path.join("fill", name)).st_blocks * 512 for name in os.listdir("fill"))
print('METRICS: {"used_bytes": %d, "files": %d}' % (used, len(os.listdir("fill"))))
