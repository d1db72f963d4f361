"""The lab measuring itself: server throughput, what measuring costs, and the gate's power."""
