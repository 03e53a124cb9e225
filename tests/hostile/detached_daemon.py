# Leave a daemon behind (double fork, new session) and exit cleanly.
import os
import time
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        while True:
            with open("/work/beat", "a") as f:
                f.write("beat\n")
            time.sleep(0.2)
    os._exit(0)
time.sleep(0.5)
print("METRICS: {\"epoch\": 0, \"loss\": 1.0}")
