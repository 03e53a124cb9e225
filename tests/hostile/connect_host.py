# Connect to a listener on the host's loopback (its port is in the file next to this script).
import socket
port = int("PORT")
s = socket.create_connection(("127.0.0.1", port), timeout=3)
s.sendall(b"stolen")
print("CONNECTED")
