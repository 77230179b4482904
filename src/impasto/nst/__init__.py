"""The paper's maths on tensors, no I/O: VGG19 layers and weights, the content and style losses
(Gram and Wasserstein), style regions, colour, and gatys.py, the 2015 method in one screen.
May import torch and nst only."""
