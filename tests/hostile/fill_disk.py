# Write files until something stops us.
import os
os.makedirs("fill", exist_ok=True)
block = b"x" * (8 * 1024 * 1024)
i = 0
while True:
    with open(f"fill/{i}.bin", "wb") as f:
        f.write(block)
    i += 1
