"""`count_collectives` counts every collective a process issues, whichever API issued it (issue 23 item 10: the
parallel benchmark's wrapper of three `torch.distributed` functions missed FSDP2's gathers, so its figures with and
without sharded weights were identical). Two gloo processes; bytes as the module defines them, computed by hand."""

from __future__ import annotations

from ltx_core.testing.collectives import collectives_case
from ltx_core.testing.distributed import run_ranks

KIB4 = 1024 * 4  # the 1024 float32 values every collective of the case sends


def test_every_api_fsdp2_and_group_sizes_are_counted() -> None:
    world = 2
    results = run_ranks(collectives_case, world, timeout=120)
    for rank, r in enumerate(results):
        counted = {k: int(v) for k, v in r.items()}
        # all_gather_into_tensor, all_gather (list) and the functional all-gather: each (N-1) x its 4 KiB
        assert counted["api.all_gather"] == 3 * (world - 1) * KIB4
        assert counted["api.all_to_all"] == KIB4 * (world - 1) // world  # all but the slice it keeps
        assert counted["api.reduce_scatter"] == KIB4 * (world - 1) // world
        assert counted["api.all_reduce"] == 2 * KIB4 * (world - 1) // world
        assert counted["api.broadcast"] == (KIB4 if rank == 0 else 0)  # only the source sends
        assert counted["api.calls"] == 7
        assert counted["alone.bytes"] == 0 and counted["alone.calls"] == 1  # a group of one: its size, not the world's
        # FSDP2 gathers each sharded Linear before it runs: (N-1) x this rank's shard of its weight and bias
        parameters = (64 * 64 + 64) + (64 * 32 + 32)
        assert counted["fsdp.calls"] == 2
        assert counted["fsdp.all_gather"] == counted["fsdp.bytes"] == parameters * 4 * (world - 1) // world
