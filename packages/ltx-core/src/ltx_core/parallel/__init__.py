"""Generation over several processes with `torch.distributed` (NCCL on GPUs, gloo on CPUs), launched by torchrun.

The model code stays single-process; the pieces here wrap it: `layout` (the guidance × sequence groups of a run,
`init_layout`), `sequence` (the video tokens split over a group: Ulysses all-to-all attention, or gathered
keys/values where the head count does not divide), `guidance` (the guidance passes spread over groups), `sharding`
(FSDP2 per transformer block), `decode` (VAE tiles over the ranks), `broadcast` (one rank's tensors everywhere, and
the same-arguments check), `collectives` (token shards with padding for uneven counts) and `work_queue` (jobs
claimed from the rendezvous store).
"""

from ltx_core.parallel.layout import SINGLE_PROCESS, ParallelLayout, init_layout, launched_by_torchrun

__all__ = ["SINGLE_PROCESS", "ParallelLayout", "init_layout", "launched_by_torchrun"]
