import torch

from ltx_core.testing.host_syncs import count_host_syncs


def test_counts_each_blocking_call_and_restores_torch() -> None:
    x = torch.ones(3)
    with count_host_syncs() as syncs:
        x.item() if x.numel() == 1 else x[0].item()
        x.tolist()
        bool(x[0] > 0)
        float(x[1])
        torch.tensor([1.0, 2.0])
        y = x * 2 + 1  # pure tensor math is not counted
    assert dict(syncs.counts) == {"item": 1, "tolist": 1, "__bool__": 1, "__float__": 1, "torch.tensor": 1}
    assert syncs.total == 5
    assert "test_host_syncs.py" in str(syncs)
    assert y.sum().item() == 9.0  # outside the block: nothing is patched any more
    assert torch.Tensor.item.__name__ == "item" and torch.tensor.__name__ == "tensor"


def test_pure_tensor_math_has_none() -> None:
    x = torch.randn(4, 4)
    with count_host_syncs() as syncs:
        (x @ x).softmax(-1).where(x > 0, x)
    assert syncs.total == 0 and str(syncs) == "no host syncs"
