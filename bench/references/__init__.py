"""The implementations the compiled path is timed and validated against: the hand-fused Numba kernel
(the yardstick), NumPy by hand (the oracle of workloads A-C), PyTorch eager float64, and the Value path."""
