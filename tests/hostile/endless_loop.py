# Never finish.
while True:
    pass
