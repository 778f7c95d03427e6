"""Generation over several processes with `torch.distributed` (NCCL on GPUs, gloo on CPUs), launched by torchrun.

The model code stays single-process; the pieces here wrap it: `sequence` splits the video tokens over a process
group (Ulysses all-to-all attention, or gathered keys/values where the head count does not divide), and the
collectives in `collectives` move token shards with padding for uneven counts.
"""
