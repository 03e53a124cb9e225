# Allocate until something stops us.
hog = []
while True:
    hog.append(bytearray(256 * 1024 * 1024))
