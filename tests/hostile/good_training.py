# A well-behaved training script: METRICS lines and an artifact in output/.
import json
import os

import numpy as np
import torch

# The pre-staged datasets are readable (read-only) at /datasets.
digits = np.load("/datasets/digits.npz")
print("digits", digits["data"].shape, flush=True)
torch.manual_seed(0)
x = torch.randn(256, 8)
y = (x.sum(1, keepdim=True) > 0).float()
model = torch.nn.Linear(8, 1)
opt = torch.optim.SGD(model.parameters(), lr=0.5)
for epoch in range(3):
    opt.zero_grad()
    loss = torch.nn.functional.binary_cross_entropy_with_logits(model(x), y)
    loss.backward()
    opt.step()
    print("METRICS: " + json.dumps({"epoch": epoch, "loss": round(loss.item(), 4)}), flush=True)
os.makedirs("output", exist_ok=True)
torch.save(model.state_dict(), "output/model.pt")
