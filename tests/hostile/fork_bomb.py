# Fork until something stops us.
import os
import time
children = 0
while True:
    pid = os.fork()
    if pid == 0:
        time.sleep(30)
        os._exit(0)
    children += 1
