# Marks that it started, then runs until killed.
import time
open("output/started", "w").write("1")
while True:
    time.sleep(0.05)
